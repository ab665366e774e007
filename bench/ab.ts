/**
 * One workload's training step on WebGPU from two checkouts of the
 * repository, called in turn in one process, so that both see the same
 * machine (on a shared VM the time of a step drifts by tens of percent
 * between runs, far more than many changes are worth). Or, without --base,
 * several workloads of this checkout called in turn (`--workload gru,gru-after,lstm`).
 *
 *   npx tsx bench/ab.ts --base /path/to/other/checkout [--workload lstm|mlp|cnn|rnn|gru|gru-after] [--calls 15]
 *   npx tsx bench/ab.ts --workload gru,gru-after,lstm [--calls 15]
 *
 * Each side builds its step from its own `bench/peers/adjoint.ts` and
 * `gpu/`, warms up with three calls, then the sides alternate; the report is
 * each side's dispatches a call and the minimum, 25th percentile and median
 * of its calls.
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
const workloads = (option('--workload') ?? 'lstm').split(',')
for (const w of workloads)
  if (!Object.hasOwn(TRAININGS, w))
    throw new Error(
      `--workload takes one of ${Object.keys(TRAININGS).join(', ')} (or several, joined by commas), got ${w}`,
    )
const calls = Number(option('--calls') ?? 15)
if (!Number.isInteger(calls) || calls < 4) throw new Error(`--calls takes a whole number of at least 4, got ${calls}`)
const base = option('--base')
if (base === undefined && workloads.length < 2)
  throw new Error(
    '--base names the other checkout (e.g. a git worktree of the commit to compare), or --workload names several',
  )
if (base !== undefined && workloads.length > 1) throw new Error('--base compares one workload, got several')

type Training = { run(): Promise<unknown>; compiled(): Promise<{ dispatches: readonly unknown[] }> }
async function load(root: string, workload: string): Promise<Training> {
  const gpu = await import(resolve(root, 'gpu/index.ts'))
  const peers = await import(resolve(root, 'bench/peers/adjoint.ts'))
  const training: Training = await peers[TRAININGS[workload as keyof typeof TRAININGS]](await gpu.webgpuBackend())
  for (let i = 0; i < 3; i++) await training.run()
  return training
}
const here = resolve(import.meta.dirname, '..')
const plan =
  base === undefined
    ? workloads.map((w) => ({ name: `${w} step`, root: here, workload: w }))
    : [
        { name: `${workloads[0]} step, base (${base})`, root: base, workload: workloads[0] },
        { name: `${workloads[0]} step, this checkout`, root: here, workload: workloads[0] },
      ]
const sides: { name: string; training: Training; ms: number[] }[] = []
for (const { name, root, workload } of plan) sides.push({ name, training: await load(root, workload), ms: [] })
for (let i = 0; i < calls; i++)
  for (const side of sides) {
    const t0 = performance.now()
    await side.training.run()
    side.ms.push(performance.now() - t0)
  }
for (const { name, training, ms } of sides) {
  const sorted = [...ms].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.floor(q * (sorted.length - 1))].toFixed(1)
  const dispatches = (await training.compiled()).dispatches.length
  console.log(`${name}: ${dispatches} dispatches; min ${at(0)}  p25 ${at(0.25)}  median ${at(0.5)} ms`)
}
process.exit(0)
