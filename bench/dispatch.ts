/**
 * One compute kernel made ready to time, for the benchmarks that time kernels
 * alone (gemm.ts, tiles.ts): its pipeline compiled (a validation error thrown
 * with `what` in front), its buffers bound in order from binding 0 (a
 * product's A or B bound as a uniform, its bytes only), and a
 * function that submits it `dispatches` times in one pass and resolves when
 * the queue is done. One warm-up submission runs first, which on llvmpipe
 * includes the driver's compilation.
 */
import { bufferBinding } from '../gpu/kernels/matmul.ts'

export async function prepareKernel(
  device: GPUDevice,
  kernel: {
    readonly code: string
    readonly entryPoint?: string
    readonly workgroups: readonly [number, number, number]
    /** Binding 1 is a uniform of this many bytes from its buffer's start (a product's B, RenderedMatmul.uniformB). */
    readonly uniformB?: number
    /** Likewise binding 0 (a product's A). */
    readonly uniformA?: number
  },
  buffers: readonly GPUBuffer[],
  what: string,
): Promise<(dispatches: number) => Promise<void>> {
  device.pushErrorScope('validation')
  const module = device.createShaderModule({ code: kernel.code })
  const pipeline = device.createComputePipeline({
    layout: 'auto',
    compute: { module, entryPoint: kernel.entryPoint ?? 'main' },
  })
  const error = await device.popErrorScope()
  if (error) throw new Error(`${what}: ${error.message}`)
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({
      binding,
      resource: bufferBinding(kernel, binding, buffer),
    })),
  })
  const submit = async (dispatches: number) => {
    const encoder = device.createCommandEncoder()
    const pass = encoder.beginComputePass()
    pass.setPipeline(pipeline)
    pass.setBindGroup(0, group)
    for (let i = 0; i < dispatches; i++) pass.dispatchWorkgroups(...kernel.workgroups)
    pass.end()
    device.queue.submit([encoder.finish()])
    await device.queue.onSubmittedWorkDone()
  }
  await submit(1)
  return submit
}
