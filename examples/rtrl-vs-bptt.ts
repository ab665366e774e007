/**
 * RTRL against BPTT (D. Barber, Neural Nets (lecture notes), "Computing the
 * Gradient"; Williams and Zipser 1989): two exact ways to
 * the same gradient of E = Σ_t ½‖h_t − y_t‖² for an Elman RNN
 * h_t = tanh(x_t·Wx + h_{t−1}·Wh + b), with H hidden units, I inputs and
 * |θ| = H² + I·H + H parameters.
 *
 *  - RTRL carries S_t = dh_t/dθ forward: memory O(H·|θ|) whatever T; per step
 *    the product ∂f/∂h · S_{t−1} costs O(H²·|θ|) = O(H⁴).
 *  - BPTT runs forwards, stacking the residuals of every step (memory
 *    O(T·H)), then backwards: O(H²) per step, O(T·H²) in all.
 *
 * Memory is read off the programs' shapes (the carry of RTRL's scan, the
 * stacked outputs of BPTT's forward scan); time is measured on the CPU
 * interpreter (jit with the CPU backend, after one warm-up call), so it
 * includes the interpreter's per-operation overhead, which dominates the
 * small sizes. Each row also checks that the two gradients agree.
 *
 *   npx tsx examples/rtrl-vs-bptt.ts
 */
import { cpuBackend, jit, makeProgram, ops, random, tree, type Tensor } from '../src/index.ts'
import { bptt, elman, rtrl, scanFootprints } from '../src/recurrent/index.ts'
import { compareTrees } from '../laws/numeric.ts'

const I = 4
const backend = cpuBackend()
const loss = (y: Tensor, target: Tensor) => ops.mul(ops.sum(ops.square(ops.sub(y, target))), 0.5) as Tensor<[]>

const kib = (bytes: number) => (bytes / 1024).toFixed(1)

async function timed(f: () => Promise<unknown>, repeats: number): Promise<number> {
  await f()
  const times: number[] = []
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now()
    await f()
    times.push(performance.now() - t0)
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]
}

interface Row {
  H: number
  T: number
  theta: number
  rtrlBytes: number
  bpttBytes: number
  rtrlMs: number
  bpttMs: number
  agree: number
}

async function measure(H: number, T: number): Promise<Row> {
  const cell = elman(I, H, { dtype: 'f64' })
  const keys = random.split(random.key(H * 1000 + T), 3)
  const params = cell.init(keys[0])
  const h0 = cell.initialState()
  const xs = random.normal(keys[1], [T, I], { dtype: 'f64' })
  const ys = random.normal(keys[2], [T, H], { dtype: 'f64' }) as Tensor
  const byRtrl = (p: typeof params, h: typeof h0, x: typeof xs, y: Tensor) => rtrl(cell, loss)(p, h, x, y)
  const byBptt = (p: typeof params, h: typeof h0, x: typeof xs, y: Tensor) => bptt(cell, loss)(p, h, x, y)
  const rtrlScans = scanFootprints(makeProgram(byRtrl)(params, h0, xs, ys)).filter((s) => s.depth === 0)
  const bpttScans = scanFootprints(makeProgram(byBptt)(params, h0, xs, ys)).filter((s) => s.depth === 0)
  const fastR = jit(byRtrl, { backend })
  const fastB = jit(byBptt, { backend })
  const r = await fastR(params, h0, xs, ys)
  const b = await fastB(params, h0, xs, ys)
  const c = compareTrees(b.grad, r.grad, { rtol: 1e-9, atol: 1e-12 })
  if (!c.ok) throw new Error(`H = ${H}, T = ${T}: RTRL and BPTT disagree at ${c.where}`)
  const scale = Math.max(...tree.flatten(b.grad)[0].flatMap((x) => Array.from(x.dataSync(), Math.abs)))
  const repeats = T * H > 1200 ? 3 : 7
  return {
    H,
    T,
    theta: H * H + I * H + H,
    rtrlBytes: rtrlScans.reduce((s, f) => s + f.carryBytes + f.stackedBytes, 0),
    bpttBytes: bpttScans.reduce((s, f) => s + f.stackedBytes, 0),
    rtrlMs: await timed(() => fastR(params, h0, xs, ys), repeats),
    bpttMs: await timed(() => fastB(params, h0, xs, ys), repeats),
    agree: c.error / scale,
  }
}

console.log(
  `Elman RNN, I = ${I}, f64, one sequence; RTRL memory = the carry of its scan (h, S = dh/d(θ, h₀), gradient, loss),`,
)
console.log('BPTT memory = the residuals its forward scan stacks for the backward one.\n')
const header = [
  'H',
  'T',
  '|θ|',
  'RTRL KiB',
  'H(|θ|+H)',
  'BPTT KiB',
  'per step',
  'RTRL ms',
  'BPTT ms',
  'ratio',
  'H²',
  '‖Δgrad‖∞/‖grad‖∞',
]
const widths = [4, 5, 6, 10, 10, 10, 10, 10, 10, 8, 6, 18]
console.log(header.map((h, i) => h.padStart(widths[i])).join(''))
const rows: Row[] = []
// One run first, so that the first row's times do not include warming up the JavaScript engine.
await measure(8, 10)
for (const H of [8, 16, 32])
  for (const T of [10, 20, 40, 80]) {
    const r = await measure(H, T)
    rows.push(r)
    const cells = [
      r.H,
      r.T,
      r.theta,
      kib(r.rtrlBytes),
      r.H * (r.theta + r.H),
      kib(r.bpttBytes),
      r.bpttBytes / 8 / r.T,
      r.rtrlMs.toFixed(1),
      r.bpttMs.toFixed(1),
      (r.rtrlMs / r.bpttMs).toFixed(1),
      r.H * r.H,
      r.agree.toExponential(1),
    ]
    console.log(cells.map((v, i) => String(v).padStart(widths[i])).join(''))
  }

const find = (H: number, T: number) => rows.find((r) => r.H === H && r.T === T) as Row
console.log('\nGrowth, measured against the asymptotic orders (Barber, Neural Nets):')
const times = (a: number, b: number) => `× ${(a / b).toFixed(a / b < 10 ? 2 : 1)}`
const memH = (H: number) => H * (find(H, 40).theta + H)
console.log(
  `  T × 8 (10 → 80), H = 16:  RTRL memory ${times(find(16, 80).rtrlBytes, find(16, 10).rtrlBytes)} (O(H·|θ|): × 1),  BPTT memory ${times(find(16, 80).bpttBytes, find(16, 10).bpttBytes)} (O(T·H): × 8)`,
)
console.log(
  `  H × 4 (8 → 32), T = 40:   RTRL memory ${times(find(32, 40).rtrlBytes, find(8, 40).rtrlBytes)} (H·(|θ| + H) ${times(memH(32), memH(8))}),  BPTT memory ${times(find(32, 40).bpttBytes, find(8, 40).bpttBytes)} (T·(3H + I) ${times(3 * 32 + I, 3 * 8 + I)})`,
)
console.log(
  `  T × 8, H = 32:            RTRL time ${times(find(32, 80).rtrlMs, find(32, 10).rtrlMs)},  BPTT time ${times(find(32, 80).bpttMs, find(32, 10).bpttMs)} (both O(T): × 8)`,
)
console.log(
  `  H × 4, T = 80:            RTRL time ${times(find(32, 80).rtrlMs, find(8, 80).rtrlMs)} (O(H²·|θ|): ${times(32 * 32 * find(32, 80).theta, 8 * 8 * find(8, 80).theta)}),  BPTT time ${times(find(32, 80).bpttMs, find(8, 80).bpttMs)} (O(H²): × 16)`,
)
console.log(
  '\nBPTT stacks 3H + I values per step: h_{t−1}, tanh′(z_t) = 1 − h_t², h_t − y_t and x_t. The interpreter’s fixed',
)
console.log('cost per operation hides much of the arithmetic at small H; as H grows RTRL’s H²·|θ| takes over.')
