/**
 * Type-level sizes of windowed ops (convolution, its transpose, pooling) and
 * small-literal arithmetic for them. Sizes are computed only for number
 * literals up to `Limit`; a named dim, a plain `number` or a larger literal
 * gives `number`, so untyped and very large shapes still compile.
 *
 * Output size of a window of R taps with dilation r and stride S over N
 * positions padded by p on each side (Deep Learning, COMP613 Advanced Topics
 * in Machine Learning (lecture notes), "Image Recognition with Convolutional
 * Networks"):
 *   M = floor((N + 2p − R′)/S) + 1,  R′ = R + (R − 1)(r − 1).
 * SAME padding follows TensorFlow: M = ceil(N/S), the total padding
 * max((M − 1)S + R′ − N, 0) split with the smaller half first (for S = 1 and
 * odd R′ this is the notes' p = (R′ − 1)/2 on both sides). VALID is p = 0.
 * The transpose maps M positions back to N: (M − 1)S + R′ − 2p, and M·S for SAME.
 */
import type { Dim } from './types.ts'

/** Largest literal the arithmetic below works on; larger sizes become `number`. */
type Limit = 2000

type Digit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9'
type DigitTuple = {
  '0': []
  '1': [0]
  '2': [0, 0]
  '3': [0, 0, 0]
  '4': [0, 0, 0, 0]
  '5': [0, 0, 0, 0, 0]
  '6': [0, 0, 0, 0, 0, 0]
  '7': [0, 0, 0, 0, 0, 0, 0]
  '8': [0, 0, 0, 0, 0, 0, 0, 0]
  '9': [0, 0, 0, 0, 0, 0, 0, 0, 0]
}
type Times10<T extends 0[]> = [...T, ...T, ...T, ...T, ...T, ...T, ...T, ...T, ...T, ...T]
/** A tuple of length N, built digit by digit (so N need not be below the recursion limit). */
type Tup<
  N extends number,
  S extends string = `${N}`,
  Acc extends 0[] = [],
> = S extends `${infer D extends Digit}${infer Rest}` ? Tup<N, Rest, [...Times10<Acc>, ...DigitTuple[D]]> : Acc

type IsSmall<X> = [X] extends [number]
  ? number extends X
    ? false
    : `${X}` extends `${bigint}`
      ? `${X}` extends `-${string}`
        ? false
        : Tup<Limit> extends [...Tup<X & number>, ...unknown[]]
          ? true
          : false
      : false
  : false
/** All of the dims are small non-negative integer literals. */
type AllSmall<L extends readonly unknown[]> = L extends readonly [infer X, ...infer R]
  ? IsSmall<X> extends true
    ? AllSmall<R>
    : false
  : true

// The operands are unconstrained (and read as `X & number`) so that nested
// uses such as Add<A, Mul<B, C>> need no proof that the inner result is a number.
type Add<A, B> = [...Tup<A & number>, ...Tup<B & number>]['length']
/** A − B, or never when B > A. */
type Sub<A, B> = Tup<A & number> extends [...Tup<B & number>, ...infer R] ? R['length'] : never
type Mul<A, B, I extends 0[] = [], Acc extends 0[] = []> = I['length'] extends B
  ? Acc['length']
  : Mul<A, B, [...I, 0], [...Acc, ...Tup<A & number>]>
/** floor(A / B) for B ≥ 1, by repeated subtraction. */
type Div<A, B> = [B] extends [1] ? A : DivLoop<Tup<A & number>, Tup<B & number>>
type DivLoop<A extends 0[], B extends 0[], Q extends 0[] = []> = A extends [...B, ...infer R extends 0[]]
  ? DivLoop<R, B, [...Q, 0]>
  : Q['length']

/** The dilated extent R′ = R + (R − 1)(r − 1) (COMP613 notes, "Image Recognition with Convolutional Networks"). */
export type DilatedExtent<R, D> = Add<R, Mul<Sub<R, 1>, Sub<D, 1>>>

/** Padding of a windowed op: SAME, VALID, p on every side, or [[top, bottom], [left, right]]. */
export type Padding = 'SAME' | 'VALID' | number | readonly [readonly [number, number], readonly [number, number]]

/** `[a, b]` from a number or a pair. */
export type PairOf<X> = X extends readonly [infer A, infer B] ? [A, B] : [X, X]

/**
 * Output size of a window op along one axis: N positions, R taps, stride S,
 * dilation D, padding P (see the header). `never` when a VALID or explicitly
 * padded window does not fit; `number` when not computable from literals.
 */
export type WindowOut<N, R, S, D, P> =
  AllSmall<[N, R, S, D]> extends false
    ? number
    : [P] extends ['SAME']
      ? Div<Add<N, Sub<S, 1>>, S>
      : [P] extends ['VALID']
        ? WindowOutPadded<N, R, S, D, 0>
        : IsSmall<P> extends true
          ? WindowOutPadded<N, R, S, D, P>
          : number
type WindowOutPadded<N, R, S, D, P> =
  Sub<Add<N, Mul<P, 2>>, DilatedExtent<R, D>> extends infer Span
    ? [Span] extends [never]
      ? never
      : Add<Div<Span, S>, 1>
    : never

/** Output size of the transpose of a window op along one axis: M positions back to (M − 1)S + R′ − 2p (SAME: M·S). */
export type WindowTransposeOut<M, R, S, D, P> =
  AllSmall<[M, R, S, D]> extends false
    ? number
    : [P] extends ['SAME']
      ? Mul<M, S>
      : [P] extends ['VALID']
        ? WindowTransposeOutPadded<M, R, S, D, 0>
        : IsSmall<P> extends true
          ? WindowTransposeOutPadded<M, R, S, D, P>
          : number
type WindowTransposeOutPadded<M, R, S, D, P> = [M] extends [0]
  ? never
  : Sub<Add<Mul<Sub<M, 1>, S>, DilatedExtent<R, D>>, Mul<P, 2>>

/** The sum of dims when all are small literals, else `number`. */
export type SumOfDims<L extends readonly Dim[]> = AllSmall<L> extends true ? SumLoop<L> : number
type SumLoop<L extends readonly unknown[], Acc extends 0[] = []> = L extends readonly [
  infer X extends number,
  ...infer R,
]
  ? SumLoop<R, [...Acc, ...Tup<X>]>
  : Acc['length']
