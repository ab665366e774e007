/**
 * First-call cost of the MLP training step (784-256-256-10, batch 128):
 * tracing, lowering, WGSL compilation and the first run, against a warm call.
 * Run with a cold Mesa shader cache to see the worst case:
 *
 *   MESA_SHADER_CACHE_DISABLE=true npx tsx bench/compile.ts [--json]
 */
import { grad, jit, ops, tensor, tree, type Tensor } from '../src/index.ts'
import { webgpuBackend } from '../gpu/index.ts'
import { MLP, mlpData } from './peers/measure.ts'

const backend = await webgpuBackend()
const d = mlpData(MLP.batch)
const { input, hidden, output, lr, batch } = MLP
type P = { w1: Tensor; b1: Tensor; w2: Tensor; b2: Tensor; w3: Tensor; b3: Tensor }
let p: P = {
  w1: tensor(d.w1, { shape: [input, hidden] }), b1: tensor(d.b1, { shape: [hidden] }),
  w2: tensor(d.w2, { shape: [hidden, hidden] }), b2: tensor(d.b2, { shape: [hidden] }),
  w3: tensor(d.w3, { shape: [hidden, output] }), b3: tensor(d.b3, { shape: [output] }),
}
const x = tensor(d.x, { shape: [batch, input] })
const y = tensor(d.y, { shape: [batch, output] })
const loss = (q: P, v: Tensor, t: Tensor) => {
  const h1 = ops.relu(ops.add(ops.matmul(v, q.w1), q.b1))
  const h2 = ops.relu(ops.add(ops.matmul(h1, q.w2), q.b2))
  const z = ops.add(ops.matmul(h2, q.w3), q.b3)
  return ops.mean(ops.sub(ops.logsumexp(z, 1), ops.sum(ops.mul(z, t), 1)))
}
const step = jit((q: P, v: Tensor, t: Tensor) => [tree.treeMap2(q, grad(loss)(q, v, t), (a, g) => ops.sub(a, ops.mul(g, lr))), loss(q, v, t)] as const, { backend, donateArgnums: [0] })

const timed = async () => {
  const t0 = performance.now()
  const [next, l] = await step(p, x, y)
  await l.data()
  p = next
  return performance.now() - t0
}
const first = await timed()
const warm: number[] = []
for (let i = 0; i < 5; i++) warm.push(await timed())
warm.sort((a, b) => a - b)
const kernels = (await step.compiled(p, x, y)).kernels
const cold = process.env.MESA_SHADER_CACHE_DISABLE === 'true' ? 'cold Mesa shader cache' : 'Mesa shader cache as found'
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ workload: 'mlp-first-call', system: 'adjoint', backend: 'webgpu-jit', value: first, unit: 'ms', note: cold }))
  console.log(JSON.stringify({ workload: 'mlp-warm-call', system: 'adjoint', backend: 'webgpu-jit', value: warm[2], unit: 'ms' }))
} else {
  console.log(`${backend.name}\nMLP step, ${kernels} kernels: first call ${first.toFixed(0)} ms (${cold}), warm call ${warm[2].toFixed(1)} ms (median of 5)`)
}
process.exit(0)
