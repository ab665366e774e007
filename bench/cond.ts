/**
 * What the untaken branch of a `cond`, and the steps after a `whileLoop` has
 * finished, cost on WebGPU. A cond whose branch 1
 * is heavy (a 512³ product, twice) and branch 0 light (an elementwise map),
 * compiled once; calls with each index, beside the same computation written
 * as both branches and a select (`ops.where`), which computes the heavy
 * branch whatever the index. One submission per call in all three. With
 * the gate and indirect dispatch, a call that takes the light branch should
 * cost about what the light branch costs, plus one small gate dispatch.
 * Likewise a whileLoop of at most 32 steps of a 512³ product that stops
 * after 2, beside one that runs all 32 and the same 32 steps written as a
 * foriLoop that keeps its carry once done (every step computed).
 *
 *   npx tsx bench/cond.ts [--json] [--calls 20]
 */
import { cond, foriLoop, jit, ops, random, tensor, type Tensor, whileLoop } from '../src/index.ts'
import { webgpuBackend } from '../gpu/index.ts'

const args = process.argv.slice(2)
const json = args.includes('--json')
const calls = Number(args[args.indexOf('--calls') + 1] ?? 10) || 10

const backend = await webgpuBackend()
const N = 512
const a = random.normal(random.key(1), [N, N])
const b = random.normal(random.key(2), [N, N])
const heavy = (x: Tensor, y: Tensor) => ops.matmul(ops.tanh(ops.matmul(x, y)), y)
const light = (x: Tensor, _y: Tensor) => ops.mul(x, 2)
const branchy = jit((p: Tensor, x: Tensor, y: Tensor) => cond(p as Tensor<[], 'bool'>, heavy, light, x, y), { backend })
const selected = jit(
  (p: Tensor, x: Tensor, y: Tensor) =>
    ops.where(ops.broadcastTo(p, [N, N]) as Tensor<[number, number], 'bool'>, heavy(x, y), light(x, y)),
  {
    backend,
  },
)

async function time(f: typeof branchy, flag: boolean): Promise<number> {
  const p = tensor(flag, { dtype: 'bool' })
  await (await f(p, a, b)).data()
  const t0 = performance.now()
  for (let i = 0; i < calls; i++) await (await f(p, a, b)).data()
  return (performance.now() - t0) / calls
}

const rows = [
  { workload: 'cond, light branch taken', ms: await time(branchy, false) },
  { workload: 'cond, heavy branch taken', ms: await time(branchy, true) },
  { workload: 'both branches and a select', ms: await time(selected, false) },
]
const steps = 32
const step = (y: Tensor) => ops.tanh(ops.matmul(y, b))
const whileLoopOf = jit(
  (x: Tensor, n: Tensor) =>
    whileLoop(
      ([k]: [Tensor, Tensor]) => ops.less(k, n) as Tensor<[], 'bool'>,
      ([k, y]: [Tensor, Tensor]) => [ops.add(k, 1), step(y)] as [Tensor, Tensor],
      [tensor(0, { dtype: 'i32' }) as Tensor, x] as [Tensor, Tensor],
      { maxIterations: steps },
    )[1],
  { backend },
)
const everyStep = jit(
  (x: Tensor, n: Tensor) =>
    foriLoop(
      0,
      steps,
      (k, y: Tensor) =>
        ops.where(ops.broadcastTo(ops.less(k, n), [N, N]) as Tensor<[number, number], 'bool'>, step(y), y),
      x,
    ),
  { backend },
)
async function timeLoop(f: typeof whileLoopOf, n: number): Promise<number> {
  const count = tensor(n, { dtype: 'i32' })
  await (await f(a, count)).data()
  const t0 = performance.now()
  for (let i = 0; i < calls; i++) await (await f(a, count)).data()
  return (performance.now() - t0) / calls
}
rows.push(
  { workload: `whileLoop, 2 of ${steps} steps`, ms: await timeLoop(whileLoopOf, 2) },
  { workload: `whileLoop, ${steps} of ${steps} steps`, ms: await timeLoop(whileLoopOf, steps) },
  { workload: `every step computed, 2 used`, ms: await timeLoop(everyStep, 2) },
)
const submissions = (await branchy.compiled(tensor(false, { dtype: 'bool' }), a, b)).stats().submissions
for (const r of rows)
  console.log(
    json
      ? JSON.stringify({ ...r, backend: backend.name, submissions })
      : `${r.workload.padEnd(28)} ${r.ms.toFixed(2)} ms per call`,
  )
if (!json) console.log(`(${backend.name}; ${submissions} submission per call, ${calls} calls each)`)
