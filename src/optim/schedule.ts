/**
 * Learning-rate schedules: functions of the step-count tensor (the i32
 * scalar in an optimiser's state, 0 before the first update), built from
 * tensor ops so that a jitted training step computes the rate on the device
 * from the count it is given, instead of freezing a host number at trace time.
 *
 * There is no floor primitive; for x ≥ 0, converting f32 → i32 → f32
 * truncates, which is the floor. Counts are never negative.
 */
import * as ops from '../ops.ts'
import type { FloatDType } from '../dtype.ts'
import type { Tensor } from '../tensor.ts'
import { scalar } from '../ops.ts'
import { checkNonNegative, checkPositive, checkPositiveInteger, type Count } from './optimiser.ts'

/** The rate after `count` updates, in `dtype` (f32 unless asked otherwise). */
export type Schedule = (count: Count, dtype?: FloatDType) => Tensor<[], FloatDType>

/** A learning rate: a constant or a schedule. */
export type LearningRate = number | Schedule

const asFloat = (count: Count, dtype: FloatDType): Tensor<[], FloatDType> => ops.astype(count, dtype)
const floorNonNegative = (x: Tensor<[], FloatDType>): Tensor<[], FloatDType> =>
  ops.astype(ops.astype(x, 'i32'), x.dtype)

/** The constant learning rate `value`. */
export function constant(value: number): Schedule {
  checkNonNegative('constant', 'value', value)
  return (_count, dtype = 'f32') => scalar(value, dtype)
}

/** Piecewise constant: init · factor^⌊t / every⌋ (the rate drops by `factor` every `every` steps). */
export function stepDecay(options: {
  readonly init: number
  readonly factor: number
  readonly every: number
}): Schedule {
  const init = checkPositive('stepDecay', 'init', options.init)
  const factor = checkPositive('stepDecay', 'factor', options.factor)
  const every = checkPositiveInteger('stepDecay', 'every', options.every)
  return (count, dtype = 'f32') =>
    ops.mul(ops.pow(factor, floorNonNegative(ops.div(asFloat(count, dtype), every))), init)
}

/** init · rate^(t / steps): multiplied by `rate` every `steps` updates, smoothly in between. */
export function exponentialDecay(options: {
  readonly init: number
  readonly rate: number
  readonly steps?: number
}): Schedule {
  const init = checkPositive('exponentialDecay', 'init', options.init)
  const rate = checkPositive('exponentialDecay', 'rate', options.rate)
  const steps = checkPositive('exponentialDecay', 'steps', options.steps ?? 1)
  return (count, dtype = 'f32') => ops.mul(ops.pow(rate, ops.div(asFloat(count, dtype), steps)), init)
}

/**
 * The triangular cyclic rate (Smith, "Cyclical learning rates", 2017): from
 * `min` up to `max` over `halfPeriod` steps and back down, repeating.
 *   cycle = ⌊1 + t / (2h)⌋,  x = |t / h − 2·cycle + 1|,  lr = min + (max − min)·max(0, 1 − x)
 */
export function cyclic(options: { readonly min: number; readonly max: number; readonly halfPeriod: number }): Schedule {
  const min = checkNonNegative('cyclic', 'min', options.min)
  const max = checkPositive('cyclic', 'max', options.max)
  if (max < min) throw new Error(`cyclic: max must be ≥ min, got min ${min} and max ${max}`)
  const h = checkPositiveInteger('cyclic', 'halfPeriod', options.halfPeriod)
  return (count, dtype = 'f32') => {
    const t = asFloat(count, dtype)
    const cycle = floorNonNegative(ops.add(ops.div(t, 2 * h), 1))
    const x = ops.abs(ops.add(ops.sub(ops.div(t, h), ops.mul(cycle, 2)), 1))
    return ops.add(ops.mul(ops.maximum(ops.sub(1, x), 0), max - min), min)
  }
}

/** The rate as a tensor of `dtype` after `count` updates. */
export function rateAt(lr: LearningRate, count: Count, dtype: FloatDType): Tensor<[], FloatDType> {
  if (typeof lr === 'number') return scalar(lr, dtype)
  const value = lr(count, dtype)
  const aval = (value as Tensor | undefined)?.aval
  if (aval === undefined || aval.shape.length !== 0 || (aval.dtype !== 'f32' && aval.dtype !== 'f64'))
    throw new Error(
      `learning-rate schedule: expected a floating-point scalar tensor, got ${aval ? `${aval.dtype}[${aval.shape.join(',')}]` : typeof value}`,
    )
  return ops.astype(value, dtype)
}

/** A schedule's value after `step` updates, as a host number (for plots and checks). */
export function scheduleValue(lr: LearningRate, step: number): number {
  if (!Number.isInteger(step) || step < 0)
    throw new Error(`scheduleValue: step must be a non-negative integer, got ${step}`)
  return rateAt(lr, scalar(step, 'i32'), 'f64').item()
}

export const checkLearningRate = (what: string, lr: LearningRate): LearningRate => {
  if (typeof lr === 'function') return lr
  if (typeof lr !== 'number')
    throw new Error(`${what}: lr must be a number or a schedule (count => rate), got ${typeof lr}`)
  return checkPositive(what, 'lr', lr)
}
