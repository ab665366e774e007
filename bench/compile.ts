/**
 * First-call cost of the MLP training step (784-256-256-10, batch 128):
 * tracing, lowering, WGSL compilation and the first run, against a warm call.
 * Run with a cold Mesa shader cache to see the worst case:
 *
 *   MESA_SHADER_CACHE_DISABLE=true npx tsx bench/compile.ts [--json]
 */
import { webgpuBackend } from '../gpu/index.ts'
import { mlpTraining } from './peers/adjoint.ts'

const backend = await webgpuBackend()
const training = await mlpTraining(backend)
const timed = async () => {
  const t0 = performance.now()
  await training.run()
  return performance.now() - t0
}
const first = await timed()
const warm: number[] = []
for (let i = 0; i < 5; i++) warm.push(await timed())
warm.sort((a, b) => a - b)
const kernels = await training.kernels()
const cold = process.env.MESA_SHADER_CACHE_DISABLE === 'true' ? 'cold Mesa shader cache' : 'Mesa shader cache as found'
if (process.argv.includes('--json')) {
  console.log(
    JSON.stringify({
      workload: 'mlp-first-call',
      system: 'adjoint',
      backend: 'webgpu-jit',
      value: first,
      unit: 'ms',
      note: cold,
    }),
  )
  console.log(
    JSON.stringify({ workload: 'mlp-warm-call', system: 'adjoint', backend: 'webgpu-jit', value: warm[2], unit: 'ms' }),
  )
} else {
  console.log(
    `${backend.name}\nMLP step, ${kernels} kernels: first call ${first.toFixed(0)} ms (${cold}), warm call ${warm[2].toFixed(1)} ms (median of 5)`,
  )
}
process.exit(0)
