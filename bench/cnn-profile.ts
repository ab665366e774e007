/**
 * Where the time of the CNN workload's training step goes on WebGPU, kernel
 * by kernel, on adapters without timestamp queries (llvmpipe): each kernel's
 * cost is how much faster a call runs with its dispatches left out
 * (`WebGpuExecutable.kernelCosts`; those calls' results are discarded). Each
 * product (the convolutions are products of their im2col windows with the
 * kernel) is listed with its FLOPs (2·batch·m·n·k) and the rate that cost gives.
 *
 *   npx tsx bench/cnn-profile.ts [--rounds 8]
 */
import { webgpuBackend, type WebGpuExecutable } from '../gpu/index.ts'
import type { Kernel } from '../gpu/kernel.ts'
import { cnnTraining } from './peers/adjoint.ts'

const at = process.argv.indexOf('--rounds')
const rounds = at >= 0 ? Number(process.argv[at + 1]) : 8
if (!Number.isInteger(rounds) || rounds < 1)
  throw new Error(`--rounds takes a whole number of at least 1, got ${process.argv[at + 1]}`)

const describe = (k: Kernel): string =>
  k.kind === 'matmul'
    ? `matmul ${k.batch > 1 ? `${k.batch}×` : ''}${k.m}×${k.n}×${k.k}${k.transA ? ' Aᵀ' : ''}${k.transB ? ' Bᵀ' : ''}${k.epilogue ? ' + epilogue' : ''}`
    : k.kind === 'reduce'
      ? `${k.op} [${k.reduced}] into [${k.shape}]${k.epilogue ? ' + epilogue' : ''}`
      : `map [${k.shape}]`

const backend = await webgpuBackend()
const training = await cnnTraining(backend)
for (let i = 0; i < 3; i++) await training.run()
const exe = (await training.compiled()) as WebGpuExecutable
const whole: number[] = []
for (let i = 0; i < 11; i++) {
  const t0 = performance.now()
  await training.run()
  whole.push(performance.now() - t0)
}
whole.sort((a, b) => a - b)
console.log(
  `CNN training step on ${backend.name}: ${exe.dispatches.length} dispatches, median ${whole[5].toFixed(1)} ms a step (loss read included)`,
)
const costs = await exe.kernelCosts(training.inputs(), rounds)
console.log(`kernel costs (25th percentiles of ${rounds} interleaved calls each way, whole − without it):`)
for (const c of costs) {
  const k = exe.lowered.kernels[c.kernel]
  const rate =
    k.kind === 'matmul' && c.ms > 0
      ? `  ${((2 * k.batch * k.m * k.n * k.k) / 1e9).toFixed(3)} GFLOP, ${((2 * k.batch * k.m * k.n * k.k) / (c.ms / 1e3) / 1e9).toFixed(1)} GFLOP/s`
      : ''
  const per = c.dispatches > 1 ? ` (${((c.ms / c.dispatches) * 1000).toFixed(0)} µs × ${c.dispatches})` : ''
  console.log(
    `  #${String(c.kernel).padEnd(3)} ${describe(k).padEnd(46)} ${c.ms.toFixed(2).padStart(7)} ms${per}${rate}`,
  )
}
console.log(`sum ${costs.reduce((n, c) => n + c.ms, 0).toFixed(2)} ms`)
process.exit(0)
