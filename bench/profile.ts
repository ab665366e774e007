/**
 * Where the time of the RNN workload's training step goes on WebGPU, kernel
 * by kernel, on adapters without timestamp queries (llvmpipe): each kernel's
 * cost is how much faster a call runs with its dispatches left out
 * (`WebGpuExecutable.kernelCosts`; those calls' results are discarded).
 *
 *   npx tsx bench/profile.ts [--rounds 12]
 */
import { webgpuBackend, type WebGpuExecutable } from '../gpu/index.ts'
import type { Kernel } from '../gpu/kernel.ts'
import { rnnTraining } from './peers/adjoint.ts'

const at = process.argv.indexOf('--rounds')
const rounds = at >= 0 ? Number(process.argv[at + 1]) : 12
if (!Number.isInteger(rounds) || rounds < 1)
  throw new Error(`--rounds takes a whole number of at least 1, got ${process.argv[at + 1]}`)

const describe = (k: Kernel): string =>
  k.kind === 'matmul'
    ? `matmul ${k.batch > 1 ? `${k.batch}×` : ''}${k.m}×${k.n}×${k.k}${k.transA ? ' Aᵀ' : ''}${k.transB ? ' Bᵀ' : ''}${k.epilogue ? ' + epilogue' : ''}`
    : k.kind === 'reduce'
      ? `${k.op} [${k.reduced}] into [${k.shape}]${k.epilogue ? ' + epilogue' : ''}`
      : `map [${k.shape}]`

const backend = await webgpuBackend()
const training = await rnnTraining(backend)
for (let i = 0; i < 5; i++) await training.run()
const exe = (await training.compiled()) as WebGpuExecutable
const whole: number[] = []
for (let i = 0; i < 21; i++) {
  const t0 = performance.now()
  await training.run()
  whole.push(performance.now() - t0)
}
whole.sort((a, b) => a - b)
console.log(
  `RNN BPTT step on ${backend.name}: ${exe.dispatches.length} dispatches, median ${whole[10].toFixed(2)} ms a step (loss read included)`,
)
const costs = await exe.kernelCosts(training.inputs(), rounds)
console.log(`kernel costs (25th percentiles of ${rounds} interleaved calls each way, whole − without it):`)
for (const c of costs) {
  const per = c.dispatches > 1 ? ` (${((c.ms / c.dispatches) * 1000).toFixed(0)} µs × ${c.dispatches})` : ''
  console.log(
    `  #${String(c.kernel).padEnd(3)} ${describe(exe.lowered.kernels[c.kernel]).padEnd(44)} ${c.ms.toFixed(2).padStart(6)} ms${per}`,
  )
}
console.log(`sum ${costs.reduce((n, c) => n + c.ms, 0).toFixed(2)} ms`)
