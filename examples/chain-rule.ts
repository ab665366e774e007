/**
 * The chain rule on a computation graph, as A. Martins works it out (Deep
 * Learning: A Shallow Tutorial, NLPL Winter School 2018, "Recap: Chain
 * Rule"): r = u·v with u = t² and v = 3t + 1, so
 *
 *   dr/dt = ∂r/∂u·du/dt + ∂r/∂v·dv/dt = v·2t + u·3 = 2t(3t + 1) + 3t² = 9t² + 2t,
 *
 * a sum over the two paths from t to r. The example prints the programs
 * that adjoint traces for r, for its forward-mode derivative (`jvp`: the
 * tangent rides along the values), for its linearisation at one t (the
 * tangent program alone, with u and v as constants) and for reverse mode
 * (`grad`: the transposed linear program, whose last `add`s are the sum
 * over paths), and then evaluates dr/dt both ways at several t against the
 * closed form 9t² + 2t, in f64. They must agree to 10⁻¹² (relative), or the
 * example exits 1.
 *
 *   npx tsx examples/chain-rule.ts
 */
import { grad, jvp, linearize, makeProgram, ops, tensor, type Tensor } from '../index.ts'

/** r(t) = u·v with u = t·t and v = 3t + 1. */
const r = (t: Tensor<[], 'f64'>) => {
  const u = ops.mul(t, t)
  const v = ops.add(ops.mul(t, 3), 1)
  return ops.mul(u, v)
}
const closedForm = (t: number) => 9 * t * t + 2 * t
const f64 = (v: number) => tensor(v, { dtype: 'f64' })

const t0 = f64(2)
console.log('r(t) = u·v, u = t², v = 3t + 1, traced at t = 2 (f64):\n')
console.log('the program of r:')
console.log(makeProgram(r)(t0).toString())
console.log('\njvp(r): (t, ṫ) ↦ (r, ṙ), the tangent computed beside each value:')
console.log(makeProgram((t: Tensor<[], 'f64'>, dt: Tensor<[], 'f64'>) => jvp(r, [t], [dt]))(t0, f64(1)).toString())
const [value, rLin] = linearize(r, t0)
console.log(
  `\nlinearize(r) at t = 2 (r = ${value.item()}): only the tangent program, with u(2) = 4 and v(2) = 7 as constants:`,
)
console.log(rLin.program.toString())
const gradProgram = makeProgram(grad(r))(t0)
console.log(
  '\ngrad(r): the transposed program; the adds at the end sum the paths, 3·u (through v) and t·v + v·t (u = t·t):',
)
console.log(gradProgram.toString())
console.log(`equations: ${JSON.stringify(gradProgram.counts())}`)

const ts = [-3, -2, -1, -0.5, -1 / 3, 0, 0.25, 0.5, 1, 2, 3, 10]
const pad = (s: string | number, n: number) => String(s).padStart(n)
console.log(
  `\n${pad('t', 8)}${pad('r(t)', 12)}${pad('2t·v', 12)}${pad('3u', 12)}${pad('jvp', 12)}${pad('grad', 12)}${pad('9t² + 2t', 12)}${pad('rel. error', 12)}`,
)
let worst = 0
for (const t of ts) {
  const u = t * t
  const v = 3 * t + 1
  const byJvp = jvp(r, [f64(t)], [f64(1)])[1].item()
  const byGrad = grad(r)(f64(t)).item()
  const exact = closedForm(t)
  const error = Math.max(Math.abs(byJvp - exact), Math.abs(byGrad - exact)) / Math.max(1, Math.abs(exact))
  worst = Math.max(worst, error)
  const num = (x: number) => pad(Number(x.toPrecision(8)), 12)
  console.log(
    `${pad(Number(t.toPrecision(4)), 8)}${num(r(f64(t)).item())}${num(2 * t * v)}${num(3 * u)}${num(byJvp)}${num(byGrad)}${num(exact)}${pad(error.toExponential(1), 12)}`,
  )
}
console.log(`\nlargest relative error of jvp and grad against 9t² + 2t: ${worst.toExponential(1)}`)
if (!(worst <= 1e-12)) {
  console.error('the derivatives do not agree with the closed form 9t² + 2t')
  process.exitCode = 1
}
