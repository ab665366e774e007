/**
 * Finite differences against backpropagation (*Multi-level networks*
 * (lecture notes), "Computing the gradient": "a naive way is to simply
 * compute finite differences for each parameter … complexity for each
 * training step is O(W²)", then "Back propagation"; A. Martins, Deep
 * Learning: A Shallow Tutorial, NLPL Winter School 2018, "Gradient
 * Checking").
 *
 * A finite-difference gradient evaluates the loss once per weight (W + 1
 * times with forward differences), and each evaluation costs O(W): O(W²) in
 * all. Backpropagation runs the network once forwards and once backwards:
 * O(W). The networks here have L tanh layers of width 8 (examples/lib/
 * gradient-cost.ts), from L = 1 (W = 81 weights) to L = 1365 (W = 98,289),
 * and one gradient is costed three ways:
 *
 *  - how many times the program runs the network's loop over its layers
 *    (exactly W + 1 and 2), and the arithmetic operations of the traced
 *    programs (exact for the traced program: slopes 2 and 1 on log–log axes);
 *  - time on the CPU interpreter (jit with the CPU backend, after a warm-up
 *    call, the least of 5 repeats; wall and process CPU time). Backprop is
 *    timed whole; finite differences are timed over all W coordinates up to
 *    W = 1521 and, beyond, over the first 8 coordinates and scaled by W/8
 *    (every coordinate runs the same program step), which would otherwise
 *    take hours (the rows marked *).
 *
 * Then, on one network, the finite-difference gradient against backprop's:
 * central differences agree to about 10⁻⁹ relative error, forward
 * differences to about 10⁻⁶ (their error is O(Δ)).
 *
 * Writes out/finite-differences/cost.svg (log–log: time against W, both
 * ways, with the operation counts).
 *
 *   npx tsx examples/finite-differences.ts
 */
import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import { cpuBackend, grad, jit, ops, plot } from '../index.ts'
import {
  deepNet,
  finiteDifferences,
  gradientPrograms,
  logLogSlope,
  loopRuns,
  netData,
  operationCount,
  relativeDistance,
  timeGradients,
  type GradientTimes,
} from './lib/gradient-cost.ts'
import { claim, outPath, shortOr } from './lib/short.ts'

const backend = cpuBackend()
const WIDTH = 8
const BATCH = 256
/** Depths with L_{k+1} = 4L_k + 1, so that W grows by a little more than 4× each time. */
const DEPTHS = shortOr([1, 5, 21], [1, 5, 21, 85, 341, 1365])
/** Finite differences are timed over every coordinate up to this W, over SAMPLED of them beyond. */
const FULL_UP_TO = shortOr(400, 1600)
const SAMPLED = 8
const outDir = outPath('finite-differences')

const pad = (s: string | number, n: number) => String(s).padStart(n)
const ms = (t: number) => (t >= 1000 ? `${(t / 1000).toFixed(1)} s` : `${t.toPrecision(3)} ms`)

console.log(
  `gradients of ½·mean squared error of tanh networks of width ${WIDTH} and depth L, batch ${BATCH}, f64, on ${backend.name}`,
)
console.log(
  `\n${pad('L', 5)}${pad('W', 8)}${pad('runs FD', 9)}${pad('runs BP', 9)}${pad('ops FD', 11)}${pad('ops BP', 10)}` +
    `${pad('FD wall', 11)}${pad('FD cpu', 11)}${pad('BP wall', 10)}${pad('BP cpu', 10)}${pad('FD/BP', 8)}`,
)
const rows: (GradientTimes & { fdOps: number; bpOps: number; sampled: boolean })[] = []
let runsExact = true
for (const L of DEPTHS) {
  const net = deepNet(WIDTH, L)
  const programs = gradientPrograms(net, BATCH)
  const runsFd = loopRuns(programs.fd, L)
  const runsBp = loopRuns(programs.backprop, L)
  runsExact &&= runsFd === net.W + 1 && runsBp === 2
  const sampled = net.W > FULL_UP_TO
  const times = await timeGradients(net, BATCH, backend, {
    coordinates: sampled ? SAMPLED : net.W,
    repeats: sampled ? 5 : shortOr(3, 2),
  })
  const row = { ...times, fdOps: operationCount(programs.fd), bpOps: operationCount(programs.backprop), sampled }
  rows.push(row)
  console.log(
    `${pad(L, 5)}${pad(net.W, 8)}${pad(runsFd, 9)}${pad(runsBp, 9)}${pad(row.fdOps.toExponential(2), 11)}${pad(row.bpOps.toExponential(2), 10)}` +
      `${pad(ms(row.fd.wall) + (sampled ? '*' : ' '), 11)}${pad(ms(row.fd.cpu), 11)}${pad(ms(row.backprop.wall), 10)}${pad(ms(row.backprop.cpu), 10)}` +
      `${pad(Math.round(row.fd.cpu / row.backprop.cpu), 8)}`,
  )
}
console.log(`* finite differences timed over ${SAMPLED} of the W coordinates and scaled by W/${SAMPLED}`)
if (!runsExact) {
  console.error('the programs do not run the network W + 1 times (finite differences) and twice (backprop)')
  process.exitCode = 1
}

const Ws = rows.map((r) => r.W)
const slopes = {
  fdOps: logLogSlope(
    Ws,
    rows.map((r) => r.fdOps),
  ),
  bpOps: logLogSlope(
    Ws,
    rows.map((r) => r.bpOps),
  ),
  fdWall: logLogSlope(
    Ws,
    rows.map((r) => r.fd.wall),
  ),
  bpWall: logLogSlope(
    Ws,
    rows.map((r) => r.backprop.wall),
  ),
  fdCpu: logLogSlope(
    Ws,
    rows.map((r) => r.fd.cpu),
  ),
  bpCpu: logLogSlope(
    Ws,
    rows.map((r) => r.backprop.cpu),
  ),
}
console.log(`\nslopes of log cost against log W (least squares over W = ${Ws[0]} … ${Ws.at(-1)}):`)
console.log(`${pad('', 22)}${pad('operations', 12)}${pad('wall time', 11)}${pad('CPU time', 10)}`)
console.log(
  `${'finite differences'.padEnd(22)}${pad(slopes.fdOps.toFixed(3), 12)}${pad(slopes.fdWall.toFixed(2), 11)}${pad(slopes.fdCpu.toFixed(2), 10)}`,
)
console.log(
  `${'backpropagation'.padEnd(22)}${pad(slopes.bpOps.toFixed(3), 12)}${pad(slopes.bpWall.toFixed(2), 11)}${pad(slopes.bpCpu.toFixed(2), 10)}`,
)

// Where a measured full run exists beside the sampled estimate, show how close the scaling is.
const check = rows.filter((r) => !r.sampled).at(-1)
if (check !== undefined && rows.some((r) => r.sampled)) {
  const net = deepNet(WIDTH, DEPTHS[rows.indexOf(check)])
  const sampled = await timeGradients(net, BATCH, backend, { coordinates: SAMPLED })
  console.log(
    `at W = ${check.W}: all ${check.W} coordinates took ${ms(check.fd.cpu)} CPU; ${SAMPLED} of them scaled by W/${SAMPLED}, ${ms(sampled.fd.cpu)}`,
  )
}

// ---------------------------------------------------------------- do they agree?

const net = deepNet(WIDTH, 5)
const { theta, x, y } = netData(net, BATCH, 1)
const all = ops.arange(0, net.W, 1, 'i32')
const exact = (await jit(grad(net.loss), { backend })(theta, x, y)).dataSync()
const relativeError = (g: ArrayLike<number>) => relativeDistance(g, exact)
const central = relativeError(
  (await jit(finiteDifferences(net, 'central', 1e-5), { backend })(theta, x, y, all)).dataSync(),
)
const forward = relativeError(
  (await jit(finiteDifferences(net, 'forward', 1e-6), { backend })(theta, x, y, all)).dataSync(),
)
console.log(`\none network (L = 5, W = ${net.W}): ‖g_FD − g_BP‖/‖g_BP‖`)
console.log(`  central differences, Δ = 1e-5   ${central.toExponential(2)}`)
console.log(`  forward differences, Δ = 1e-6   ${forward.toExponential(2)}`)
// Exact enough to hold in short mode too: a wrong gradient would be off by order 1.
if (!(central < 1e-7 && forward < 1e-4)) {
  console.error('the finite-difference gradient does not agree with backprop')
  process.exitCode = 1
}

// ---------------------------------------------------------------- figure

const logW = Ws.map(Math.log10)
await mkdir(outDir, { recursive: true })
await plot.writeSvg(
  join(outDir, 'cost.svg'),
  plot.sideBySide([
    plot.lineChart({
      series: [
        { name: `finite differences (slope ${slopes.fdCpu.toFixed(2)})`, x: logW, y: rows.map((r) => r.fd.cpu) },
        { name: `backprop (slope ${slopes.bpCpu.toFixed(2)})`, x: logW, y: rows.map((r) => r.backprop.cpu) },
      ],
      title: 'CPU time of one gradient (ms)',
      xLabel: 'log₁₀ W',
      yLabel: 'ms',
      logY: true,
    }),
    plot.lineChart({
      series: [
        { name: `finite differences (slope ${slopes.fdOps.toFixed(2)})`, x: logW, y: rows.map((r) => r.fdOps) },
        { name: `backprop (slope ${slopes.bpOps.toFixed(2)})`, x: logW, y: rows.map((r) => r.bpOps) },
      ],
      title: 'arithmetic operations of one gradient',
      xLabel: 'log₁₀ W',
      yLabel: 'operations',
      logY: true,
    }),
  ]),
)
console.log(`\nwrote ${join(outDir, 'cost.svg')}`)

claim(
  Math.abs(slopes.fdOps - 2) < 0.1 && Math.abs(slopes.bpOps - 1) < 0.1,
  `operation slopes ${slopes.fdOps.toFixed(3)} and ${slopes.bpOps.toFixed(3)} are not near 2 and 1`,
)
claim(
  Math.abs(slopes.fdCpu - 2) < 0.3 && Math.abs(slopes.bpCpu - 1) < 0.3,
  `time slopes ${slopes.fdCpu.toFixed(2)} and ${slopes.bpCpu.toFixed(2)} are not near 2 and 1`,
)
