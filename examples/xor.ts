/**
 * XOR with a 2-2-1 network (Minsky and Papert 1969; A. Martins, Deep Learning:
 * A Shallow Tutorial, NLPL Winter School 2018, "What a Simple Perceptron Can
 * and Can't Do": a linear classifier cannot separate XOR; one hidden layer of
 * two sigmoid units can). Full-batch gradient
 * descent with momentum on the four points, binary cross-entropy; prints the
 * loss as it falls and the network's outputs at the end.
 *
 *   npx tsx examples/xor.ts
 */
import { cpuBackend, grad, jit, nn, optim, random, tensor, tree } from '../src/index.ts'
import { claim, shortOr } from './lib/short.ts'

const net = nn.sequential(nn.dense(2, 2), nn.sigmoid, nn.dense(2, 1))
type P = nn.ParamsOf<typeof net>

const x = tensor([
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
])
const y = tensor([[0], [1], [1], [0]])
const loss = (p: P) => nn.sigmoidCrossEntropy(net.apply(p, x), y)

const opt = optim.momentum({ lr: 0.5, momentum: 0.9 })
// A tiny problem: the CPU interpreter is the fastest backend for it.
const step = jit(
  (p: P, s: optim.FirstOrderState) => {
    const [next, state] = opt.update(grad(loss)(p), s, p) as [P, optim.FirstOrderState]
    return [next, state, loss(p)] as const
  },
  { backend: cpuBackend() },
)

let params = net.init(random.key(0))
let state = opt.init(params)
for (let i = 0, steps = shortOr(250, 2000); i <= steps; i++) {
  const [next, s, l] = await step(params, state)
  if (i % 250 === 0) console.log(`step ${String(i).padStart(4)}  loss ${(await l.data())[0].toFixed(5)}`)
  params = next
  state = s
}
const out = await nn.sigmoid.apply(null, net.apply(params, x)).data()
const table = [
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
].map(([a, b], i) => `${a} xor ${b} → ${out[i].toFixed(3)}`)
console.log(table.join('\n'))
const right = [0, 1, 1, 0].every((t, i) => Math.round(out[i]) === t)
if (right) console.log('all four points classified correctly')
console.log(`parameters: ${tree.flatten(params)[0].length} tensors`)
claim(right, 'not separated: try another key')
