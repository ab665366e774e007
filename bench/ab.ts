/**
 * One workload's training step on WebGPU from two checkouts of the
 * repository, called in turn in one process, so that both see the same
 * machine (on a shared VM the time of a step drifts by tens of percent
 * between runs, far more than many changes are worth).
 *
 *   npx tsx bench/ab.ts --base /path/to/other/checkout [--workload lstm|mlp|cnn|rnn|gru|gru-after] [--calls 15]
 *
 * Each side builds its step from its own `bench/peers/adjoint.ts` and
 * `gpu/`, warms up with three calls, then the two alternate; the report is
 * the minimum, 25th percentile and median of each side's calls.
 */
import { resolve } from 'node:path'

const option = (name: string): string | undefined => {
  const at = process.argv.indexOf(name)
  return at >= 0 ? process.argv[at + 1] : undefined
}
const TRAININGS = {
  lstm: 'lstmTraining',
  mlp: 'mlpTraining',
  cnn: 'cnnTraining',
  rnn: 'rnnTraining',
  gru: 'gruTraining',
  'gru-after': 'gruResetAfterTraining',
} as const
const workload = option('--workload') ?? 'lstm'
if (!Object.hasOwn(TRAININGS, workload))
  throw new Error(`--workload takes one of ${Object.keys(TRAININGS).join(', ')}, got ${workload}`)
const calls = Number(option('--calls') ?? 15)
if (!Number.isInteger(calls) || calls < 4) throw new Error(`--calls takes a whole number of at least 4, got ${calls}`)
const base = option('--base')
if (base === undefined) throw new Error('--base names the other checkout, e.g. a git worktree of the commit to compare')

type Training = { run(): Promise<unknown> }
async function load(root: string): Promise<Training> {
  const gpu = await import(resolve(root, 'gpu/index.ts'))
  const peers = await import(resolve(root, 'bench/peers/adjoint.ts'))
  const training: Training = await peers[TRAININGS[workload as keyof typeof TRAININGS]](await gpu.webgpuBackend())
  for (let i = 0; i < 3; i++) await training.run()
  return training
}
const sides = [
  { name: `base (${base})`, training: await load(base), ms: [] as number[] },
  { name: 'this checkout', training: await load(resolve(import.meta.dirname, '..')), ms: [] as number[] },
]
for (let i = 0; i < calls; i++)
  for (const side of sides) {
    const t0 = performance.now()
    await side.training.run()
    side.ms.push(performance.now() - t0)
  }
for (const { name, ms } of sides) {
  const sorted = [...ms].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.floor(q * (sorted.length - 1))].toFixed(1)
  console.log(`${workload} step, ${name}: min ${at(0)}  p25 ${at(0.25)}  median ${at(0.5)} ms`)
}
process.exit(0)
