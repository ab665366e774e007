/**
 * The WebGPU backend: lower a Program to kernels (lower/), render each to
 * WGSL (wgsl/render.ts), plan buffers (plan.ts) and run every call as one
 * submission (executable.ts).
 */
import type { Backend } from '../src/core/index.ts'
import type { Program } from '../src/ir/index.ts'
import { optimize } from '../src/passes/index.ts'
import { formatAval, sizeOf } from '../src/tensor.ts'
import { createContext, type DeviceOptions, type GpuContext } from './device.ts'
import { WebGpuExecutable } from './executable.ts'
import { lower } from './lower/index.ts'
import { dispatchesOf, startsFrom } from './plan.ts'
import { BufferPool } from './pool.ts'
import { renderKernel } from './wgsl/render.ts'

/** The WebGPU backend: a device context and a buffer pool, compiling Programs to WGSL kernels. */
export interface WebGpuBackend extends Backend {
  readonly context: GpuContext
  readonly pool: BufferPool
  compile(program: Program): WebGpuExecutable
}

/** A WebGPU backend on a device chosen by `options` (the default adapter when omitted). */
export async function webgpuBackend(options: DeviceOptions = {}): Promise<WebGpuBackend> {
  const context = await createContext(options)
  const pool = new BufferPool(context.device)
  const limit = context.limits.maxStorageBufferBindingSize
  return {
    name: context.description,
    software: context.software,
    context,
    pool,
    compile(program) {
      // Each step of a loop costs dispatches: what need not run step by step leaves the loop first. A long
      // contraction of few outputs becomes partial products, so that its workgroups are not too few to fill the device.
      const moved = optimize(program, { loopMotion: true, splitK: true })
      for (const v of [...moved.inputs, ...moved.constVars, ...moved.eqns.flatMap((e) => e.outputs)]) {
        const bytes = sizeOf(v.aval.shape) * 4
        if (bytes > limit)
          throw new Error(
            `a ${formatAval(v.aval)} tensor needs ${bytes} bytes, ` +
              `more than this adapter's maxStorageBufferBindingSize of ${limit} bytes`,
          )
      }
      const lowered = lower(moved, { maxBuffers: context.limits.maxStorageBuffersPerShaderStage })
      const dispatches = dispatchesOf(lowered)
      const starts = startsFrom(dispatches, lowered.kernels.length)
      const compiled = lowered.kernels.map((k, i) => ({
        ...renderKernel(k, lowered.buffers, starts[i], { uniformBytes: context.limits.maxUniformBufferBindingSize }),
        label: `#${i} (${k.kind})`,
      }))
      return new WebGpuExecutable(moved, lowered, compiled, context, pool, dispatches)
    },
  }
}

export { DeviceTensor } from './tensor.ts'
export type { WebGpuExecutable } from './executable.ts'
export { createContext, type GpuContext, type DeviceOptions } from './device.ts'
