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
import { shortOr } from './lib/short.ts'

const I = 4
// The grid of sizes: H × T (in short mode, examples/lib/short.ts, a smaller one, timed once).
const Hs = shortOr([4, 8], [8, 16, 32])
const Ts = shortOr([5, 10], [10, 20, 40, 80])
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
  const repeats = shortOr(1, T * H > 1200 ? 3 : 7)
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
await measure(Hs[0], Ts[0])
for (const H of Hs)
  for (const T of Ts) {
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
// The grid's corners and middles: the smallest and largest H and T, the middle H and the next-to-largest T.
const [H0, Hm, H1] = [Hs[0], Hs[Math.floor(Hs.length / 2)], Hs[Hs.length - 1]]
const [T0, Tm, T1] = [Ts[0], Ts[Ts.length - 2], Ts[Ts.length - 1]]
const [tx, hx] = [T1 / T0, H1 / H0]
const memH = (H: number) => H * (find(H, Tm).theta + H)
const label = (s: string) => `  ${s}`.padEnd(28)
console.log(
  `${label(`T × ${tx} (${T0} → ${T1}), H = ${Hm}:`)}RTRL memory ${times(find(Hm, T1).rtrlBytes, find(Hm, T0).rtrlBytes)} (O(H·|θ|): × 1),  BPTT memory ${times(find(Hm, T1).bpttBytes, find(Hm, T0).bpttBytes)} (O(T·H): × ${tx})`,
)
console.log(
  `${label(`H × ${hx} (${H0} → ${H1}), T = ${Tm}:`)}RTRL memory ${times(find(H1, Tm).rtrlBytes, find(H0, Tm).rtrlBytes)} (H·(|θ| + H) ${times(memH(H1), memH(H0))}),  BPTT memory ${times(find(H1, Tm).bpttBytes, find(H0, Tm).bpttBytes)} (T·(3H + I) ${times(3 * H1 + I, 3 * H0 + I)})`,
)
console.log(
  `${label(`T × ${tx}, H = ${H1}:`)}RTRL time ${times(find(H1, T1).rtrlMs, find(H1, T0).rtrlMs)},  BPTT time ${times(find(H1, T1).bpttMs, find(H1, T0).bpttMs)} (both O(T): × ${tx})`,
)
console.log(
  `${label(`H × ${hx}, T = ${T1}:`)}RTRL time ${times(find(H1, T1).rtrlMs, find(H0, T1).rtrlMs)} (O(H²·|θ|): ${times(H1 * H1 * find(H1, T1).theta, H0 * H0 * find(H0, T1).theta)}),  BPTT time ${times(find(H1, T1).bpttMs, find(H0, T1).bpttMs)} (O(H²): × ${hx * hx})`,
)
console.log(
  '\nBPTT stacks 3H + I values per step: h_{t−1}, tanh′(z_t) = 1 − h_t², h_t − y_t and x_t. The interpreter’s fixed',
)
console.log('cost per operation hides much of the arithmetic at small H; as H grows RTRL’s H²·|θ| takes over.')
