/**
 * The README's first program.
 *
 *   npx tsx examples/first-program.ts
 */
import { grad, makeProgram, ops, tensor, type Tensor } from '../src/index.ts'

const loss = (w: Tensor<[3, 2]>, x: Tensor<['B', 3]>) => ops.sum(ops.tanh(ops.matmul(x, w)))

const w = tensor([
  [0.1, 0.2],
  [0.3, 0.4],
  [0.5, 0.6],
])
const x = tensor([[1, 0, 1]])
console.log(grad(loss)(w, x).toString()) // ∂loss/∂w, shape [3, 2]
console.log(makeProgram(grad(loss))(w, x).toString()) // the derivative program, readable
// @ts-expect-error inner dimensions 3 and 2 differ: this line does not compile
export const wrong = () => ops.matmul(x, ops.transpose(w))
