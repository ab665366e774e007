/**
 * Where the time of a workload's training step goes on WebGPU, kernel by
 * kernel, on adapters without timestamp queries (llvmpipe): each kernel's
 * cost is how much faster a call runs with its dispatches left out
 * (`WebGpuExecutable.kernelCosts`; those calls' results are discarded). A
 * product's line also gives its GFLOP/s at that cost.
 *
 *   npx tsx bench/profile.ts [--workload rnn|mlp|cnn|lstm|gru|gru-after] [--rounds 12]
 */
import { webgpuBackend, type WebGpuExecutable } from '../gpu/index.ts'
import type { Kernel } from '../gpu/kernel.ts'
import {
  cnnTraining,
  gruResetAfterTraining,
  gruTraining,
  lstmTraining,
  mlpTraining,
  rnnTraining,
} from './peers/adjoint.ts'

const option = (name: string): string | undefined => {
  const at = process.argv.indexOf(name)
  return at >= 0 ? process.argv[at + 1] : undefined
}
const rounds = Number(option('--rounds') ?? 12)
if (!Number.isInteger(rounds) || rounds < 1)
  throw new Error(`--rounds takes a whole number of at least 1, got ${option('--rounds')}`)
const TRAININGS = {
  rnn: rnnTraining,
  mlp: mlpTraining,
  cnn: cnnTraining,
  lstm: lstmTraining,
  gru: gruTraining,
  'gru-after': gruResetAfterTraining,
}
const workload = option('--workload') ?? 'rnn'
if (!Object.hasOwn(TRAININGS, workload))
  throw new Error(`--workload takes one of ${Object.keys(TRAININGS).join(', ')}, got ${workload}`)

const describe = (k: Kernel): string =>
  k.kind === 'matmul'
    ? `matmul ${k.batch > 1 ? `${k.batch}×` : ''}${k.m}×${k.n}×${k.k}${k.windowA ? ' A a window' : k.transA ? ' Aᵀ' : ''}${k.windowB ? ' B a window' : k.transB ? ' Bᵀ' : ''}${k.epilogue ? ' + epilogue' : ''}${k.stores ? ` + ${k.stores.length} store${k.stores.length > 1 ? 's' : ''}` : ''}`
    : k.kind === 'reduce'
      ? `${k.op} [${k.reduced}] into [${k.shape}]${k.epilogue ? ' + epilogue' : ''}`
      : `map [${k.shape}]`

const backend = await webgpuBackend()
const training = await TRAININGS[workload as keyof typeof TRAININGS](backend)
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
  `${workload} training step on ${backend.name}: ${exe.dispatches.length} dispatches, median ${whole[10].toFixed(2)} ms a step (loss read included)`,
)
const costs = await exe.kernelCosts(training.inputs(), rounds)
console.log(`kernel costs (25th percentiles of ${rounds} interleaved calls each way, whole − without it):`)
for (const c of costs) {
  const k = exe.lowered.kernels[c.kernel]
  // Every dispatch of the kernel (a loop's, one per step) does the product's work.
  const flops = k.kind === 'matmul' ? 2 * k.batch * k.m * k.n * k.k * c.dispatches : 0
  const rate = flops > 0 && c.ms > 0 ? `  ${(flops / (c.ms / 1e3) / 1e9).toFixed(1)} GFLOP/s` : ''
  const per = c.dispatches > 1 ? ` (${((c.ms / c.dispatches) * 1000).toFixed(0)} µs × ${c.dispatches})` : ''
  console.log(
    `  #${String(c.kernel).padEnd(3)} ${describe(k).padEnd(46)} ${c.ms.toFixed(2).padStart(7)} ms${per}${rate}`,
  )
}
console.log(`sum ${costs.reduce((n, c) => n + c.ms, 0).toFixed(2)} ms`)
process.exit(0)
