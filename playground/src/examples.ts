/** The transforms panel's starting sources: each defines `f` and `args`; every export of adjoint is in scope. */
export const EXAMPLES: Readonly<Record<string, string>> = {
  'sin(x)·x, summed': `// f and its example arguments. Every export of adjoint is in scope
// (ops, tensor, scan, nn, …), or import them: import { ops } from 'adjoint'
const f = (x: Tensor<[3]>) => ops.sum(ops.mul(ops.sin(x), x))
const args = [tensor([0.5, 1, 2])]
`,
  'a tanh layer': `// The README's first program: a loss of the weights w and a batch x.
const f = (w: Tensor<[3, 2]>, x: Tensor<['B', 3]>) => ops.sum(ops.tanh(ops.matmul(x, w)))
const args = [
  tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]),
  tensor([[1, 0, 1], [0, 1, 0]]),
]
`,
  'logistic loss': `// Logistic regression's mean loss log(1 + exp(−y·x·w)), labels ±1.
const f = (w: Tensor<[2]>, x: Tensor<[4, 2]>, y: Tensor<[4]>) =>
  ops.mean(ops.softplus(ops.neg(ops.mul(y, ops.matmul(x, w)))))
const args = [
  tensor([0.5, -0.25]),
  tensor([[1, 2], [2, 1], [-1, -1], [-2, 0]]),
  tensor([1, 1, -1, -1]),
]
`,
  'a loop (scan)': `// A product carried through a scan: grad of a scan is a forward and a reverse scan.
const f = (xs: Tensor<[4]>) => {
  const step = (c: Tensor<[]>, x: Tensor<[]>) => [ops.mul(c, ops.tanh(x)), c] as const
  const [last] = scan(step, scalar(1), xs)
  return last
}
const args = [tensor([0.5, 1, 1.5, 2])]
`,
  'a branch (cond)': `// cond traces both branches; its derivative is a cond of their derivatives.
const f = (x: Tensor<[]>) => cond(ops.greater(x, 0), (v: Tensor<[]>) => ops.square(v), (v: Tensor<[]>) => ops.sin(v), x)
const args = [scalar(0.7)]
`,
}
