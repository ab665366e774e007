/**
 * Trains a small multilayer perceptron on two interleaved spirals with full-
 * batch gradient descent and momentum, and prints the loss as it falls.
 * Everything is a pure function: the model, the loss, the update; the whole
 * step (forward, gradient, update) is one jitted call, on WebGPU where an
 * adapter exists and on the CPU interpreter otherwise.
 *
 *   npx tsx examples/train-mlp.ts    # STEPS=1000 for more steps; ADJOINT_BACKEND=cpu forces the CPU
 */
import { defaultBackend, jit, ops, random, tensor, tree, valueAndGrad, type Tensor } from '../index.ts'
import { shortOr } from './lib/short.ts'

type Params = {
  w1: Tensor<[2, 32]>
  b1: Tensor<[32]>
  w2: Tensor<[32, 32]>
  b2: Tensor<[32]>
  w3: Tensor<[32, 2]>
  b3: Tensor<[2]>
}

/** Two spirals of n points each; label = which spiral. */
function spirals(key: random.Key, n: number): { x: Tensor<['N', 2]>; y: Tensor<['N'], 'i32'> } {
  const noise = random.normal(key, [2 * n, 2], { stddev: 0.08 }).dataSync()
  const xs: number[] = []
  const ys: number[] = []
  for (let c = 0; c < 2; c++)
    for (let i = 0; i < n; i++) {
      const r = 0.2 + (i / n) * 0.8
      const t = 1.75 * Math.PI * (i / n) + c * Math.PI
      xs.push(r * Math.cos(t) + noise[2 * (c * n + i)], r * Math.sin(t) + noise[2 * (c * n + i) + 1])
      ys.push(c)
    }
  return { x: tensor(xs, { shape: [2 * n, 2] }), y: tensor(ys, { shape: [2 * n], dtype: 'i32' }) }
}

/** Glorot-uniform weights, zero biases. */
function init(key: random.Key): Params {
  const [k1, k2, k3] = random.split(key, 3)
  const glorot = <const S extends readonly [number, number]>(k: random.Key, shape: S) => {
    const limit = Math.sqrt(6 / (shape[0] + shape[1]))
    return random.uniform(k, shape, { lo: -limit, hi: limit })
  }
  return {
    w1: glorot(k1, [2, 32]),
    b1: ops.zeros([32]),
    w2: glorot(k2, [32, 32]),
    b2: ops.zeros([32]),
    w3: glorot(k3, [32, 2]),
    b3: ops.zeros([2]),
  }
}

const predict = (p: Params, x: Tensor<['N', 2]>) => {
  const h1 = ops.tanh(ops.add(ops.matmul(x, p.w1), p.b1))
  const h2 = ops.tanh(ops.add(ops.matmul(h1, p.w2), p.b2))
  return ops.add(ops.matmul(h2, p.w3), p.b3)
}

/** Mean softmax cross-entropy: logsumexp(z) − z[y]. */
const loss = (p: Params, x: Tensor<['N', 2]>, y: Tensor<['N'], 'i32'>) => {
  const logits = predict(p, x)
  const picked = ops.sum(ops.mul(logits, oneHot(y, 2)), 1)
  return ops.mean(ops.sub(ops.logsumexp(logits, 1), picked))
}

const oneHot = (y: Tensor<['N'], 'i32'>, classes: number) =>
  ops.astype(ops.equal(ops.reshape(y, [-1, 1]), ops.arange(classes, undefined, 1, 'i32')), 'f32')

const accuracy = async (p: Params, x: Tensor<['N', 2]>, y: Tensor<['N'], 'i32'>) => {
  const z = await (await jit(predict)(p, x)).data()
  const labels = y.dataSync()
  let right = 0
  for (let i = 0; i < labels.length; i++) if ((z[2 * i + 1] > z[2 * i] ? 1 : 0) === labels[i]) right++
  return right / labels.length
}

/** Heavy-ball momentum: v ← βv + g, θ ← θ − ηv. */
const momentum =
  (lr: number, beta: number) =>
  (g: Params, v: Params, p: Params): [Params, Params] => {
    const v2 = tree.treeMap2(v, g, (vi, gi) => ops.add(ops.mul(vi, beta), gi))
    return [tree.treeMap2(p, v2, (pi, vi) => ops.sub(pi, ops.mul(vi, lr))), v2]
  }

const [dataKey, initKey] = random.split(random.key(0))
const { x, y } = spirals(dataKey, 100)
let params = init(initKey)
let velocity = tree.treeMap(params, ops.zerosLike)
const update = momentum(0.1, 0.9)
const step = jit(
  (p: Params, v: Params, xs: Tensor<['N', 2]>, ys: Tensor<['N'], 'i32'>) => {
    const [value, g] = valueAndGrad(loss)(p, xs, ys)
    return [...update(g, v, p), value] as const
  },
  { donateArgnums: [0, 1] },
)
console.log(`training on ${(await defaultBackend()).name}`)
const steps = Number(process.env.STEPS ?? shortOr(50, 400))
const start = performance.now()
for (let i = 0; i <= steps; i++) {
  const [p, v, value] = await step(params, velocity, x, y)
  ;[params, velocity] = [p, v]
  if (i % 50 === 0) console.log(`step ${String(i).padStart(4)}  loss ${(await value.data())[0].toFixed(4)}`)
}
const seconds = (performance.now() - start) / 1000
console.log(
  `training accuracy ${(100 * (await accuracy(params, x, y))).toFixed(1)}% after ${steps} steps (${(steps / seconds).toFixed(0)} steps/s)`,
)
process.exit(0)
