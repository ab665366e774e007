/**
 * RTRL beside BPTT on the benchmark's RNN cell (bench/peers/measure.ts, RNN:
 * h_t = tanh(x_t·Wx + h_{t−1}·Wh + b), input 32, hidden 128, T = 50, loss
 * mean(h_T²), SGD lr 0.01): one jitted training step each, the same
 * parameters and data, on WebGPU and on the CPU interpreter. Neither peer
 * has RTRL, so this compares the two exact gradients of D. Barber, Neural Nets
 * (lecture notes), "Computing the Gradient", with each other, not with
 * TensorFlow.js or jax-js.
 *
 * RTRL carries S_t = dh_t/dθ per sequence, [H, |θ| + H] with |θ| = I·H + H² + H
 * = 20,608: 10.6 MB for one sequence, and a step costs the product
 * ∂f/∂h · S_{t−1}, 2·H²·(|θ| + H) ≈ 680 MFLOP, against BPTT's 2·B·H·(I + H)
 * per step forwards and about twice that backwards. So the sequences here
 * are B = 1 and B = 4 (a batch of 32 would carry 340 MB of sensitivities,
 * more than one WebGPU binding holds), and BPTT runs the same batch.
 *
 *   npx tsx bench/rtrl.ts [--json] [--batches 1,4] [--budget 10] [--backends webgpu,cpu]
 *
 * JSON lines: {"workload":"rtrl"|"bptt","system":"adjoint","backend","value","unit":"steps/s","batch",
 * "dispatches","gflop","loss"} where gflop is the step's work by the cost formulas above and loss is
 * the first step's (the same for both methods: they start from the same parameters).
 */
import { cpuBackend, jit, ops, tensor, tree, vmap, type Backend, type Tensor } from '../src/index.ts'
import { bptt, elman, rtrl } from '../src/recurrent/index.ts'
import { webgpuBackend } from '../gpu/index.ts'
import { RNN, randomF32, rnnData, timeIt } from './peers/measure.ts'

const args = process.argv.slice(2)
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : fallback
}
const json = args.includes('--json')
const batches = flag('batches', '1,4').split(',').map(Number)
const budgetMs = Number(flag('budget', '10')) * 1000
const backends = flag('backends', 'webgpu,cpu').split(',')

const { input: I, hidden: H, steps: T, lr } = RNN
const P = I * H + H * H + H
const cell = elman(I, H)
type Params = { wx: Tensor; wh: Tensor; b: Tensor }
const loss = { final: (h: Tensor) => ops.mean(ops.square(h)) as Tensor<[]> }

/** GFLOP of one training step by the cost formulas of RTRL and BPTT (products only; see the header). */
const gflop = (method: 'rtrl' | 'bptt', B: number) =>
  method === 'rtrl' ? (B * T * 2 * H * H * (P + H)) / 1e9 : (B * T * 3 * 2 * H * (I + H)) / 1e9

async function measure(backend: Backend, method: 'rtrl' | 'bptt', B: number) {
  const d = rnnData()
  let params: Params = {
    wx: tensor(d.wx, { shape: [I, H] }),
    wh: tensor(d.wh, { shape: [H, H] }),
    b: tensor(d.b, { shape: [H] }),
  }
  const xs = tensor(randomF32(T * B * I, 13, 1), { shape: [T, B, I] })
  // RTRL is per sequence (its sensitivities are): vmap over the batch, then the mean of the sequences' gradients.
  const perSequence = (p: Params, x: Tensor) =>
    method === 'rtrl'
      ? rtrl(cell, loss)(p as never, cell.initialState(), x as never)
      : bptt(cell, loss)(p as never, cell.initialState(), x as never)
  const step = jit(
    (p: Params, x: Tensor) => {
      const { loss: e, grad } = vmap((seq: Tensor) => perSequence(p, seq), 1)(x) as {
        loss: Tensor
        grad: { params: Params }
      }
      const next = tree.treeMap2(p, grad.params, (w, g) => ops.sub(w, ops.mul(ops.mean(g, 0), lr))) as Params
      return [next, ops.mean(e)] as const
    },
    { backend, donateArgnums: [0] },
  )
  let first: number | undefined
  const timing = await timeIt(
    async () => {
      const [next, e] = await step(params, xs)
      params = next
      first ??= (await e.data())[0]
    },
    { warmup: 1, budgetMs, minReps: 2 },
  )
  const stats = (await step.compiled(params, xs)).stats()
  return {
    stepsPerSecond: 1000 / timing.medianMs,
    dispatches: stats.dispatches,
    loss: first as number,
    firstMs: timing.warmupMs[0],
  }
}

const rows: string[] = []
for (const name of backends) {
  const backend = name === 'webgpu' ? await webgpuBackend() : cpuBackend()
  for (const B of batches)
    for (const method of ['bptt', 'rtrl'] as const) {
      const r = await measure(backend, method, B)
      const line = {
        workload: method,
        system: 'adjoint',
        backend: `${name}-jit`,
        value: Number(r.stepsPerSecond.toPrecision(4)),
        unit: 'steps/s',
        batch: B,
        dispatches: r.dispatches,
        gflop: Number(gflop(method, B).toPrecision(3)),
        loss: r.loss,
      }
      if (json) console.log(JSON.stringify(line))
      rows.push(
        `${name.padEnd(7)} B=${String(B).padEnd(3)} ${method}  ${r.stepsPerSecond.toFixed(2).padStart(8)} steps/s  ${String(r.dispatches).padStart(5)} dispatches  ${gflop(method, B).toFixed(3).padStart(8)} GFLOP/step  ${(gflop(method, B) * r.stepsPerSecond).toFixed(2).padStart(7)} GFLOP/s  first call ${(r.firstMs / 1000).toFixed(1)} s  first loss ${r.loss.toFixed(6)}`,
      )
      ;(json ? console.error : console.log)(rows[rows.length - 1])
    }
}
