/**
 * The WebGPU backend for the GPU suites. Without an adapter the suites are
 * skipped with the reason printed, except under CI, where a missing adapter
 * fails the run: a skipped GPU test must never pass for a green one.
 * ADJOINT_WEBGPU_BACKEND picks the Dawn backend (e.g. vulkan for SwiftShader).
 */
import { webgpuBackend, type WebGpuBackend } from '../../gpu/index.ts'

export const gpu: { backend: WebGpuBackend | null; reason: string } = { backend: null, reason: '' }
try {
  gpu.backend = await webgpuBackend()
} catch (e) {
  gpu.reason = (e as Error).message
  if (process.env.CI) throw new Error(`CI needs a WebGPU adapter for the GPU tests and found none: ${gpu.reason}`)
  console.warn(`GPU tests skipped: ${gpu.reason}`)
}
