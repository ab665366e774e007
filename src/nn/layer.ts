/**
 * Layers: values `{ init(key) => params, apply(params, x) => y }` with typed
 * input and output shapes.
 *
 * Every layer has the full form `forward(params, state, x, ctx) => [y, state]`
 * and the short form `apply(params, x) = forward(params, initState(), x,
 * evaluation)[0]`. `state` holds what a layer carries between calls apart
 * from its parameters (batch norm's running statistics; `null` for most),
 * and `ctx` says whether the call is in training mode and gives the key that
 * randomness (dropout) draws from. Nothing is mutated: the new state is a
 * return value.
 *
 * Two kinds of layer type:
 *  - `Layer<In, Out, P, St>`: a fixed input shape `In` (names such as 'B'
 *    stand for any size), e.g. `dense(784, 256): Layer<['B', 784], ['B', 256]>`;
 *  - `ShapeLayer<Io, P, St>`: a layer whose output shape is a function `Io`
 *    of its input shape (activations keep it, a convolution computes its
 *    spatial size by the formula of Deep Learning, COMP613 Advanced Topics in
 *    Machine Learning (lecture notes), "Image Recognition with Convolutional
 *    Networks"; flatten multiplies out the trailing
 *    axes). Its `apply` is generic in the input shape.
 * `sequential` folds the shape functions over its layers at compile time, so
 * a layer whose input does not fit its predecessor's output does not compile,
 * and the message names the layer and both shapes.
 */
import type { DType } from '../dtype.ts'
import type { Key } from '../random.ts'
import type { PairOf, Padding, SumOfDims, WindowOut, WindowTransposeOut } from '../shape/conv.ts'
import type { CheckDeclared, Dim, FormatShape, Shape, SizeOf } from '../shape/types.ts'
import { formatAval, formatShape, type Tensor } from '../tensor.ts'

/** The state of a layer without state, and the parameters of a layer without parameters. */
export type Stateless = null

/** How a layer is called: training or evaluation, and the randomness of training. */
export interface Context {
  /** Training mode: dropout drops units; batch norm normalises by batch statistics and updates its running averages. */
  readonly training: boolean
  /** The key of training-mode randomness; combinators give each sublayer its own (by `random.foldIn`). */
  readonly key?: Key
  /** Parameters of the tied layers in scope (see `tie`). */
  readonly tied?: ReadonlyMap<symbol, unknown>
}

/** Evaluation mode: dropout is the identity, batch norm uses its running statistics. */
export const evaluation: Context = Object.freeze({ training: false })
/** Training mode, with the key that dropout draws its masks from. */
export const training = (key?: Key): Context => Object.freeze({ training: true, key })

// ---------------------------------------------------------------- type-level shape functions

/** A fixed input shape and output shape. */
export interface FixedIo<In extends Shape, Out extends Shape> {
  readonly kind: 'fixed'
  readonly in: In
  readonly out: Out
}
/** Output shape = input shape; the last axis must agree with `Last` unless it is `unknown`. */
export interface SameIo<Last = unknown> {
  readonly kind: 'same'
  readonly last: Last
}
/** [B, ...rest] → [B, product of rest]. */
export interface FlattenIo {
  readonly kind: 'flatten'
}
/** S → [...S, E]: an embedding lookup. */
export interface AppendIo<E extends Dim> {
  readonly kind: 'append'
  readonly dim: E
}
/**
 * A 2-D window op on NHWC input: kernel, stride, dilation (each a number or
 * a pair), padding; channels Cin → Cout (`unknown`: kept, as in pooling).
 */
export interface WindowIo<K, S, D, P, Cin, Cout, Transposed extends boolean> {
  readonly kind: 'window'
  readonly kernel: K
  readonly stride: S
  readonly dilation: D
  readonly padding: P
  readonly cin: Cin
  readonly cout: Cout
  readonly transposed: Transposed
}
/** [B, H, W, C] → [B, C]. */
export interface GlobalPoolIo {
  readonly kind: 'globalPool'
}
/** The layers one after another. */
export interface ChainIo<Ls extends readonly unknown[]> {
  readonly kind: 'chain'
  readonly layers: Ls
}
/** The layers side by side on one input; outputs concatenated on the last axis, or added. */
export interface ParallelIo<Ls extends readonly unknown[], Combine extends 'concat' | 'add'> {
  readonly kind: 'parallel'
  readonly layers: Ls
  readonly combine: Combine
}
/** x + f(x): the output of f must have the shape of its input. */
export interface ResidualIo<L> {
  readonly kind: 'residual'
  readonly layer: L
}

/** The shape function of a layer type. */
export type IoOf<L> = L extends { readonly __io?: infer I } ? Exclude<I, undefined> : never

type IsTuple<S extends readonly unknown[]> = number extends S['length'] ? false : true
type LastOf<S extends Shape> = S extends readonly [...unknown[], infer X extends Dim] ? X : never
type ToNumber<S> = S extends `${infer N extends number}` ? N : number
/** unknown (holds) or the message of a declared shape R that does not stand for S. */
type Fits<Op extends string, R extends Shape, S extends Shape> = CheckDeclared<Op, R, S>

/**
 * The output shape of shape function I on input S, or a string (the error
 * message) when S does not fit.
 */
export type OutShape<I, S extends Shape> =
  I extends FixedIo<infer In, infer Out>
    ? FixedOut<In, Out, S>
    : I extends SameIo<infer Last>
      ? SameOut<Last, S>
      : I extends FlattenIo
        ? FlattenOut<S>
        : I extends AppendIo<infer E>
          ? IsTuple<S> extends true
            ? [...S, E]
            : Shape
          : I extends WindowIo<infer K, infer St, infer D, infer P, infer Cin, infer Cout, infer T>
            ? WindowShape<K, St, D, P, Cin, Cout, T, S>
            : I extends GlobalPoolIo
              ? GlobalPoolOut<S>
              : I extends ChainIo<infer Ls>
                ? ChainOut<Ls, S>
                : I extends ParallelIo<infer Ls, infer C>
                  ? ParallelOut<Ls, C, S>
                  : I extends ResidualIo<infer L>
                    ? ResidualOut<L, S>
                    : Shape

type FixedOut<In extends Shape, Out extends Shape, S extends Shape> =
  Fits<`expected input ${FormatShape<In>}, got ${FormatShape<S>}`, In, S> extends infer F
    ? unknown extends F
      ? Out
      : F
    : never

type SameOut<Last, S extends Shape> = unknown extends Last
  ? S
  : IsTuple<S> extends false
    ? S
    : S extends readonly []
      ? `expected an input whose last axis is ${Last & Dim}, got a scalar`
      : unknown extends Fits<'', [Last & Dim], [LastOf<S>]>
        ? S
        : `expected an input whose last axis is ${Last & Dim}, got ${FormatShape<S>}`

type FlattenOut<S extends Shape> =
  IsTuple<S> extends false
    ? [number, number]
    : S extends readonly [infer B extends Dim, ...infer R extends Shape]
      ? [B, [SizeOf<R>] extends [never] ? number : ToNumber<SizeOf<R>>]
      : 'flatten: expected an input with a batch axis, got a scalar'

type GlobalPoolOut<S extends Shape> =
  IsTuple<S> extends false
    ? [number, number]
    : S extends readonly [infer B extends Dim, Dim, Dim, infer C extends Dim]
      ? [B, C]
      : `global pooling: expected an NHWC input [B, H, W, C], got ${FormatShape<S>}`

type WindowDim<N, K, St, D, P, T extends boolean> = T extends true
  ? WindowTransposeOut<N, K, St, D, P>
  : WindowOut<N, K, St, D, P>
/** Per-side padding pairs are not computed at the type level (the size becomes `number`). */
type SymmetricPadding<P> = P extends readonly unknown[] ? 'pairs' : P
type WindowShape<K, St, D, P, Cin, Cout, T extends boolean, S extends Shape> =
  IsTuple<S> extends false
    ? Shape
    : S extends readonly [infer B extends Dim, infer H, infer W, infer C extends Dim]
      ? unknown extends Cin
        ? WindowSpatial<B, H, W, C, K, St, D, P, T>
        : unknown extends Fits<'', [Cin & Dim], [C]>
          ? WindowSpatial<B, H, W, Cout & Dim, K, St, D, P, T>
          : `expected ${Cin & Dim} input channels, got ${FormatShape<S>}`
      : `expected an NHWC input [B, H, W, C], got ${FormatShape<S>}`
type WindowSpatial<B extends Dim, H, W, C extends Dim, K, St, D, P, T extends boolean> = [
  WindowDim<H, PairOf<K>[0], PairOf<St>[0], PairOf<D>[0], SymmetricPadding<P>, T>,
  WindowDim<W, PairOf<K>[1], PairOf<St>[1], PairOf<D>[1], SymmetricPadding<P>, T>,
] extends [infer Ho, infer Wo]
  ? [Ho] extends [never]
    ? `the window does not fit the height ${H & Dim}`
    : [Wo] extends [never]
      ? `the window does not fit the width ${W & Dim}`
      : [B, Ho & Dim, Wo & Dim, C]
  : never

type ChainOut<Ls, S extends Shape, I extends 0[] = []> = Ls extends readonly [infer L, ...infer R]
  ? OutShape<IoOf<L>, S> extends infer O
    ? O extends Shape
      ? ChainOut<R, O, [...I, 0]>
      : `sequential: layer ${I['length']}: ${O & string}`
    : never
  : S

type ParallelName<C> = C extends 'add' ? 'parallelAdd' : 'parallel'
type ParallelOuts<Ls, C, S extends Shape, I extends 0[] = [], Acc extends Shape[] = []> = Ls extends readonly [
  infer L,
  ...infer R,
]
  ? OutShape<IoOf<L>, S> extends infer O
    ? O extends Shape
      ? ParallelOuts<R, C, S, [...I, 0], [...Acc, O]>
      : `${ParallelName<C>}: branch ${I['length']}: ${O & string}`
    : never
  : Acc
type ParallelOut<Ls, C, S extends Shape> =
  ParallelOuts<Ls, C, S> extends infer Os
    ? Os extends readonly [infer O0 extends Shape, ...infer Rest]
      ? C extends 'add'
        ? AddOut<O0, Rest>
        : ConcatLast<Os>
      : Os extends string
        ? Os
        : Shape
    : never
type AddOut<O0 extends Shape, Rest, I extends 0[] = [0]> = Rest extends readonly [infer O extends Shape, ...infer R]
  ? unknown extends Fits<'', O0, O>
    ? AddOut<O0, R, [...I, 0]>
    : `parallelAdd: branch ${I['length']} gives ${FormatShape<O>}, branch 0 gives ${FormatShape<O0>}; added outputs must agree`
  : O0
type LastDims<Os> = { [K in keyof Os]: Os[K] extends Shape ? LastOf<Os[K]> : never }
type ConcatLast<Os> = Os extends readonly [infer O0 extends Shape, ...unknown[]]
  ? IsTuple<O0> extends false
    ? Shape
    : O0 extends readonly [...infer Lead, unknown]
      ? [...Lead, LastDims<Os> extends infer L extends readonly Dim[] ? SumOfDims<L> : number]
      : 'parallel: concatenated outputs must have rank ≥ 1'
  : Shape

type ResidualOut<L, S extends Shape> =
  OutShape<IoOf<L>, S> extends infer O
    ? O extends Shape
      ? unknown extends Fits<'', S, O>
        ? S
        : `residual: the layer maps ${FormatShape<S>} to ${FormatShape<O>}; x + f(x) needs the same shape`
      : `residual: ${O & string}`
    : never

/** unknown when input S fits shape function I, else the message. */
export type CheckIo<I, S extends Shape> = OutShape<I, S> extends infer O ? (O extends string ? O : unknown) : never
/** The output shape for input S (`Shape` where S does not fit: the call is already an error). */
export type OutOf<I, S extends Shape> = OutShape<I, S> extends infer O ? (O extends Shape ? O : Shape) : never

// ---------------------------------------------------------------- layer types

interface LayerCore<P, St> {
  /** A short description for messages, e.g. `dense(784 → 256)`. */
  readonly name: string
  /** Fresh parameters from a key. */
  init(key: Key): P
  /** The state before the first call (`null` for a layer without state). */
  initState(): St
}

/** A layer with a fixed input shape `In` and output shape `Out`. */
export interface Layer<In extends Shape, Out extends Shape, P = unknown, St = unknown> extends LayerCore<P, St> {
  /** Phantom: the shape function, read by the combinators' types. Never present at run time. */
  readonly __io?: FixedIo<In, Out>
  /** y = f(params, x) in evaluation mode with the initial state. */
  apply(params: P, x: Tensor<In>): Tensor<Out>
  /** [y, new state]; `ctx` defaults to evaluation. */
  forward(params: P, state: St, x: Tensor<In>, ctx?: Context): readonly [Tensor<Out>, St]
}

/** A layer whose output shape is the function `I` of its input shape. */
export interface ShapeLayer<I, P = unknown, St = unknown> extends LayerCore<P, St> {
  readonly __io?: I
  apply<S extends Shape, D extends DType>(params: P, x: Tensor<S, D> & NoInfer<CheckIo<I, S>>): Tensor<OutOf<I, S>, D>
  forward<S extends Shape, D extends DType>(
    params: P,
    state: St,
    x: Tensor<S, D> & NoInfer<CheckIo<I, S>>,
    ctx?: Context,
  ): readonly [Tensor<OutOf<I, S>, D>, St]
}

/** Any layer, as the combinators accept it. */
export interface AnyLayer extends LayerCore<any, any> {
  readonly __io?: unknown
  apply(params: any, x: any): any
  forward(params: any, state: any, x: any, ctx?: Context): readonly [any, any]
}

/** The parameters of a layer type. */
export type ParamsOf<L> = L extends { init(key: Key): infer P } ? P : never
/** The state of a layer type. */
export type StateOf<L> = L extends { initState(): infer S } ? S : never

/**
 * The layer type of shape function I: a fixed `Layer` when I has a fixed
 * input (a chain that starts with a fixed layer), a `ShapeLayer` otherwise.
 */
export type LayerOf<I, P, St> = [FixedInput<I>] extends [infer In]
  ? [In] extends [never]
    ? ShapeLayer<I, P, St>
    : In extends Shape
      ? OutShape<I, In> extends infer O extends Shape
        ? Layer<In, O, P, St>
        : ShapeLayer<I, P, St>
      : ShapeLayer<I, P, St>
  : never
/** The input shape a shape function pins down, or never. */
type FixedInput<I> =
  I extends FixedIo<infer In, Shape>
    ? In
    : I extends ChainIo<infer Ls>
      ? ChainInput<Ls>
      : I extends ResidualIo<infer L>
        ? FixedInput<IoOf<L>>
        : I extends ParallelIo<infer Ls, 'concat' | 'add'>
          ? Ls extends readonly [infer L0, ...unknown[]]
            ? FixedInput<IoOf<L0>>
            : never
          : never
/** Leading shape-keeping layers pass their input through; the first other layer decides. */
type ChainInput<Ls> = Ls extends readonly [infer L, ...infer R]
  ? IoOf<L> extends SameIo<unknown>
    ? ChainInput<R>
    : FixedInput<IoOf<L>>
  : never

/** The same layer type with parameters P2 (a tied view of a layer holds none of its own). */
export type WithParams<L, P2> = L extends { readonly __io?: infer I }
  ? Exclude<I, undefined> extends FixedIo<infer In, infer Out>
    ? Layer<In, Out, P2, StateOf<L>>
    : ShapeLayer<Exclude<I, undefined>, P2, StateOf<L>>
  : never

// ---------------------------------------------------------------- run time

/** What a layer implements: everything else (`apply`, freezing) is added by `defineLayer`. */
export interface LayerSpec<P, St> {
  readonly name: string
  init(key: Key): P
  initState?(): St
  forward(params: P, state: St, x: Tensor, ctx: Context): readonly [Tensor, St]
}

/** A layer value from its spec; the caller states its type. */
export function defineLayer<L>(spec: LayerSpec<any, any>): L {
  const initState = spec.initState ?? (() => null)
  const forward = (params: unknown, state: unknown, x: Tensor, ctx: Context = evaluation) => {
    if (!isTensorLike(x)) throw new TypeError(`${spec.name}: expected a Tensor input, got ${describeValue(x)}`)
    return spec.forward(params, state, x, ctx)
  }
  return Object.freeze({
    name: spec.name,
    init: (key: Key) => spec.init(key),
    initState,
    forward,
    apply: (params: unknown, x: Tensor) => forward(params, initState(), x, evaluation)[0],
  }) as L
}

/** A layer without state whose output depends on the context only through `call`. */
export function statelessLayer<L>(
  name: string,
  init: (key: Key) => unknown,
  call: (params: any, x: Tensor, ctx: Context) => Tensor,
): L {
  return defineLayer<L>({ name, init, forward: (params, state, x, ctx) => [call(params, x, ctx), state] })
}

const isTensorLike = (x: unknown): x is Tensor => typeof x === 'object' && x !== null && 'aval' in x
const describeValue = (x: unknown): string => (x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x)

/**
 * Throws unless x has the expected rank and every literal size of
 * `expected` (named dims match any size): "dense(784 → 256): expected input
 * [B, 784], got f32[32,100]".
 */
export function expectShape(name: string, x: Tensor, expected: readonly Dim[]): void {
  const shape = x.aval.shape
  const ok = shape.length === expected.length && expected.every((d, i) => typeof d !== 'number' || d === shape[i])
  if (!ok) throw new Error(`${name}: expected input ${formatShape(expected)}, got ${formatAval(x.aval)}`)
}

/** Throws unless x has rank ≥ 1 and last axis `size`. */
export function expectLast(name: string, x: Tensor, size: number, what = 'last axis'): void {
  const shape = x.aval.shape
  if (shape.length === 0 || shape[shape.length - 1] !== size)
    throw new Error(`${name}: expected an input whose ${what} is ${size}, got ${formatAval(x.aval)}`)
}

/** Throws unless `params` is a record with the given tensor entries (parameters from outside, e.g. a file). */
export function expectParams(
  name: string,
  params: unknown,
  keys: readonly string[],
): asserts params is Record<string, Tensor> {
  if (typeof params !== 'object' || params === null || Array.isArray(params))
    throw new Error(`${name}: expected parameters {${keys.join(', ')}}, got ${describeValue(params)}`)
  const missing = keys.filter((k) => !isTensorLike((params as Record<string, unknown>)[k]))
  if (missing.length > 0)
    throw new Error(`${name}: expected parameters {${keys.join(', ')}}, missing tensor ${missing.join(', ')}`)
}

/** Throws unless a parameter has the expected shape. */
export function expectParamShape(name: string, key: string, p: Tensor, expected: readonly number[]): void {
  const shape = p.aval.shape
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i]))
    throw new Error(`${name}: parameter ${key} must have shape ${formatShape(expected)}, got ${formatAval(p.aval)}`)
}

/** Re-exported for layer definitions. */
export type { Padding }
