/**
 * Device memory. Buffers are recycled by size: a released buffer goes to a
 * free list and the next request of the same size takes it, so a training
 * loop that donates its old parameters reaches a steady state after one step.
 * `bytesInUse` is what the tests watch for leaks.
 */
// (UNIFORM too: a small operand of a product may be bound as a uniform, kernels/matmul.ts.)
export const STORAGE_USAGE = 0x80 | 0x40 | 0x04 | 0x08 // STORAGE | UNIFORM | COPY_SRC | COPY_DST

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>()
  private inUse = 0
  private allocated = 0
  constructor(private readonly device: GPUDevice) {}

  /** A storage buffer of at least `bytes` (rounded up to 16). */
  acquire(bytes: number): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16)
    const list = this.free.get(size)
    const buffer = list?.pop() ?? this.create(size)
    this.inUse += size
    return buffer
  }
  release(buffer: GPUBuffer): void {
    const size = buffer.size
    this.inUse -= size
    let list = this.free.get(size)
    if (list === undefined) this.free.set(size, (list = []))
    list.push(buffer)
  }
  private create(size: number): GPUBuffer {
    this.allocated += size
    return this.device.createBuffer({ size, usage: STORAGE_USAGE })
  }
  /** Bytes held by live tensors and executables. */
  get bytesInUse(): number {
    return this.inUse
  }
  /** Bytes ever created (in use plus free lists). */
  get bytesAllocated(): number {
    return this.allocated
  }
}
