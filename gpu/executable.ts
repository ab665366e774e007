/**
 * A compiled Program on WebGPU. One call = one command encoder, one compute
 * pass with every kernel's dispatch (a loop's body once per step), one
 * `queue.submit`. Constants and each loop's step indices are uploaded once,
 * intermediates live in planned buffers owned by the executable, outputs are
 * new device tensors, and only what the caller reads with `await t.data()`
 * comes back to the host.
 */
import { DeviceLostError, type Executable, type ExecutableStats, type RunOptions } from '../src/core/index.ts'
import type { Program } from '../src/ir/index.ts'
import { concrete, formatAval, sameShape, sizeOf, type Tensor } from '../src/tensor.ts'
import { type GpuContext, submit } from './device.ts'
import { Gates } from './gates.ts'
import { inputBindings, type LoweredProgram } from './kernel.ts'
import { bufferBinding } from './kernels/matmul.ts'
import { CHECKPOINT_EVERY, CallRecord, RecentCalls } from './lineage.ts'
import { dispatchesOf, planBuffers, type BufferPlan, type Dispatch, writtenBy } from './plan.ts'
import type { BufferPool } from './pool.ts'
import { DeviceTensor, fromDevice, toDevice, type DeviceStats } from './tensor.ts'
import { stepVectors, type RenderedKernel } from './wgsl/render.ts'

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
        if (errors.length > 0) throw new Error(`${errors.map((m) => `line ${m.lineNum}: ${m.message}`).join('; ')}`)
        return await device.createComputePipelineAsync({
          layout: 'auto',
          compute: { module, entryPoint: kernel.entryPoint },
          label: kernel.label,
        })
      } catch (e) {
        throw new Error(`WebGPU could not compile kernel ${kernel.label}: ${(e as Error).message}\n${kernel.code}`)
      } finally {
        const error = await device.popErrorScope()
        if (error !== null && errors.length === 0)
          // biome-ignore lint/correctness/noUnsafeFinally: a validation error outranks the pipeline the try returned
          throw new Error(`WebGPU rejected kernel ${kernel.label}: ${error.message}\n${kernel.code}`)
      }
    })()
    cache.set(key, pipeline)
    pipeline.catch(() => cache.delete(key))
  }
  return pipeline
}

const bufferIds = new WeakMap<GPUBuffer, number>()
let nextBufferId = 0
const bufferId = (buffer: GPUBuffer): number => {
  let id = bufferIds.get(buffer)
  if (id === undefined) bufferIds.set(buffer, (id = nextBufferId++))
  return id
}

const checkpointBytes = (results: readonly DeviceTensor[]): number =>
  results.reduce((n, t) => n + sizeOf(t.aval.shape) * 4, 0)

/** Outputs of at most this many elements (a loss, a metric) are copied back in the submission that computes them. */
const SMALL_OUTPUT = 1

/** Bytes between the dispatches' entries of the step uniform (WebGPU's largest minUniformBufferOffsetAlignment). */
const STEP_STRIDE = 256

export class WebGpuExecutable implements Executable {
  readonly kernels: number
  readonly plan: BufferPlan
  /** What one call dispatches, in order. */
  readonly dispatches: readonly Dispatch[]
  /** The step uniform: for each dispatch inside a loop, where each of its buffers starts (u32s at its entry). */
  private readonly starts: GPUBuffer | null
  /** Per dispatch: its entry in `starts` (× STEP_STRIDE bytes), or −1 outside loops. */
  private readonly entry: number[]
  private readonly ready: Promise<GPUComputePipeline[]>
  private readonly consts = new Map<number, GPUBuffer>()
  private readonly temps: GPUBuffer[]
  private last: ExecutableStats = { dispatches: 0, submissions: 0, bytesRead: 0, bytesWritten: 0, bytesCheckpointed: 0 }
  private readonly readback: DeviceStats = { bytesRead: 0, submissions: 0 }
  private readonly recent = new RecentCalls()
  /**
   * Per dispatch: its bind groups by the buffers of the call's inputs and outputs that it binds (constants,
   * temporaries and step indices are the executable's own): the pool hands the same buffers back, so a training loop
   * reuses a few.
   */
  private readonly bindGroups: Map<string, GPUBindGroup>[]
  /** Per dispatch: the logical buffers it binds that are the call's inputs or outputs. */
  private readonly perCall: number[][]
  /** The gates of control flow and their indirect arguments (gates.ts). */
  private readonly gates: Gates
  private readonly gatePipelines: Promise<Map<number, GPUComputePipeline>>
  private validated = false

  constructor(
    readonly program: Program,
    readonly lowered: LoweredProgram,
    private readonly compiled: readonly CompiledKernel[],
    private readonly context: GpuContext,
    private readonly pool: BufferPool,
    /** What one call dispatches, if the compiler has it already. */
    dispatches: readonly Dispatch[] = dispatchesOf(lowered),
  ) {
    this.kernels = compiled.length
    this.dispatches = dispatches
    this.plan = planBuffers(lowered, this.dispatches)
    const external = new Set([
      ...lowered.buffers.filter((b) => b.role === 'input').map((b) => b.id),
      ...lowered.outputs,
    ])
    this.perCall = this.dispatches.map((d) => [...d.inputs, ...writtenBy(d)].filter((id) => external.has(id)))
    this.bindGroups = this.dispatches.map(() => new Map())
    this.ready = Promise.all(compiled.map((k) => pipelineFor(context, k)))
    this.ready.catch(() => undefined)
    const gates = new Gates(context, this.dispatches, (k) => compiled[k].workgroups)
    this.gates = gates
    this.gatePipelines = (async () => {
      const out = new Map<number, GPUComputePipeline>()
      for (const [g, { kernel }] of gates.byDispatch) out.set(g, await pipelineFor(context, { ...kernel }))
      return out
    })()
    this.gatePipelines.catch(() => undefined)
    for (const b of lowered.buffers) {
      if (b.role !== 'const') continue
      const value = program.constValues[b.index as number].toConcrete()
      const buffer = pool.acquire(b.size * 4)
      context.device.queue.writeBuffer(buffer, 0, toDevice(value))
      this.consts.set(b.id, buffer)
    }
    this.temps = this.plan.slotBytes.map((bytes) => pool.acquire(bytes))
    let entries = 0
    this.entry = this.dispatches.map((d) => (d.kernel >= 0 && compiled[d.kernel].usesStep ? entries++ : -1))
    if (entries === 0) this.starts = null
    else {
      const words = new Uint32Array((entries * STEP_STRIDE) / 4)
      this.dispatches.forEach((d, i) => {
        if (this.entry[i] < 0) return
        if (d.offsets === undefined)
          throw new Error(`kernel ${compiled[d.kernel].label} reads a loop's step outside a loop`)
        words.set(d.offsets, (this.entry[i] * STEP_STRIDE) / 4)
      })
      this.starts = context.device.createBuffer({ size: words.byteLength, usage: 0x40 | 0x08 }) // UNIFORM | COPY_DST
      context.device.queue.writeBuffer(this.starts, 0, words)
    }
  }

  /** The bind group of one dispatch, from the buffers bound to the call's logical buffers. */
  private bindGroup(
    d: Dispatch,
    entry: number,
    bound: ReadonlyMap<number, GPUBuffer>,
    pipeline: GPUComputePipeline,
  ): GPUBindGroup {
    const kernel = this.lowered.kernels[d.kernel]
    // A matmul binds A, B, C, then its epilogue's inputs; other kernels their inputs, then the output; then the
    // second output if there is one, and a matmul's further outputs; in a loop, then the step. Inputs of one
    // buffer share the binding of the first (inputBindings).
    const [output, ...others] = writtenBy(d)
    const { index } = inputBindings(kernel, this.lowered.buffers)
    const inputs = d.inputs.filter((_, slot) => index[slot] >= 0)
    const order = kernel.kind === 'matmul' ? [inputs[0], inputs[1], output, ...inputs.slice(2)] : [...inputs, output]
    order.push(...others)
    // (A matmul's B bound as a uniform takes the bytes its declaration reads, not the whole pooled buffer.)
    const entries: GPUBindGroupEntry[] = order.map((id, binding) => ({
      binding,
      resource: bufferBinding(this.compiled[d.kernel], binding, bound.get(id) as GPUBuffer),
    }))
    if (entry >= 0)
      entries.push({
        binding: order.length,
        resource: { buffer: this.starts as GPUBuffer, offset: entry * STEP_STRIDE, size: 16 * stepVectors(kernel) },
      })
    return this.context.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries })
  }

  async run(inputs: readonly Tensor[], options: RunOptions = {}): Promise<Tensor[]> {
    return this.call(inputs, options, -1)
  }

  /**
   * What each kernel costs in a call, for adapters without timestamp queries (llvmpipe): calls that leave that
   * kernel's dispatches out, interleaved with whole calls, `rounds` of each; a kernel's cost is the difference of
   * their 25th percentiles, in ms. Those calls' outputs are wrong and are discarded; nothing is donated.
   */
  async kernelCosts(
    inputs: readonly Tensor[],
    rounds = 12,
  ): Promise<{ kernel: number; dispatches: number; ms: number }[]> {
    if (!Number.isInteger(rounds) || rounds < 1)
      throw new RangeError(`kernelCosts: rounds must be a whole number of at least 1, got ${rounds}`)
    const time = async (omit: number) => {
      const t0 = performance.now()
      const outs = await this.call(inputs, { checkpointEvery: 0 }, omit)
      await this.context.device.queue.onSubmittedWorkDone()
      const ms = performance.now() - t0
      for (const t of outs) (t as DeviceTensor).dispose()
      return ms
    }
    const kernels = this.lowered.kernels.map((_, k) => k)
    const whole: number[] = []
    const without = kernels.map(() => [] as number[])
    await time(-1)
    for (let r = 0; r < rounds; r++)
      for (const k of kernels) {
        whole.push(await time(-1))
        without[k].push(await time(k))
      }
    const p25 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 4)]
    return kernels.map((k) => ({
      kernel: k,
      dispatches: this.dispatches.filter((d) => d.kernel === k).length,
      ms: p25(whole) - p25(without[k]),
    }))
  }

  /** One call; the dispatches of kernel `omit` (if ≥ 0) are left out (kernelCosts). */
  private async call(inputs: readonly Tensor[], options: RunOptions, omit: number): Promise<Tensor[]> {
    const pipelines = await this.ready
    const gatePipelines = await this.gatePipelines
    // The call's submissions: those of the context from here until its commands are submitted.
    const before = this.context.submissions
    const { device } = this.context
    if (this.context.lost !== null)
      throw new DeviceLostError(
        `cannot run: ${this.context.lost}; ` +
          'the tensors it computed can still be read (`await t.data()` recomputes them on the CPU)',
      )
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

    // The first call's commands are validated (a binding the compiler got wrong would otherwise drop the whole
    // submission silently); later calls bind the same layout.
    const validate = !this.validated
    if (validate) device.pushErrorScope('validation')
    const encoder = device.createCommandEncoder()
    const pass = encoder.beginComputePass()
    const groups = this.dispatches.map((d, i) => {
      const key = this.perCall[i].map((id) => bufferId(bound.get(id) as GPUBuffer)).join(',')
      const cache = this.bindGroups[i]
      let group = cache.get(key)
      if (group === undefined) {
        if (cache.size >= 8) cache.clear()
        group =
          d.gate === undefined
            ? this.bindGroup(d, this.entry[i], bound, pipelines[d.kernel])
            : this.gates.bindGroup(
                this.context,
                i,
                d.inputs.length === 0 ? undefined : (bound.get(d.inputs[0]) as GPUBuffer),
                gatePipelines.get(i) as GPUComputePipeline,
              )
        cache.set(key, group)
      }
      return group
    })
    let current: GPUComputePipeline | undefined
    let dispatched = 0
    this.dispatches.forEach((d, i) => {
      if (omit >= 0 && d.kernel === omit) return
      dispatched++
      const pipeline = d.gate === undefined ? pipelines[d.kernel] : (gatePipelines.get(i) as GPUComputePipeline)
      if (pipeline !== current) pass.setPipeline((current = pipeline))
      pass.setBindGroup(0, groups[i])
      // A branch's dispatch runs with the counts its gate wrote: its own if the branch is taken, none otherwise.
      if (d.guard !== undefined) pass.dispatchWorkgroupsIndirect(this.gates.args as GPUBuffer, 12 * this.gates.slot[i])
      else {
        const [x, y, z] = d.gate === undefined ? this.compiled[d.kernel].workgroups : this.gates.kernel(i).workgroups
        pass.dispatchWorkgroups(x, y, z)
      }
    })
    pass.end()

    // Lineage: the outputs remember this call; once its chain is long enough they are copied back in this submission.
    const every = options.checkpointEvery ?? CHECKPOINT_EVERY
    const depth =
      1 +
      Math.max(0, ...inputs.map((x) => (x instanceof DeviceTensor && x.context === this.context ? x.chainDepth : 0)))
    const call = every > 0 ? new CallRecord(program, inputs.slice(), depth) : null
    if (call !== null) this.recent.remember(call, 4 * every)
    const results = outputs.map(
      (buffer, i) =>
        new DeviceTensor(
          program.outputs[i].aval,
          buffer,
          this.context,
          this.pool,
          this.readback,
          call && { call, index: i },
        ),
    )
    // A checkpoint copies every output back; otherwise the scalars (a loss, a metric) come back with the call, so
    // that reading them costs no submission of its own.
    const full = call !== null && depth >= every
    const back = full
      ? results.map((_, i) => i)
      : results.flatMap((t, i) => (sizeOf(t.aval.shape) <= SMALL_OUTPUT ? [i] : []))
    const copyBack =
      back.length === 0
        ? null
        : this.copyBack(
            encoder,
            back.map((i) => results[i]),
            back.map((i) => outputs[i]),
            full ? call : null,
          )

    submit(this.context, [encoder.finish()])
    copyBack?.()
    // Donated inputs are gone from here, before the first await, so that a concurrent call passing the same tensor
    // fails alike whether or not this call waits to validate (its values stay recoverable from the lineage).
    inputs.forEach((x, i) => {
      if (options.donate?.[i] && x instanceof DeviceTensor) x.release('was donated to a jitted call')
    })
    // Counted before the first await, so that a concurrent call's submissions are its own.
    const submissions = this.context.submissions - before
    if (validate) {
      const error = await device.popErrorScope()
      if (error !== null)
        throw new Error(
          `WebGPU rejected the commands of a call (${this.dispatches.length} dispatches): ${error.message}`,
        )
      this.validated = true
    }
    for (const buffer of uploads) this.pool.release(buffer)
    this.readback.bytesRead = full ? 0 : checkpointBytes(back.map((i) => results[i]))
    this.readback.submissions = 0
    this.last = {
      dispatches: dispatched,
      submissions,
      bytesRead: 0,
      bytesWritten,
      bytesCheckpointed: full ? checkpointBytes(results) : 0,
    }
    return results
  }

  /**
   * Encodes copies of outputs into one mappable buffer; the returned
   * function, called after the submission, maps it and hands each output
   * its host copy (or, if the device fails first, leaves the lineage). With
   * `call` (a checkpoint: every output), the call's record then expires.
   */
  private copyBack(
    encoder: GPUCommandEncoder,
    results: readonly DeviceTensor[],
    buffers: readonly GPUBuffer[],
    call: CallRecord | null,
  ): () => void {
    const offsets: number[] = []
    let total = 0
    for (const t of results) {
      offsets.push(total)
      total += Math.ceil((sizeOf(t.aval.shape) * 4) / 16) * 16
    }
    // usage: MAP_READ | COPY_DST
    const staging = this.context.device.createBuffer({ size: Math.max(16, total), usage: 0x01 | 0x08 })
    results.forEach((t, i) => {
      const bytes = sizeOf(t.aval.shape) * 4
      if (bytes > 0) encoder.copyBufferToBuffer(buffers[i], 0, staging, offsets[i], bytes)
    })
    const marks = results.map((t) => t.checkpointing())
    return () => {
      staging.mapAsync(0x0001).then(
        () => {
          const raw = staging.getMappedRange()
          results.forEach((t, i) => {
            const bytes = sizeOf(t.aval.shape) * 4
            marks[i].landed(
              concrete(t.aval.shape, t.aval.dtype, fromDevice(t.aval.dtype, raw.slice(offsets[i], offsets[i] + bytes))),
            )
          })
          staging.unmap()
          staging.destroy()
          call?.expire()
        },
        () => {
          for (const mark of marks) mark.failed()
          staging.destroy()
        },
      )
    }
  }

  stats(): ExecutableStats {
    return { ...this.last, bytesRead: this.readback.bytesRead }
  }
}
