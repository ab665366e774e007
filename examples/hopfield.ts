/**
 * Hopfield networks as associative memories (Hopfield 1982; *Neural
 * Networks II* (lecture notes), section "Dynamic neural networks": binary
 * units, the natural threshold update, an energy that "either stays the same
 * or decreases with random asynchronous updates", "associative memory within
 * the basin of attractor", "learning is changing the weights to create the
 * attractors"). Patterns ξ^μ ∈ {−1, +1}^N are stored with the Hebbian rule
 * W = (1/N) Σ_μ ξ^μ ξ^μᵀ (zero diagonal), and recalled by asynchronous
 * sweeps in random orders until a fixed point (`energy.hopfield.recall`: the
 * sweeps are a whileLoop, each a loop over the units, so a recall of a batch
 * of cues is one jitted call).
 *
 * 1. Capacity. For N = 100, 200, …, 500 and loads α = P/N from 0.02 to
 *    0.24, random patterns are stored, and each of a batch of cues (a stored
 *    pattern with 10 % of its units flipped) is recalled; a recall counts
 *    when the final state has overlap m = (1/N) s·ξ ≥ 0.95 with its pattern.
 *    Also shown: the fraction of stored patterns that are exact fixed points,
 *    and the fraction of synchronous recalls that end in a 2-cycle. Amit,
 *    Gutfreund and Sompolinsky (1985) found that retrieval states exist only
 *    below α_c ≈ 0.138 (for N → ∞); the recall rate collapses near it.
 *    Writes out/hopfield/capacity.svg (recall rate against α, one line per N,
 *    α_c marked) and prints the table and where each N's rate falls below 50 %.
 * 2. Pattern completion on MNIST digits, binarised at 0.5 to ±1. Digits
 *    share much of their background, so their patterns are strongly
 *    correlated (overlaps 0.4–0.8, against ~1/√N for random patterns), and
 *    correlated patterns merge into mixture attractors far below 0.138·N.
 *    The stored set is chosen for small mutual overlap: among the first 100
 *    training digits of each class, greedily (from every starting digit, add
 *    the digit of a new class whose largest |overlap| with the set is
 *    smallest) the 3 digits of distinct classes with the smallest largest
 *    |overlap|. Each is corrupted (25 % of its pixels flipped; its lower half
 *    replaced by noise) and recalled. Writes out/hopfield/mnist.svg (a row
 *    per digit: stored, 25 % flipped, recalled, half noise, recalled). For contrast, one
 *    digit of each class (10 patterns): every recall ends in a mixture state
 *    (out/hopfield/mnist-ten.svg).
 * 3. Speed: one asynchronous sweep over N = 784 units for a batch of 10
 *    states as one jitted call, and a whole recall (at most 4 sweeps) as
 *    one call, on the CPU interpreter and the default backend. On a device
 *    backend the recall is one submission; its whileLoop dispatches every
 *    one of the maxSweeps steps (each behind a gate that makes the finished
 *    steps cheap but not free), so maxSweeps should be near what is needed.
 *
 *   npx tsx examples/energy.hopfield.ts
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { cpuBackend, defaultBackend, energy, io, jit, ops, plot, random, tensor, type Tensor } from '../index.ts'
import { claim, outPath, short, shortOr } from './lib/short.ts'

const SIZES = shortOr([40, 80], [100, 200, 300, 400, 500])
const ALPHAS = shortOr([0.04, 0.14, 0.24], [0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.14, 0.16, 0.18, 0.2, 0.22, 0.24])
/** Cues recalled per (N, α) and pattern set, and pattern sets per (N, α). */
const CUES = shortOr(8, 50)
const SETS = shortOr(1, 2)
const FLIP = 0.1
const RECALLED = 0.95
const MAX_SWEEPS = shortOr(10, 30)
const ALPHA_C = 0.138
const outDir = outPath('hopfield')
await mkdir(outDir, { recursive: true })

// The capacity runs on the CPU interpreter: the loop over units is many small steps, which on a software
// WebGPU adapter cost more in dispatches than in arithmetic (part 3 measures both).
const backend = cpuBackend()

// ---------------------------------------------------------------- 1. capacity

interface Load {
  readonly recalled: number
  readonly fixed: number
  readonly cycles: number
  readonly sweeps: number
}

const mean = (xs: ArrayLike<number>): number => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length

async function capacity(n: number): Promise<Load[]> {
  const recallAsync = jit(
    (W: energy.hopfield.Weights, cues: Tensor, targets: Tensor, key: random.Key) => {
      const r = energy.hopfield.recall(W, cues, { key, maxSweeps: MAX_SWEEPS })
      return { m: energy.hopfield.overlap(r.state, targets), sweeps: r.sweeps }
    },
    { backend },
  )
  const recallSync = jit(
    (W: energy.hopfield.Weights, cues: Tensor) =>
      energy.hopfield.recall(W, cues, { mode: 'sync', maxSweeps: MAX_SWEEPS }).cycled,
    { backend },
  )
  const loads: Load[] = []
  for (const [a, alpha] of ALPHAS.entries()) {
    const p = Math.max(1, Math.round(alpha * n))
    const per = { recalled: 0, fixed: 0, cycles: 0, sweeps: 0 }
    for (let set = 0; set < SETS; set++) {
      const key = random.foldIn(random.key(n), a * 100 + set)
      const [patternKey, cueKey, orderKey] = random.split(key, 3)
      const patterns = energy.hopfield.randomPatterns(patternKey, p, n)
      const W = energy.hopfield.hebbian(patterns)
      // Exact fixed points: one synchronous update changes no unit.
      const stable = energy.hopfield.overlap(energy.hopfield.updateSync(W, patterns), patterns).dataSync()
      per.fixed += mean(Array.from(stable, (m) => (m === 1 ? 1 : 0)))
      // Cue c is pattern c mod P with 10 % of its units flipped.
      const targets = ops.take(
        patterns,
        tensor(
          Array.from({ length: CUES }, (_, c) => c % p),
          { dtype: 'i32' },
        ),
      )
      const cues = energy.hopfield.flipUnits(cueKey, targets, FLIP)
      const r = await recallAsync(W, cues, targets, orderKey)
      per.recalled += mean(Array.from(await r.m.data(), (m) => (m >= RECALLED ? 1 : 0)))
      per.sweeps += mean(await r.sweeps.data())
      per.cycles += mean(await (await recallSync(W, cues)).data())
    }
    loads.push({
      recalled: per.recalled / SETS,
      fixed: per.fixed / SETS,
      cycles: per.cycles / SETS,
      sweeps: per.sweeps / SETS,
    })
  }
  return loads
}

/** The α where the rate first falls below ½, linearly interpolated; undefined if it never does. */
function halfway(rates: readonly number[]): number | undefined {
  for (let i = 1; i < rates.length; i++)
    if (rates[i] < 0.5 && rates[i - 1] >= 0.5)
      return ALPHAS[i - 1] + ((rates[i - 1] - 0.5) / (rates[i - 1] - rates[i])) * (ALPHAS[i] - ALPHAS[i - 1])
  return rates[0] < 0.5 ? ALPHAS[0] : undefined
}

console.log(
  `1. capacity: recall from cues with ${FLIP * 100} % of units flipped (m ≥ ${RECALLED} counts), ` +
    `${CUES * SETS} cues per cell, asynchronous sweeps (at most ${MAX_SWEEPS}), on ${backend.name}`,
)
const started = performance.now()
const results = new Map<number, Load[]>()
for (const n of SIZES) results.set(n, await capacity(n))
console.log(`   (${((performance.now() - started) / 1000).toFixed(1)} s)`)

const pct = (x: number) => `${(100 * x).toFixed(0)}`.padStart(4)
console.log('\nrecall % / exact fixed points % / sync 2-cycles % / mean sweeps')
console.log(`    α   P/N  ${SIZES.map((n) => `N = ${n}`.padEnd(22)).join('')}`)
for (const [a, alpha] of ALPHAS.entries())
  console.log(
    `${alpha.toFixed(2).padStart(5)}        ${SIZES.map((n) => {
      const l = (results.get(n) as Load[])[a]
      return `${pct(l.recalled)} ${pct(l.fixed)} ${pct(l.cycles)} ${l.sweeps.toFixed(1).padStart(5)}   `
    }).join('')}`,
  )
console.log(
  `\nwhere the recall rate falls below 50 % (theory for N → ∞: α_c = ${ALPHA_C}, Amit, Gutfreund and Sompolinsky 1985)`,
)
const crossings = SIZES.map((n) => halfway((results.get(n) as Load[]).map((l) => l.recalled)))
for (const [i, n] of SIZES.entries())
  console.log(
    `  N = ${String(n).padStart(3)}   α = ${crossings[i] === undefined ? 'not within the range' : crossings[i].toFixed(3)}`,
  )

const chart = plot.lineChart({
  title: 'Hopfield recall from 10 % flipped cues against the load α = P/N',
  xLabel: 'α = P/N',
  yLabel: `fraction recalled (m ≥ ${RECALLED})`,
  yDomain: [0, 1],
  series: [
    ...SIZES.map((n) => ({ name: `N = ${n}`, x: ALPHAS, y: (results.get(n) as Load[]).map((l) => l.recalled) })),
    { name: `α_c = ${ALPHA_C} (AGS 1985)`, x: [ALPHA_C, ALPHA_C], y: [0, 1], dashed: true, color: '#000000' },
  ],
})
const fixedChart = plot.lineChart({
  title: 'stored patterns that are exact fixed points',
  xLabel: 'α = P/N',
  yLabel: 'fraction',
  yDomain: [0, 1],
  series: [
    ...SIZES.map((n) => ({ name: `N = ${n}`, x: ALPHAS, y: (results.get(n) as Load[]).map((l) => l.fixed) })),
    { name: `α_c = ${ALPHA_C}`, x: [ALPHA_C, ALPHA_C], y: [0, 1], dashed: true, color: '#000000' },
  ],
})
await plot.writeSvg(join(outDir, 'capacity.svg'), plot.sideBySide([chart, fixedChart]))
console.log(`wrote ${join(outDir, 'capacity.svg')}`)

const low = ALPHAS.findIndex((a) => a >= 0.04)
claim(
  SIZES.every((n) => (results.get(n) as Load[])[low].recalled >= 0.95),
  `capacity: below α = 0.05 fewer than 95 % of the cues were recalled for some N`,
)
claim(
  SIZES.every((n) => ((results.get(n) as Load[]).at(-1) as Load).recalled < 0.5),
  `capacity: at α = ${ALPHAS.at(-1)} half or more of the cues were still recalled for some N`,
)
claim(
  crossings.every((c) => c !== undefined && c > 0.1 && c < 0.2),
  `capacity: the recall rate should fall below 50 % between α = 0.1 and 0.2 for every N, got ${crossings.map((c) => c?.toFixed(3)).join(', ')}`,
)

// ---------------------------------------------------------------- 2. MNIST completion

const SIDE = 28
const PIXELS = SIDE * SIDE
const POOL = shortOr(20, 100)
const { train } = await io.loadMnist()
const labels = Array.from(train.labels.dataSync())
const pool: number[] = []
const seen = new Array<number>(10).fill(0)
for (const [k, label] of labels.entries()) if (seen[label]++ < POOL) pool.push(k)
const poolImages = ops.take(train.images, tensor(pool, { dtype: 'i32' }))
const binary = ops.where(ops.greater(poolImages, 0.5), 1, -1) as Tensor
const poolPatterns = Array.from({ length: pool.length }, (_, i) =>
  binary.dataSync().slice(i * PIXELS, (i + 1) * PIXELS),
)
const overlaps = energy.hopfield.overlap(ops.expandDims(binary, 1), ops.expandDims(binary, 0)).dataSync()
const absOverlap = (i: number, j: number) => Math.abs(overlaps[i * pool.length + j])

/** Greedy from every start: add the digit of a new class whose largest |overlap| with the set is smallest. */
function leastOverlapping(k: number): { set: number[]; worst: number } {
  let best = { set: [] as number[], worst: Number.POSITIVE_INFINITY }
  for (let start = 0; start < pool.length; start++) {
    const set = [start]
    while (set.length < k) {
      let pick = -1
      let pickWorst = Number.POSITIVE_INFINITY
      for (let c = 0; c < pool.length; c++) {
        if (set.some((s) => labels[pool[s]] === labels[pool[c]])) continue
        const worst = Math.max(...set.map((s) => absOverlap(s, c)))
        if (worst < pickWorst) [pick, pickWorst] = [c, worst]
      }
      set.push(pick)
    }
    const worst = Math.max(...set.flatMap((s, i) => set.slice(i + 1).map((t) => absOverlap(s, t))))
    if (worst < best.worst) best = { set, worst }
  }
  return best
}

const recallDigits = jit(
  (W: energy.hopfield.Weights, cues: Tensor, key: random.Key) =>
    energy.hopfield.recall(W, cues, { key, maxSweeps: 30 }),
  { backend },
)

async function complete(members: readonly number[], name: string) {
  const patterns = tensor(members.map((i) => Array.from(poolPatterns[i])))
  const W = energy.hopfield.hebbian(patterns)
  const flipped = energy.hopfield.flipUnits(random.key(21), patterns, 0.25)
  const lowerHalf = tensor(Array.from({ length: PIXELS }, (_, j) => (j >= PIXELS / 2 ? 1 : 0)))
  const noise = energy.hopfield.randomPatterns(random.key(22), members.length, PIXELS)
  const halfNoise = ops.where(ops.greater(lowerHalf, 0), noise, patterns) as Tensor
  const fromFlipped = await recallDigits(W, flipped, random.key(23))
  const fromHalf = await recallDigits(W, halfNoise, random.key(24))
  const m = (s: Tensor) => Array.from(energy.hopfield.overlap(s, patterns).dataSync())
  // One row per digit: stored, 25 % flipped, recalled, lower half noise, recalled.
  const versions = [patterns, flipped, fromFlipped.state, halfNoise, fromHalf.state]
  const overlapsOf = versions.map(m)
  const captions = ['digit', 'flip', 'recall', 'half', 'recall']
  const svg = plot.imageGrid({
    images: members.flatMap((_, i) => versions.map((v) => v.dataSync().slice(i * PIXELS, (i + 1) * PIXELS))),
    height: SIDE,
    width: SIDE,
    columns: versions.length,
    domain: [-1, 1],
    title: name,
    labels: members.flatMap((d, i) =>
      versions.map((_, k) =>
        k === 0 ? `digit ${labels[pool[d]]}` : `${captions[k]} m=${overlapsOf[k][i].toFixed(2)}`,
      ),
    ),
  })
  return { svg, flipped: m(fromFlipped.state), half: m(fromHalf.state), cueFlipped: m(flipped), cueHalf: m(halfNoise) }
}

const K = 3
const chosen = leastOverlapping(K)
console.log(
  `\n2. MNIST completion: ${K} digits stored (classes ${chosen.set.map((i) => labels[pool[i]]).join(', ')}; ` +
    `training indices ${chosen.set.map((i) => pool[i]).join(', ')}), largest |overlap| between them ${chosen.worst.toFixed(3)}`,
)
const three = await complete(chosen.set, `${K} digits stored: recall from 25 % flips, from half noise`)
const fmt = (xs: number[]) => xs.map((x) => x.toFixed(3).padStart(7)).join('')
console.log(`  overlap with the stored digit          ${chosen.set.map((i) => `  ${labels[pool[i]]}    `).join('')}`)
console.log(`  cue, 25 % flipped                     ${fmt(three.cueFlipped)}`)
console.log(`  recalled                              ${fmt(three.flipped)}`)
console.log(`  cue, lower half noise                 ${fmt(three.cueHalf)}`)
console.log(`  recalled                              ${fmt(three.half)}`)
await plot.writeSvg(join(outDir, 'mnist.svg'), three.svg)
console.log(`wrote ${join(outDir, 'mnist.svg')}`)

// One digit of each class, the first in the pool: mean |overlap| far above random patterns'.
const firstOfClass = Array.from({ length: 10 }, (_, c) => pool.findIndex((k) => labels[k] === c))
const meanOverlap = mean(firstOfClass.flatMap((i, a) => firstOfClass.slice(a + 1).map((j) => absOverlap(i, j))))
const ten = await complete(firstOfClass, '10 digits stored (one per class): mixture states')
console.log(
  `  one of each class (10 digits, mean |overlap| ${meanOverlap.toFixed(2)}; random patterns: ${(1 / Math.sqrt(PIXELS)).toFixed(2)}): ` +
    `recalled from 25 % flipped, m = ${ten.flipped.map((x) => x.toFixed(2)).join(' ')}`,
)
await plot.writeSvg(join(outDir, 'mnist-ten.svg'), ten.svg)
console.log(`wrote ${join(outDir, 'mnist-ten.svg')}`)
claim(
  three.flipped.every((m) => m >= 0.99),
  `MNIST: not every stored digit was recalled from 25 % flipped pixels (m = ${three.flipped.join(', ')})`,
)

// ---------------------------------------------------------------- 3. speed

const RECALL_SWEEPS = 4
const timings: string[] = []
const digits = tensor(firstOfClass.map((i) => Array.from(poolPatterns[i])))
const W784 = energy.hopfield.hebbian(digits)
const cues784 = energy.hopfield.flipUnits(random.key(31), digits, 0.25)
/** Milliseconds of the first call (tracing and compiling included) and the mean of the next ones. */
async function time(call: (i: number) => Promise<Tensor>, calls: number): Promise<[number, number]> {
  let t = performance.now()
  await (await call(0)).data()
  const first = performance.now() - t
  t = performance.now()
  for (let i = 1; i <= calls; i++) await (await call(i)).data()
  return [first, (performance.now() - t) / calls]
}
for (const b of [cpuBackend(), await defaultBackend()]) {
  const sweep = jit(
    (W: energy.hopfield.Weights, s: Tensor, key: random.Key) =>
      energy.hopfield.updateAsync(W, s, energy.hopfield.randomOrder(key, PIXELS)),
    { backend: b },
  )
  const recallAll = jit(
    (W: energy.hopfield.Weights, s: Tensor, key: random.Key) =>
      energy.hopfield.recall(W, s, { key, maxSweeps: RECALL_SWEEPS }),
    { backend: b },
  )
  const [firstSweep, perSweep] = await time((i) => sweep(W784, cues784, random.key(i)), shortOr(1, 5))
  const [, perRecall] = await time(async (i) => (await recallAll(W784, cues784, random.key(i))).state, shortOr(1, 3))
  const stats = (await recallAll.compiled(W784, cues784, random.key(1))).stats()
  const sweeps = Math.max(...(await (await recallAll(W784, cues784, random.key(1))).sweeps.data()))
  timings.push(
    `  ${b.name.split(':')[0].padEnd(34)} ${perSweep.toFixed(1).padStart(8)} ms a sweep (first call, compiling: ` +
      `${firstSweep.toFixed(0)} ms); a recall (maxSweeps ${RECALL_SWEEPS}, ${sweeps} used) ${perRecall.toFixed(0)} ms` +
      (stats.submissions > 0 ? `, ${stats.submissions} submission(s), ${stats.dispatches} dispatches` : ''),
  )
}
console.log(`\n3. N = ${PIXELS} units, a batch of 10 states (the ten digits, 25 % flipped), one jitted call each`)
for (const line of timings) console.log(line)
if (short()) console.log('(short mode: sizes reduced)')
