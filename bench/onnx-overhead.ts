/**
 * Where a training step's time goes on the ONNX Runtime backend: in ONNX
 * Runtime's own kernels, or in crossing into it. For the benchmark's MLP
 * and RNN steps (bench/peers/measure.ts), each the median of its calls:
 *  - call: the jitted step as a user calls it (inputs checked and wrapped,
 *    session.run, outputs wrapped, the loss read);
 *  - run: session.run alone on the same exported model, inputs already
 *    wrapped as ONNX Runtime tensors;
 *  - inside: the time ONNX Runtime's own profile gives each run of the
 *    graph (its "model_run" events: the nodes, Loop bodies included, and
 *    their scheduling);
 *  - empty: a call of a jitted x + 0 on a scalar, the fixed cost of a call.
 * crossing = call − inside is what a call costs beyond ONNX Runtime's own
 * work. Profiling a graph with a Loop times each node of each step and
 * slows the run about tenfold, so there is no inside figure for the RNN:
 * there, call − run (adjoint's side) and the empty call bound the crossing.
 *
 *   npx tsx bench/onnx-overhead.ts [--json] [--budget 5]
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jit, ops, scalar, type Tensor } from '../src/index.ts'
import { loadOnnxRuntime, ORT_TYPES, onnxruntimeBackend } from '../src/onnx/backend.ts'
import { exportProgram } from '../src/onnx/export.ts'
import { mlpTraining, rnnTraining } from './peers/adjoint.ts'
import { median, timeIt } from './peers/measure.ts'

const args = process.argv.slice(2)
const json = args.includes('--json')
const at = args.indexOf('--budget')
const budgetMs = (at >= 0 ? Number(args[at + 1]) : 5) * 1000

const ort = (await loadOnnxRuntime()) as unknown as {
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => unknown
  InferenceSession: {
    create(
      bytes: Uint8Array,
      options?: Record<string, unknown>,
    ): Promise<{ run(feeds: Record<string, unknown>): Promise<unknown>; endProfiling(): void }>
  }
}
const backend = await onnxruntimeBackend()

async function timed(fn: () => Promise<void>): Promise<number> {
  return median((await timeIt(fn, { budgetMs, warmup: 3 })).samplesMs)
}

/** Milliseconds per run inside ONNX Runtime, from its profile of `calls` runs after three more. */
async function insideMs(bytes: Uint8Array, feeds: Record<string, unknown>, calls: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'adjoint-onnx-profile-'))
  try {
    const session = await ort.InferenceSession.create(bytes, {
      graphOptimizationLevel: 'all',
      enableProfiling: true,
      profileFilePrefix: join(dir, 'profile'),
    })
    for (let i = 0; i < 3 + calls; i++) await session.run(feeds)
    session.endProfiling()
    const [file] = await readdir(dir)
    const events = JSON.parse(await readFile(join(dir, file), 'utf8')) as { cat: string; name: string; dur: number }[]
    // One "model_run" event per call; the node events of the last `calls` runs are those after the third.
    const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run')
    const start = (runs[3] as unknown as { ts: number }).ts
    const micros = events
      .filter(
        (e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && (e as unknown as { ts: number }).ts >= start,
      )
      .reduce((sum, e) => sum + e.dur, 0)
    return micros / 1000 / calls
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

interface Workload {
  run(): Promise<number>
  compiled(): Promise<{ program: import('../src/index.ts').Program }>
  inputs(): Tensor[]
}

const rows: { workload: string; callMs: number; runMs: number; insideMs: number; emptyMs: number }[] = []
const empty = jit((x: Tensor) => ops.add(x, 0), { backend })
const one = scalar(1)
const emptyMs = await timed(async () => {
  await (await empty(one)).data()
})
for (const [name, make] of [
  ['mlp', () => mlpTraining(backend)],
  ['rnn', () => rnnTraining(backend, 'scan')],
] as const) {
  const step = (await make()) as unknown as Workload
  const callMs = await timed(async () => {
    await step.run()
  })
  const { program } = await step.compiled()
  const bytes = exportProgram(program)
  const feeds: Record<string, unknown> = {}
  step.inputs().forEach((x, i) => {
    const c = x.toConcrete()
    feeds[`input${i}`] = new ort.Tensor(ORT_TYPES[c.dtype], c.values, [...c.shape])
  })
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' })
  const runMs = await timed(async () => {
    await session.run(feeds)
  })
  // Profiling a Loop times every node of every step, which slows the run tenfold: no figure for a loop.
  const loops = program.eqns.some((e) => e.prim === 'scan' || e.prim === 'whileLoop')
  rows.push({ workload: name, callMs, runMs, insideMs: loops ? Number.NaN : await insideMs(bytes, feeds, 20), emptyMs })
}

if (json) for (const r of rows) console.log(JSON.stringify({ system: 'adjoint', backend: 'onnxruntime', ...r }))
const out = json ? console.error : console.log
out('workload   call ms   run ms   inside ms   crossing ms   empty call ms')
for (const r of rows)
  out(
    `${r.workload.padEnd(8)} ${r.callMs.toFixed(3).padStart(8)} ${r.runMs.toFixed(3).padStart(8)} ${(Number.isNaN(r.insideMs) ? '—' : r.insideMs.toFixed(3)).padStart(11)} ${(Number.isNaN(r.insideMs) ? '—' : (r.callMs - r.insideMs).toFixed(3)).padStart(13)} ${r.emptyMs.toFixed(3).padStart(15)}`,
  )
