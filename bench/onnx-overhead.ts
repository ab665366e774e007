/**
 * Where a training step's time goes on the ONNX Runtime backend: in ONNX
 * Runtime's own kernels, or in crossing into it. For the benchmark's MLP
 * and RNN steps (bench/peers/measure.ts), each the median of its calls:
 *  - call: the jitted step as a user calls it (inputs checked and wrapped,
 *    session.run, outputs wrapped, the loss read);
 *  - run: session.run alone on the same exported model, inputs already
 *    wrapped as ONNX Runtime tensors;
 *  - kernels: the sum of the step's node times in ONNX Runtime's own
 *    profile (its "Node" events), per call;
 *  - empty: a call of a jitted x + 0 on a scalar, the fixed cost of a call.
 * crossing = call − kernels is what a call costs beyond the kernels.
 *
 *   npx tsx bench/onnx-overhead.ts [--json] [--budget 5]
 */
import { readFile, rm } from 'node:fs/promises'
import { jit, ops, scalar, type Tensor } from '../src/index.ts'
import { loadOnnxRuntime, onnxruntimeBackend } from '../src/onnx/backend.ts'
import { exportProgram } from '../src/onnx/export.ts'
import { mlpTraining, rnnTraining } from './peers/adjoint.ts'
import { median, timeIt } from './peers/measure.ts'

const args = process.argv.slice(2)
const json = args.includes('--json')
const at = args.indexOf('--budget')
const budgetMs = (at >= 0 ? Number(args[at + 1]) : 5) * 1000

const ORT_TYPES = { f32: 'float32', f64: 'float64', i32: 'int32', bool: 'bool' } as const
const ort = (await loadOnnxRuntime()) as unknown as {
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => unknown
  InferenceSession: {
    create(
      bytes: Uint8Array,
      options?: Record<string, unknown>,
    ): Promise<{ run(feeds: Record<string, unknown>): Promise<unknown>; endProfiling(): string }>
  }
}
const backend = await onnxruntimeBackend()

async function timed(fn: () => Promise<void>): Promise<number> {
  return median((await timeIt(fn, { budgetMs, warmup: 3 })).samplesMs)
}

/** Milliseconds per call spent in ONNX Runtime's nodes, from its profile of `calls` runs. */
async function kernelMs(bytes: Uint8Array, feeds: Record<string, unknown>, calls: number): Promise<number> {
  const session = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: 'all',
    enableProfiling: true,
    profileFilePrefix: '/tmp/adjoint-onnx-profile',
  })
  for (let i = 0; i < 3; i++) await session.run(feeds)
  const file = session.endProfiling()
  await rm(file, { force: true })
  const profiled = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: 'all',
    enableProfiling: true,
    profileFilePrefix: '/tmp/adjoint-onnx-profile',
  })
  for (let i = 0; i < calls; i++) await profiled.run(feeds)
  const out = profiled.endProfiling()
  const events = JSON.parse(await readFile(out, 'utf8')) as { cat: string; name: string; dur: number }[]
  await rm(out, { force: true })
  // Node events come as "<node>_kernel_time" (the kernel) beside fence events; count the kernels.
  const micros = events
    .filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'))
    .reduce((s, e) => s + e.dur, 0)
  return micros / 1000 / calls
}

interface Workload {
  run(): Promise<number>
  compiled(): Promise<{ program: import('../src/index.ts').Program }>
  inputs(): Tensor[]
}

const rows: { workload: string; callMs: number; runMs: number; kernelMs: number; emptyMs: number }[] = []
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
  rows.push({ workload: name, callMs, runMs, kernelMs: await kernelMs(bytes, feeds, 20), emptyMs })
}

if (json) for (const r of rows) console.log(JSON.stringify({ system: 'adjoint', backend: 'onnxruntime', ...r }))
const out = json ? console.error : console.log
out('workload   call ms   run ms   kernels ms   crossing ms   empty call ms')
for (const r of rows)
  out(
    `${r.workload.padEnd(8)} ${r.callMs.toFixed(3).padStart(8)} ${r.runMs.toFixed(3).padStart(8)} ${r.kernelMs.toFixed(3).padStart(12)} ${(r.callMs - r.kernelMs).toFixed(3).padStart(13)} ${r.emptyMs.toFixed(3).padStart(15)}`,
  )
