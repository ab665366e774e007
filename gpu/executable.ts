/**
 * A compiled Program on WebGPU. One call = one command encoder, one compute
 * pass with every kernel's dispatch, one `queue.submit`. Constants are
 * uploaded once, intermediates live in planned buffers owned by the
 * executable, outputs are new device tensors, and only what the caller reads
 * with `await t.data()` comes back to the host.
 */
import type { Executable, ExecutableStats, RunOptions } from '../src/core/backend.ts'
import type { Program } from '../src/ir/program.ts'
import { formatAval, sameShape, type Tensor } from '../src/tensor.ts'
import type { GpuContext } from './device.ts'
import type { LoweredProgram } from './kernel.ts'
import { planBuffers, type BufferPlan } from './plan.ts'
import type { BufferPool } from './pool.ts'
import { DeviceTensor, toDevice, type DeviceStats } from './tensor.ts'
import type { RenderedKernel } from './wgsl/render.ts'

export interface CompiledKernel extends RenderedKernel {
  /** A readable name for errors: index and kind. */
  readonly label: string
}

/** Pipelines are cached per device by shader source: identical kernels compile once. */
const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>()

async function pipelineFor(context: GpuContext, kernel: CompiledKernel): Promise<GPUComputePipeline> {
  const { device } = context
  let cache = pipelineCache.get(device)
  if (cache === undefined) pipelineCache.set(device, (cache = new Map()))
  const key = `${kernel.entryPoint}\n${kernel.code}`
  let pipeline = cache.get(key)
  if (pipeline === undefined) {
    pipeline = (async () => {
      device.pushErrorScope('validation')
      const module = device.createShaderModule({ code: kernel.code, label: kernel.label })
      const info = await module.getCompilationInfo()
      const errors = info.messages.filter((m) => m.type === 'error')
      try {
        if (errors.length > 0)
          throw new Error(`${errors.map((m) => `line ${m.lineNum}: ${m.message}`).join('; ')}`)
        return await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: kernel.entryPoint }, label: kernel.label })
      } catch (e) {
        throw new Error(`WebGPU could not compile kernel ${kernel.label}: ${(e as Error).message}\n${kernel.code}`)
      } finally {
        const error = await device.popErrorScope()
        if (error !== null && errors.length === 0) throw new Error(`WebGPU rejected kernel ${kernel.label}: ${error.message}\n${kernel.code}`)
      }
    })()
    cache.set(key, pipeline)
    pipeline.catch(() => cache.delete(key))
  }
  return pipeline
}

export class WebGpuExecutable implements Executable {
  readonly kernels: number
  readonly plan: BufferPlan
  private readonly ready: Promise<GPUComputePipeline[]>
  private readonly consts = new Map<number, GPUBuffer>()
  private readonly temps: GPUBuffer[]
  private last: ExecutableStats = { dispatches: 0, submissions: 0, bytesRead: 0, bytesWritten: 0 }
  private readonly readback: DeviceStats = { bytesRead: 0, submissions: 0 }

  constructor(
    readonly program: Program,
    readonly lowered: LoweredProgram,
    private readonly compiled: readonly CompiledKernel[],
    private readonly context: GpuContext,
    private readonly pool: BufferPool,
  ) {
    this.kernels = compiled.length
    this.plan = planBuffers(lowered)
    this.ready = Promise.all(compiled.map((k) => pipelineFor(context, k)))
    this.ready.catch(() => undefined)
    for (const b of lowered.buffers) {
      if (b.role !== 'const') continue
      const value = program.constValues[b.index as number].toConcrete()
      const buffer = pool.acquire(b.size * 4)
      context.device.queue.writeBuffer(buffer, 0, toDevice(value))
      this.consts.set(b.id, buffer)
    }
    this.temps = this.plan.slotBytes.map((bytes) => pool.acquire(bytes))
  }

  async run(inputs: readonly Tensor[], options: RunOptions = {}): Promise<Tensor[]> {
    const pipelines = await this.ready
    const { device } = this.context
    if (this.context.lost !== null) throw new Error(`cannot run: ${this.context.lost}`)
    const { program, lowered } = this
    if (inputs.length !== program.inputs.length)
      throw new Error(`the compiled program takes ${program.inputs.length} inputs, got ${inputs.length}`)
    const bound = new Map<number, GPUBuffer>(this.consts)
    const uploads: GPUBuffer[] = []
    let bytesWritten = 0
    for (const b of lowered.buffers) {
      if (b.role !== 'input') continue
      const x = inputs[b.index as number]
      const want = program.inputs[b.index as number].aval
      if (!sameShape(x.aval.shape, want.shape) || x.aval.dtype !== want.dtype)
        throw new Error(`input ${b.index} must be ${formatAval(want)}, got ${formatAval(x.aval)}`)
      if (x instanceof DeviceTensor && x.context === this.context) bound.set(b.id, x.buffer())
      else {
        const buffer = this.pool.acquire(b.size * 4)
        const data = toDevice(x.toConcrete())
        device.queue.writeBuffer(buffer, 0, data)
        bytesWritten += data.byteLength
        uploads.push(buffer)
        bound.set(b.id, buffer)
      }
    }
    for (const [id, slot] of this.plan.slotOf) bound.set(id, this.temps[slot])
    const outputs = lowered.outputs.map((id) => {
      const buffer = this.pool.acquire(lowered.buffers[id].size * 4)
      bound.set(id, buffer)
      return buffer
    })

    const encoder = device.createCommandEncoder()
    const pass = encoder.beginComputePass()
    lowered.kernels.forEach((kernel, i) => {
      const pipeline = pipelines[i]
      // A matmul binds A, B, C, then its epilogue's inputs; other kernels their inputs, then the output.
      const order = kernel.kind === 'matmul' ? [kernel.inputs[0], kernel.inputs[1], kernel.output, ...kernel.inputs.slice(2)] : [...kernel.inputs, kernel.output]
      const entries = order.map((id, binding) => ({ binding, resource: { buffer: bound.get(id) as GPUBuffer } }))
      pass.setPipeline(pipeline)
      pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }))
      const [x, y, z] = this.compiled[i].workgroups
      pass.dispatchWorkgroups(x, y, z)
    })
    pass.end()
    device.queue.submit([encoder.finish()])
    for (const buffer of uploads) this.pool.release(buffer)
    inputs.forEach((x, i) => {
      if (options.donate?.[i] && x instanceof DeviceTensor) x.release('was donated to a jitted call')
    })
    this.readback.bytesRead = 0
    this.readback.submissions = 0
    this.last = { dispatches: lowered.kernels.length, submissions: 1, bytesRead: 0, bytesWritten }
    return outputs.map((buffer, i) => new DeviceTensor(program.outputs[i].aval, buffer, this.context, this.pool, this.readback))
  }

  stats(): ExecutableStats {
    return { ...this.last, bytesRead: this.readback.bytesRead }
  }
}
