/**
 * The platform objects that adjoint's declarations name, declared empty so
 * that the declarations compile in a project whose `lib` has no DOM and whose
 * `types` have neither `@webgpu/types` nor `@types/node`. An empty interface
 * merges with the full one wherever that is loaded, so nothing changes in a
 * project that has them; add them to use the objects themselves.
 *
 * - WebGPU (the backend's context, buffers and pipelines, e.g.
 *   `backend.context.device`): `@webgpu/types`, or the DOM library of
 *   TypeScript 7, which has WebGPU.
 * - Blob and Response (parameters saved and loaded without a file system):
 *   the DOM library, or `@types/node`.
 */
// biome-ignore-all lint/suspicious/noEmptyInterface: an empty interface merges with the full one; a type alias would clash with it
interface GPU {}
interface GPUDevice {}
interface GPUSupportedLimits {}
interface GPUBuffer {}
interface GPUCommandBuffer {}
interface GPUComputePipeline {}
interface GPUBindGroup {}

interface Blob {}
interface Response {}
