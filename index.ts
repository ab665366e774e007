/// <reference path="./types/globals.d.ts" preserve="true" />
/**
 * The package entry: the library (src/) with the WebGPU backend (gpu/)
 * registered, so `jit` runs on WebGPU wherever an adapter exists and on the
 * CPU interpreter otherwise.
 */
import { registerBackend } from './src/core/index.ts'
import { webgpuBackend } from './gpu/index.ts'

export * from './src/index.ts'
export { webgpuBackend, DeviceTensor, type WebGpuBackend, type DeviceOptions } from './gpu/index.ts'

registerBackend('webgpu', () => webgpuBackend(), 10)
