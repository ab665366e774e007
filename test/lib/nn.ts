/**
 * What the layer suites (nn.test.ts, nn-conv.test.ts) share: tensor builders,
 * their tolerances, seeded samplers, and TensorFlow.js on its CPU backend as
 * the f32 reference.
 */
import * as tf from '@tensorflow/tfjs'
import { random, type Tensor, tensor } from '../../src/index.ts'
import type { Closeness } from './close.ts'

/** TensorFlow.js on its CPU backend: call from `beforeAll`. */
export async function tfOnCpu(): Promise<void> {
  await tf.setBackend('cpu')
  await tf.ready()
}

export type AnyT = Tensor<any, any>
export const values = (x: Tensor): number[] => Array.from(x.dataSync())
export const f64 = (data: readonly number[], shape: readonly number[]): AnyT => tensor(data, { shape, dtype: 'f64' })
export const f32 = (data: ArrayLike<number>, shape: readonly number[]): AnyT =>
  tensor(Array.from(data), { shape, dtype: 'f32' })
export const ids = (data: readonly number[], shape: readonly number[]): Tensor<any, 'i32'> =>
  tensor(data, { shape, dtype: 'i32' })

/** |actual − expected| ≤ 1e-12 + 1e-9·|expected| elementwise: f64 against closed forms. */
export const f64Tol: Closeness = { rtol: 1e-9, atol: 1e-12 }
/** f32 agreement with TensorFlow.js: relative to the element, with a floor of 1e-4 of the largest magnitude (and 1e-6). */
export const F32_RTOL = 2e-4
export const f32Tol: Closeness = { rtol: F32_RTOL, largest: F32_RTOL * 0.1, atol: 1e-6 }

/** Independent normal f32 tensors from one seed. */
export function sampler(seed: number, dtype: 'f32' | 'f64' = 'f32'): (shape: readonly number[]) => AnyT {
  const base = random.key(seed)
  let i = 0
  return (shape) => random.normal(random.foldIn(base, i++), shape, { dtype }) as AnyT
}

export const toTf = (x: Tensor): tf.Tensor => tf.tensor(Float32Array.from(x.dataSync()), [...x.shape], 'float32')
export const key = random.key(7)
