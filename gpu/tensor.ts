/**
 * A tensor whose values live in a GPU buffer: what a jitted call on WebGPU
 * returns. It can be passed to the next call without a copy; `await t.data()`
 * reads it back (once: the host copy is kept). Eager CPU operations need the
 * host copy and say so when it is missing. If the device is lost, the values
 * are recomputed on the CPU from the tensor's lineage (lineage.ts) when read.
 */
import { allocate, type DType, type TypedArray } from '../src/dtype.ts'
import { type ConcreteTensor, Tensor, concrete, formatAval, sizeOf, type Aval } from '../src/tensor.ts'
import { type GpuContext, submit } from './device.ts'
import type { CallRecord } from './lineage.ts'
import type { BufferPool } from './pool.ts'

export interface DeviceStats {
  bytesRead: number
  submissions: number
}

/** A tensor held in a WebGPU buffer: the result of a jitted call on WebGPU, read with `await t.data()`. */
export class DeviceTensor extends Tensor {
  readonly aval: Aval
  private host: ConcreteTensor | null = null
  private gone: string | null = null
  /**
   * A copy back to the host is on its way (a checkpoint, or a small output
   * copied back with its call): settles when it lands or fails.
   */
  private arriving: Promise<void> | null = null
  constructor(
    aval: Aval,
    private buf: GPUBuffer,
    readonly context: GpuContext,
    private readonly pool: BufferPool,
    private readonly stats: DeviceStats,
    /** The call that computed this tensor and which of its outputs it is; null where no lineage is kept. */
    private origin: { readonly call: CallRecord; readonly index: number } | null = null,
  ) {
    super()
    this.aval = aval
    registry.register(this, { pool, buffer: buf }, this)
  }

  /** Calls between this tensor and host values (0 once a host copy exists or is on its way). */
  get chainDepth(): number {
    return this.host !== null || this.arriving !== null || this.origin === null ? 0 : this.origin.call.depth
  }

  /** Marks a copy back to the host as on its way; `landed` then keeps it in place of the lineage. */
  checkpointing(): { landed(values: ConcreteTensor): void; failed(): void } {
    let settle = () => {}
    const arriving = new Promise<void>((resolve) => (settle = resolve))
    this.arriving = arriving
    const done = () => {
      if (this.arriving === arriving) this.arriving = null
      settle()
    }
    return {
      landed: (values) => {
        this.keep(values)
        done()
      },
      failed: done,
    }
  }

  private keep(values: ConcreteTensor): ConcreteTensor {
    this.host = values
    this.origin = null
    return values
  }

  /** The values without the device: the host copy, or recomputed on the CPU from the lineage (donated tensors too). */
  static hostValues(x: Tensor): ConcreteTensor {
    if (!(x instanceof DeviceTensor)) return x.toConcrete()
    if (x.host !== null) return x.host
    if (x.origin === null) throw new Error('no lineage was kept for it (checkpointEvery: 0)')
    return x.keep(x.origin.call.recompute(x.origin.index, DeviceTensor.hostValues))
  }

  private recover(): ConcreteTensor {
    try {
      return DeviceTensor.hostValues(this)
    } catch (e) {
      throw new Error(
        `cannot recover a ${formatAval(this.aval)} tensor after ${this.context.lost ?? 'a device failure'}: ` +
          (e as Error).message,
      )
    }
  }

  /** The buffer, for the compiler; fails if the tensor was donated or disposed. */
  buffer(): GPUBuffer {
    if (this.gone !== null)
      throw new Error(`this ${formatAval(this.aval)} tensor ${this.gone}; it cannot be used again`)
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
    if (this.context.lost !== null) return this.recover()
    throw new Error(
      `this ${formatAval(this.aval)} tensor lives on the GPU: ` +
        'read it first with `await t.data()`, or use it inside jit',
    )
  }

  /**
   * Copies the values to the host (one submission), once, or waits for the copy already on its way; after a device
   * loss, recomputes them on the CPU.
   */
  async read(): Promise<ConcreteTensor> {
    if (this.arriving !== null) await this.arriving
    if (this.host !== null) return this.host
    const buffer = this.buffer()
    if (this.context.lost !== null) return this.recover()
    try {
      return this.keep(await this.copyToHost(buffer))
    } catch (e) {
      if (await lostSoon(this.context)) return this.recover()
      throw e
    }
  }

  private async copyToHost(buffer: GPUBuffer): Promise<ConcreteTensor> {
    const bytes = sizeOf(this.aval.shape) * 4
    const { device } = this.context
    // usage: MAP_READ | COPY_DST
    const staging = device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: 0x01 | 0x08 })
    const encoder = device.createCommandEncoder()
    if (bytes > 0) encoder.copyBufferToBuffer(buffer, 0, staging, 0, Math.ceil(bytes / 4) * 4)
    submit(this.context, [encoder.finish()])
    this.stats.submissions++
    this.stats.bytesRead += bytes
    await staging.mapAsync(0x0001) // READ
    const raw = staging.getMappedRange(0, bytes).slice(0)
    staging.unmap()
    staging.destroy()
    return concrete(this.aval.shape, this.aval.dtype, fromDevice(this.aval.dtype, raw))
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
    return this.host !== null
      ? this.host.toString()
      : `DeviceTensor(${formatAval(this.aval)}) on ${this.context.description}`
  }
}

/** Whether the device is lost, or is reported lost within a moment (a failed copy may precede the report). */
async function lostSoon(context: GpuContext): Promise<boolean> {
  if (context.lost !== null) return true
  const wait = new Promise<false>((resolve) => setTimeout(() => resolve(false), 250))
  return Promise.race([context.device.lost.then(() => true), wait])
}

/** Buffers of tensors that were garbage-collected go back to their pool. */
const registry = new FinalizationRegistry<{ pool: BufferPool; buffer: GPUBuffer }>(({ pool, buffer }) =>
  pool.release(buffer),
)

/** Host values as they are stored on the device (f32, i32; bool as i32). */
export function toDevice(x: ConcreteTensor): Float32Array | Int32Array {
  const v = x.values
  switch (x.aval.dtype) {
    case 'f32':
      return v as Float32Array
    case 'i32':
      return v as Int32Array
    case 'bool':
      return Int32Array.from(v)
    case 'f64':
      throw new Error(`WebGPU has no f64: a ${formatAval(x.aval)} input must be converted to f32 first`)
    default:
      return x.aval.dtype satisfies never
  }
}

export function fromDevice(dtype: DType, raw: ArrayBuffer): TypedArray {
  if (dtype === 'f32') return new Float32Array(raw)
  const ints = new Int32Array(raw)
  if (dtype === 'i32') return ints
  const out = allocate(dtype, ints.length)
  out.set(ints)
  return out
}
