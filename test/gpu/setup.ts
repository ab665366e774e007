/**
 * The WebGPU backend for the GPU suites. Without an adapter the suites are
 * skipped with the reason printed, except under CI, where a missing adapter
 * fails the run: a skipped GPU test must never pass for a green one.
 * ADJOINT_WEBGPU_BACKEND picks the Dawn backend (e.g. vulkan for SwiftShader).
 */
import { webgpuBackend, type WebGpuBackend } from '../../gpu/index.ts'
import { WebGpuExecutable } from '../../gpu/executable.ts'
import type { LoweredProgram } from '../../gpu/kernel.ts'
import { dispatchesOf, startsFrom } from '../../gpu/plan.ts'
import { renderKernel } from '../../gpu/wgsl/render.ts'
import type { Program } from '../../src/ir/index.ts'

export const gpu: { backend: WebGpuBackend | null; reason: string } = { backend: null, reason: '' }
try {
  gpu.backend = await webgpuBackend()
} catch (e) {
  gpu.reason = (e as Error).message
  if (process.env.CI) throw new Error(`CI needs a WebGPU adapter for the GPU tests and found none: ${gpu.reason}`)
  console.warn(`GPU tests skipped: ${gpu.reason}`)
}

/**
 * The executable of a lowered program as the suites plant bugs in it: each kernel rendered from the (edited)
 * lowering, its source passed through `patch` if given, labelled as the backend labels it.
 */
export function executableOf(
  program: Program,
  lowered: LoweredProgram,
  patch: (code: string) => string = (code) => code,
): WebGpuExecutable {
  const backend = gpu.backend as WebGpuBackend
  // (Rendered as the backend renders them: where their buffers start at each dispatch, for the device's uniforms.)
  const starts = startsFrom(dispatchesOf(lowered), lowered.kernels.length)
  const uniformBytes = backend.context.limits.maxUniformBufferBindingSize
  const compiled = lowered.kernels.map((k, i) => {
    const rendered = renderKernel(k, lowered.buffers, starts[i], { uniformBytes })
    return { ...rendered, code: patch(rendered.code), label: `#${i} (${k.kind})` }
  })
  return new WebGpuExecutable(program, lowered, compiled, backend.context, backend.pool)
}
