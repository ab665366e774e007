/**
 * D. Barber, Neural Nets (lecture notes), "Parameter Tying":
 * E(θ) = [y − f(θ g(xθ))]² uses θ twice. Untied,
 * F(θ₁, θ₂) = [y − f(θ₁ g(xθ₂))]², and dE/dθ = ∂F/∂θ₁ + ∂F/∂θ₂ at θ₁ = θ₂ = θ.
 * Here f = tanh, g = sin; the closed forms are Barber's.
 *
 *   npx tsx examples/tying.ts
 */
import { grad, makeProgram, ops, scalar, untie, type Tensor } from '../src/index.ts'

const [x, y, theta] = [0.5, 2, 0.7]
const E = (t: Tensor<[]>) => ops.square(ops.sub(y, ops.tanh(ops.mul(t, ops.sin(ops.mul(x, t))))))
const th = scalar(theta, 'f64')

const untied = untie(E)(th)
console.log(`E uses θ ${untied.copies} times. The untied F(θ₁, θ₂) (first use first):\n${untied.program}\n`)
const [dInner, dOuter] = grad((copies: Tensor[]) => untied.apply(copies, th))([th, th])

const fp = (u: number) => 1 - Math.tanh(u) ** 2
const inner = Math.sin(x * theta)
const r = y - Math.tanh(theta * inner)
const rows: [string, number, number][] = [
  ['∂F/∂θ₁ (outer use)', dOuter.item(), -2 * r * fp(theta * inner) * inner],
  ['∂F/∂θ₂ (inner use)', dInner.item(), -2 * r * fp(theta * inner) * theta * x * Math.cos(x * theta)],
  [
    'sum of the partials',
    dOuter.item() + dInner.item(),
    -2 * r * fp(theta * inner) * (theta * Math.cos(x * theta) * x + inner),
  ],
  ['grad(E), tied', grad(E)(th).item(), -2 * r * fp(theta * inner) * (theta * Math.cos(x * theta) * x + inner)],
]
console.log('quantity               computed             closed form')
for (const [name, a, b] of rows)
  console.log(`${name.padEnd(22)} ${a.toFixed(15).padStart(19)}  ${b.toFixed(15).padStart(19)}`)
console.log(`\nIn reverse mode the sum is the transpose of the fan-out of θ:\n${makeProgram(grad(E))(th)}`)
