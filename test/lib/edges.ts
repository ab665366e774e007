/** Numerics at the edges, shared by the CPU suite (test/numerics.test.ts) and the WebGPU one (test/gpu/nan.test.ts). */
import { nn, ops, tensor, type Tensor } from '../../src/index.ts'

export interface EdgeCase {
  readonly fn: (...args: Tensor[]) => Tensor
  readonly args: Tensor[]
  readonly expected: number[]
}

export const edgeCases: [string, () => EdgeCase][] = [
  [
    'logsumexp([−∞, −∞]) = −∞',
    () => ({ fn: (x) => ops.logsumexp(x), args: [tensor([-Infinity, -Infinity])], expected: [-Infinity] }),
  ],
  [
    'logsumexp([∞, 1]) = ∞',
    () => ({ fn: (x) => ops.logsumexp(x), args: [tensor([Infinity, 1])], expected: [Infinity] }),
  ],
  [
    'logsumexp of rows, one all −∞',
    () => ({
      fn: (x) => ops.logsumexp(x, 1),
      args: [
        tensor([
          [-Infinity, -Infinity],
          [0, 0],
        ]),
      ],
      expected: [-Infinity, Math.fround(Math.log(2))],
    }),
  ],
  [
    'softmax cross-entropy with a masked logit',
    () => ({
      fn: (z, y) => nn.softmaxCrossEntropy(z, y as Tensor<[1], 'i32'>),
      args: [tensor([[0, -Infinity, 0]]), tensor([0], { dtype: 'i32' })],
      expected: [Math.fround(Math.log(2))],
    }),
  ],
  [
    'binary cross-entropy at p ∈ {0, 1} with the matching labels',
    () => ({
      fn: (p, y) => nn.binaryCrossEntropy(p, y),
      args: [tensor([0, 1, 0.5]), tensor([0, 1, 1])],
      expected: [Math.fround(Math.log(2) / 3)],
    }),
  ],
]
