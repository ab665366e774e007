/**
 * A tensor whose values live in a GPU buffer: what a jitted call on WebGPU
 * returns. It can be passed to the next call without a copy; `await t.data()`
 * reads it back (once: the host copy is kept). Eager CPU operations need the
 * host copy and say so when it is missing.
 */
import { allocate, type DType, type TypedArray } from '../src/dtype.ts'
import { ConcreteTensor, Tensor, concrete, formatAval, sizeOf, type Aval } from '../src/tensor.ts'
import type { GpuContext } from './device.ts'
import type { BufferPool } from './pool.ts'

export interface DeviceStats {
  bytesRead: number
  submissions: number
}

export class DeviceTensor extends Tensor {
  readonly aval: Aval
  private host: ConcreteTensor | null = null
  private gone: string | null = null
  constructor(
    aval: Aval,
    private buf: GPUBuffer,
    readonly context: GpuContext,
    private readonly pool: BufferPool,
    private readonly stats: DeviceStats,
  ) {
    super()
    this.aval = aval
    registry.register(this, { pool, buffer: buf }, this)
  }

  /** The buffer, for the compiler; fails if the tensor was donated or disposed. */
  buffer(): GPUBuffer {
    if (this.gone !== null) throw new Error(`this ${formatAval(this.aval)} tensor ${this.gone}; it cannot be used again`)
    return this.buf
  }

  override async data(): Promise<TypedArray> {
    return (await this.read()).dataSync()
  }
  dataSync(): TypedArray {
    return this.toConcrete().dataSync()
  }
  override toConcrete(): ConcreteTensor {
    if (this.host !== null) return this.host
    if (this.gone !== null) throw new Error(`this ${formatAval(this.aval)} tensor ${this.gone}; read it before that`)
    throw new Error(`this ${formatAval(this.aval)} tensor lives on the GPU: read it first with \`await t.data()\`, or use it inside jit`)
  }

  /** Copies the values to the host (one submission), once. */
  async read(): Promise<ConcreteTensor> {
    if (this.host !== null) return this.host
    if (this.context.lost !== null) throw new Error(`cannot read a ${formatAval(this.aval)} tensor: ${this.context.lost}`)
    const buffer = this.buffer()
    const bytes = sizeOf(this.aval.shape) * 4
    const { device } = this.context
    const staging = device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: 0x01 | 0x08 }) // MAP_READ | COPY_DST
    const encoder = device.createCommandEncoder()
    if (bytes > 0) encoder.copyBufferToBuffer(buffer, 0, staging, 0, Math.ceil(bytes / 4) * 4)
    device.queue.submit([encoder.finish()])
    this.stats.submissions++
    this.stats.bytesRead += bytes
    await staging.mapAsync(0x0001) // READ
    const raw = staging.getMappedRange(0, bytes).slice(0)
    staging.unmap()
    staging.destroy()
    this.host = concrete(this.aval.shape, this.aval.dtype, fromDevice(this.aval.dtype, raw))
    return this.host
  }

  /** Gives the buffer back to the pool now instead of at garbage collection. */
  dispose(): void {
    this.release('was disposed')
  }
  /** Called when a jitted call takes the buffer (donation). */
  release(why: string): void {
    if (this.gone !== null) return
    this.gone = why
    registry.unregister(this)
    this.pool.release(this.buf)
  }
  override toString(): string {
    return this.host !== null ? this.host.toString() : `DeviceTensor(${formatAval(this.aval)}) on ${this.context.description}`
  }
}

/** Buffers of tensors that were garbage-collected go back to their pool. */
const registry = new FinalizationRegistry<{ pool: BufferPool; buffer: GPUBuffer }>(({ pool, buffer }) => pool.release(buffer))

/** Host values as they are stored on the device (f32, i32; bool as i32). */
export function toDevice(x: ConcreteTensor): Float32Array | Int32Array {
  const v = x.values
  switch (x.aval.dtype) {
    case 'f32': return v as Float32Array
    case 'i32': return v as Int32Array
    case 'bool': return Int32Array.from(v)
    case 'f64': throw new Error(`WebGPU has no f64: a ${formatAval(x.aval)} input must be converted to f32 first`)
    default: return x.aval.dtype satisfies never
  }
}

function fromDevice(dtype: DType, raw: ArrayBuffer): TypedArray {
  if (dtype === 'f32') return new Float32Array(raw)
  const ints = new Int32Array(raw)
  if (dtype === 'i32') return ints
  const out = allocate(dtype, ints.length)
  out.set(ints)
  return out
}
