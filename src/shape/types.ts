/**
 * Type-level shapes. A `Dim` is a number literal (`784`) or a named symbolic
 * dimension (`'B'`); a `Shape` is a tuple of them. The shape functions here
 * compute result shapes at compile time, and the `Check…` types compute the
 * parameter type that makes a wrong call fail to compile, with a message that
 * names the dimensions.
 *
 * Laws of compatibility (every check applies them; anything else is left to
 * the run-time check of the op):
 *  - two number literals agree iff they are equal (broadcasting also accepts 1);
 *  - two named dims agree iff they are the same name;
 *  - a name against a literal, or anything against `number`, agrees;
 *  - a shape that is not a tuple (`Shape`, `number[]`) agrees with everything,
 *    so untyped code always compiles.
 *
 * A check is `unknown` when the call is valid, else a string literal (a
 * `ShapeError`). Ops intersect a parameter's type with it, so the compiler
 * prints the message: `Argument of type 'Tensor<[4, 5], "f32">' is not
 * assignable to parameter of type 'Tensor<[4, 5], "f32"> & "matmul: inner
 * dimensions differ: 3 (a [2, 3]) vs 4 (b [4, 5])"'`.
 *
 * Generic code: every comparison of two dims starts with `[X] extends [Y]`,
 * and each branch of a check other than the error continues the check. When
 * X and Y are the same type parameter the compiler can then prove the check
 * without knowing the dim (a deferred conditional type accepts a value that
 * every branch it cannot rule out accepts), so `matmul(x: Tensor<[B, I]>,
 * w: Tensor<[I, O]>)` compiles inside a function generic in `B`, `I`, `O`.
 * For the same reason tuple patterns leave the slots they do not bind
 * unconstrained (`[...unknown[], infer X]`, not `[...Shape, infer X]`): the
 * compiler matches a tuple of type parameters against a pattern only when it
 * holds whatever the parameters are. Checks that must inspect a shape's rank
 * (an axis, a permutation, a product) need the shape to be a tuple, not a
 * bare type parameter.
 */
import type { DType } from '../dtype.ts'

/** A dimension: a number, or a string naming a size known only at run time (`'B'` for a batch). */
export type Dim = number | string
/** A tensor's shape at the type level: one `Dim` per axis. */
export type Shape = readonly Dim[]

/** The run-time shape of a typed shape: named dimensions become numbers. */
export type RuntimeShape<S extends Shape> = { readonly [K in keyof S]: S[K] extends number ? S[K] : number }

/** The compile-time error of an op: a string literal naming the dimensions that disagree. */
export type ShapeError<Message extends string = string> = Message

/** A check that holds: intersecting a parameter type with it changes nothing. */
type Ok = unknown

/**
 * A check for a number parameter (an axis). A number literal intersected with
 * a string literal is `never`, which would lose the message, so the message
 * rides in a property the number lacks: `2 & { readonly shapeError: "sum: …" }`.
 */
export type OnNumber<C> = unknown extends C ? Ok : { readonly shapeError: C }

// ---------------------------------------------------------------- classification and printing

/** Tuples have a literal length; `Shape` and `number[]` do not, and switch every check off. */
export type IsTuple<S extends readonly unknown[]> = number extends S['length'] ? false : true
type IsNumberLiteral<X> = [X] extends [number] ? (number extends X ? false : true) : false
type IsName<X> = [X] extends [string] ? (string extends X ? false : true) : false
/** A tuple with every dim a number literal (then sizes can be computed). */
type AllLiteral<S extends Shape> =
  IsTuple<S> extends false
    ? false
    : S extends readonly [infer X, ...infer R extends Shape]
      ? IsNumberLiteral<X> extends true
        ? AllLiteral<R>
        : false
      : true
/** Mutable copy of a tuple: results are written `[2, 3]`, never `readonly [2, 3]`. */
export type Tuple<S extends Shape> = [...S]

type FormatDim<X> = number extends X ? 'number' : string extends X ? 'string' : X extends number | string ? `${X}` : '?'
type JoinDims<S> = S extends readonly [infer X]
  ? FormatDim<X>
  : S extends readonly [infer X, ...infer R]
    ? `${FormatDim<X>}, ${JoinDims<R>}`
    : ''
/** `[B, 784]`, as the error messages print a shape. */
export type FormatShape<S extends Shape> = IsTuple<S> extends true ? `[${JoinDims<S>}]` : 'Shape'

// ---------------------------------------------------------------- dims

/** `Then` when dims X and Y may be the same size (the laws above), else `Else`. */
type Agree<X, Y, Then, Else> = [X] extends [Y]
  ? Then
  : [Y] extends [X]
    ? Then
    : IsNumberLiteral<X> extends true
      ? IsNumberLiteral<Y> extends true
        ? Else
        : Then
      : IsName<X> extends true
        ? IsName<Y> extends true
          ? Else
          : Then
        : Then

/** `Then` when X and Y broadcast: they agree, or one is 1. */
type BroadcastAgree<X, Y, Then, Else> = [Y] extends [1] ? Then : [X] extends [1] ? Then : Agree<X, Y, Then, Else>

/**
 * The broadcast of two agreeing dims: the one that is not 1, else the more
 * specific (literal over name over `number`). Every branch is X or Y, so the
 * broadcast of a type parameter with itself is that parameter.
 */
type BroadcastDim<X, Y> = [Y] extends [1]
  ? X
  : [X] extends [1]
    ? Y
    : [X] extends [Y]
      ? X
      : number extends X
        ? Y
        : number extends Y
          ? X
          : IsNumberLiteral<X> extends true
            ? X
            : Y

// ---------------------------------------------------------------- natural-number arithmetic on decimal digits

// Sizes such as 32·784 are past what tuple lengths can count, so products and
// sums are computed on little-endian digit lists, as by hand.
type Digit = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9
type Units<N extends number, Acc extends 0[] = []> = Acc['length'] extends N ? Acc : Units<N, [...Acc, 0]>
type AddDigit<A extends Digit, B extends Digit, C extends 0 | 1> = [...Units<A>, ...Units<B>, ...Units<C>] extends [
  ...Units<10>,
  ...infer R,
]
  ? [R['length'] & Digit, 1]
  : [[...Units<A>, ...Units<B>, ...Units<C>]['length'] & Digit, 0]
type Head<X extends unknown[]> = X extends [infer H extends Digit, ...unknown[]] ? H : 0
type Tail<X extends unknown[]> = X extends [unknown, ...infer T] ? T : []
type AddDigits<X extends unknown[], Y extends unknown[], C extends 0 | 1 = 0, Acc extends Digit[] = []> = [
  X,
  Y,
] extends [[], []]
  ? C extends 1
    ? [...Acc, 1]
    : Acc
  : AddDigit<Head<X>, Head<Y>, C> extends [infer D extends Digit, infer C2 extends 0 | 1]
    ? AddDigits<Tail<X>, Tail<Y>, C2, [...Acc, D]>
    : never
type Times<X extends unknown[], N extends Digit, I extends 0[] = [], Acc extends unknown[] = []> = I['length'] extends N
  ? Acc
  : Times<X, N, [...I, 0], AddDigits<Acc, X>>
type MulDigits<
  X extends unknown[],
  Y extends unknown[],
  Shift extends 0[] = [],
  Acc extends unknown[] = [],
> = Y extends [infer D extends Digit, ...infer R extends Digit[]]
  ? MulDigits<X, R, [...Shift, 0], AddDigits<Acc, [...Shift, ...Times<X, D>]>>
  : Acc
/** Leading zeros dropped; zero is []. */
type Trim<X extends unknown[]> = X extends [...infer R, 0] ? Trim<R> : X
type ParseDigits<S extends string, Acc extends Digit[] = []> = S extends ''
  ? Acc
  : S extends `${infer C extends Digit}${infer R}`
    ? ParseDigits<R, [C, ...Acc]>
    : never
/** The digits of a non-negative integer literal; never for anything else. */
type DigitsOf<X> = IsNumberLiteral<X> extends true ? Trim<ParseDigits<`${X & number}`>> : never
type ShowDigits<X extends unknown[], Acc extends string = ''> = X extends [infer D extends Digit, ...infer R]
  ? ShowDigits<R, `${D}${Acc}`>
  : Acc extends ''
    ? '0'
    : Acc
type ToNumber<S extends string> = S extends `${infer N extends number}` ? N : number

/** The number of elements of a shape of literal dims, as a decimal string; never when not all literal. */
export type SizeOf<S extends Shape> = AllLiteral<S> extends true ? ShowDigits<ProductDigits<S>> : never
type ProductDigits<S, Acc extends unknown[] = [1]> = S extends readonly [infer X, ...infer R]
  ? [DigitsOf<X>] extends [never]
    ? never
    : ProductDigits<R, Trim<MulDigits<Acc, DigitsOf<X>>>>
  : Acc
/** The sum of dims when all are literals, else `number`. */
type SumDims<L, Acc extends unknown[] = []> = L extends readonly [infer X, ...infer R]
  ? [DigitsOf<X>] extends [never]
    ? number
    : SumDims<R, AddDigits<Acc, DigitsOf<X>>>
  : ToNumber<ShowDigits<Acc>>

// ---------------------------------------------------------------- axes

type Range<R extends number, Acc extends number[] = []> = Acc['length'] extends R
  ? Acc
  : Range<R, [...Acc, Acc['length']]>
type Reverse<S extends readonly unknown[], Acc extends unknown[] = []> = S extends readonly [infer X, ...infer R]
  ? Reverse<R, [X, ...Acc]>
  : Acc
type At<T extends readonly unknown[], K extends string> = K extends keyof T & `${number}` ? T[K] : never
/** Axis `A` of a rank-R shape as an index in [0, R): A itself, or A + R when A < 0; never when out of range. */
export type NormAxis<A extends number, R extends number> = number extends A
  ? number
  : `${A}` extends `-${infer K}`
    ? At<[never, ...Reverse<Range<R>>], K>
    : At<Range<R>, `${A}`>
type Rank<S extends readonly unknown[]> = S['length']
type RankPlus1<S extends Shape> = [...S, 0]['length']
/** S with `Dim` inserted before index N. */
type InsertAt<S extends Shape, N, Dim_ extends Dim, Acc extends Dim[] = []> = Acc['length'] extends N
  ? [...Acc, Dim_, ...S]
  : S extends readonly [infer X extends Dim, ...infer R extends Shape]
    ? InsertAt<R, N, Dim_, [...Acc, X]>
    : [...Acc, Dim_]
/** S with the axes in the union N removed, or replaced by 1 when Keep. */
type DropAxes<
  S extends Shape,
  N,
  Keep extends boolean,
  I extends 0[] = [],
  Acc extends Dim[] = [],
> = S extends readonly [infer X extends Dim, ...infer R extends Shape]
  ? DropAxes<R, N, Keep, [...I, 0], I['length'] extends N ? (Keep extends true ? [...Acc, 1] : Acc) : [...Acc, X]>
  : Acc
type AxisList<Ax> = Ax extends readonly number[] ? Ax : [Ax]
type AxisOutOfRange<
  Op extends string,
  A extends number,
  S extends Shape,
> = `${Op}: axis ${A} is out of range for x ${FormatShape<S>} (rank ${Rank<S>})`
type NewAxisOutOfRange<
  Op extends string,
  A extends number,
  S extends Shape,
> = `${Op}: axis ${A} is out of range for a new axis of x ${FormatShape<S>} (rank ${Rank<S>})`
/** Each axis of the list is in range for S. */
type CheckAxisList<Op extends string, S extends Shape, L, Then = Ok> = L extends readonly [
  infer A extends number,
  ...infer R,
]
  ? [NormAxis<A, Rank<S>>] extends [never]
    ? AxisOutOfRange<Op, A, S>
    : CheckAxisList<Op, S, R, Then>
  : Then
/** Normalised axes as a union; `number` when any is not a literal. */
type AxesUnion<Ax, R extends number> = number extends AxisList<Ax>[number]
  ? number
  : NormAxis<AxisList<Ax>[number] & number, R>

// ---------------------------------------------------------------- dtypes

/** `Then` when the dtypes may be the same (a wide `DType` agrees with any). */
export type CheckDTypes<Op extends string, DA, DB, Then = Ok> = [DA] extends [DB]
  ? Then
  : [DB] extends [DA]
    ? Then
    : `${Op}: dtypes differ: ${DA & string} vs ${DB & string}; convert one with astype`
/** The dtype of a result of two operands: the more specific one (never: a number operand). */
export type JoinDType<DA, DB> = [DA] extends [DB]
  ? DA
  : [DA] extends [never]
    ? DB
    : [DB] extends [never]
      ? DA
      : DType extends DA
        ? DB
        : DA

// ---------------------------------------------------------------- broadcasting

/** The NumPy broadcast of two shapes (aligned on the right); `Shape` when either is not a tuple. */
export type Broadcast<A extends Shape, B extends Shape> =
  IsTuple<A> extends true ? (IsTuple<B> extends true ? BroadcastTuples<A, B> : Shape) : Shape
type BroadcastTuples<A extends Shape, B extends Shape, Acc extends Dim[] = []> = A extends readonly [
  ...infer A0 extends Shape,
  infer X extends Dim,
]
  ? B extends readonly [...infer B0 extends Shape, infer Y extends Dim]
    ? BroadcastTuples<A0, B0, [BroadcastDim<X, Y>, ...Acc]>
    : [...A, ...Acc]
  : [...B, ...Acc]

/** The axes of A and B broadcast, walked from the right; the message names the first pair that does not. */
type CheckBroadcastDims<
  Prefix extends string,
  A extends Shape,
  B extends Shape,
  Then,
  Axis extends 0[] = [0],
> = A extends readonly [...infer A0 extends Shape, infer X]
  ? B extends readonly [...infer B0 extends Shape, infer Y]
    ? BroadcastAgree<
        X,
        Y,
        CheckBroadcastDims<Prefix, A0, B0, Then, [...Axis, 0]>,
        `${Prefix}: ${FormatDim<X>} vs ${FormatDim<Y>} at axis -${Axis['length']}`
      >
    : Then
  : Then
/** Two shapes broadcast (identical shapes always do, type parameters included). */
export type CheckBroadcast<Op extends string, A extends Shape, B extends Shape, Then = Ok> = [A] extends [B]
  ? Then
  : IsTuple<A> extends false
    ? Then
    : IsTuple<B> extends false
      ? Then
      : CheckBroadcastDims<`${Op}: cannot broadcast ${FormatShape<A>} with ${FormatShape<B>}`, A, B, Then>

/** The check of a binary elementwise op: dtypes, then shapes. */
export type CheckBinary<Op extends string, A extends Shape, B extends Shape, DA, DB> = CheckDTypes<
  Op,
  DA,
  DB,
  CheckBroadcast<Op, A, B>
>
/** The check of `where(cond, a, b)`: a and b broadcast, then with the condition. */
export type CheckWhere<C extends Shape, A extends Shape, B extends Shape, DA, DB> = CheckDTypes<
  'where',
  DA,
  DB,
  CheckBroadcast<'where', A, B, CheckBroadcast<'where', C, Broadcast<A, B>>>
>

/** Whether a tuple of rank A has at most as many axes as one of rank B. */
type RankAtMost<A extends number, B extends number> = Range<B> extends [...Range<A>, ...number[]] ? true : false

/** `broadcastTo(x, shape)`: x has no more axes than the target, and each broadcasts. */
export type CheckBroadcastTo<S extends Shape, R extends Shape> =
  IsTuple<S> extends false
    ? Ok
    : IsTuple<R> extends false
      ? Ok
      : RankAtMost<Rank<S>, Rank<R>> extends true
        ? CheckBroadcast<'broadcastTo', S, R>
        : `broadcastTo: cannot broadcast ${FormatShape<S>} to ${FormatShape<R>}, which has fewer axes`

// ---------------------------------------------------------------- matmul

type LastDim<S extends Shape> = S extends readonly [...unknown[], infer X] ? X : never
/** The contracted axis of the right operand: its only axis, or its second to last. */
type InnerDim<S extends Shape> = S extends readonly [infer X]
  ? X
  : S extends readonly [...unknown[], infer X, unknown]
    ? X
    : never
type BatchAxes<S extends Shape> = S extends readonly [...infer B extends Shape, unknown, unknown] ? B : []

/**
 * The shape of `matmul(a, b)` under NumPy's rules: `[m, k] @ [k, n] = [m, n]`;
 * a 1-D operand is promoted by a 1 that is then removed (`[k] @ [k, n] = [n]`,
 * `[m, k] @ [k] = [m]`, `[k] @ [k] = []`); leading batch axes broadcast.
 */
export type MatMul<A extends Shape, B extends Shape> =
  IsTuple<A> extends false
    ? Shape
    : IsTuple<B> extends false
      ? Shape
      : A extends readonly [unknown]
        ? B extends readonly [unknown]
          ? []
          : B extends readonly [...infer Bb extends Shape, unknown, infer N extends Dim]
            ? [...Bb, N]
            : Shape
        : A extends readonly [...infer Ab extends Shape, infer M extends Dim, unknown]
          ? B extends readonly [unknown]
            ? [...Ab, M]
            : B extends readonly [...infer Bb extends Shape, unknown, infer N extends Dim]
              ? [...Broadcast<Ab, Bb>, M, N]
              : Shape
          : Shape

/**
 * The shape check of `matmul`: `Then` when the inner dimensions of A and B agree, else an error
 * type that names both shapes.
 */
export type CheckMatMul<A extends Shape, B extends Shape, Then = Ok> =
  IsTuple<A> extends false
    ? Then
    : IsTuple<B> extends false
      ? Then
      : A extends readonly []
        ? `matmul: operands must have rank >= 1, got a []`
        : B extends readonly []
          ? `matmul: operands must have rank >= 1, got b []`
          : Agree<
              LastDim<A>,
              InnerDim<B>,
              CheckBroadcastDims<
                `matmul: batch axes of a ${FormatShape<A>} and b ${FormatShape<B>} do not broadcast`,
                BatchAxes<A>,
                BatchAxes<B>,
                Then,
                [0, 0, 0]
              >,
              `matmul: inner dimensions differ: ${FormatDim<LastDim<A>>} (a ${FormatShape<A>}) vs ${FormatDim<InnerDim<B>>} (b ${FormatShape<B>})`
            >

// ---------------------------------------------------------------- reductions

type AxisArg = number | readonly number[] | undefined

/**
 * The shape after reducing `Ax` (an axis, a list, or all when undefined):
 * the axes are removed, or kept with size 1 when `Keep`.
 */
export type Reduce<S extends Shape, Ax extends AxisArg, Keep extends boolean = false> = [Ax] extends [undefined]
  ? [Keep] extends [false]
    ? []
    : [Keep] extends [true]
      ? { -readonly [K in keyof S]: 1 }
      : Shape
  : IsTuple<S> extends false
    ? Shape
    : boolean extends Keep
      ? Shape
      : AxesUnion<Ax, Rank<S>> extends infer N
        ? number extends N
          ? Shape
          : DropAxes<S, N, Keep>
        : never

/**
 * The check of an axis argument of `Op` on shape S: `Ok` when every axis is within S's rank, else
 * an error type naming the axis and the rank.
 */
export type CheckAxes<Op extends string, S extends Shape, Ax extends AxisArg> = [Ax] extends [undefined]
  ? Ok
  : IsTuple<S> extends false
    ? Ok
    : CheckAxisList<Op, S, AxisList<Ax>>

// ---------------------------------------------------------------- structure

type HasMinusOne<R extends Shape> = -1 extends R[number] ? true : false
type MinusOnes<R extends Shape, Acc extends 0[] = []> = R extends readonly [infer X, ...infer Rest extends Shape]
  ? MinusOnes<Rest, [X] extends [-1] ? [...Acc, 0] : Acc>
  : Acc['length']

/** The shape after `reshape(x, R)`: R, with a -1 axis the remaining size (known when it is the only axis). */
export type Reshape<S extends Shape, R extends Shape> =
  IsTuple<R> extends false
    ? Tuple<R>
    : R extends readonly [-1]
      ? AllLiteral<S> extends true
        ? [ToNumber<SizeOf<S>>]
        : [number]
      : { -readonly [K in keyof R]: [R[K]] extends [-1] ? number : R[K] }

/** Reshaping keeps the number of elements (decided when both shapes are literal). */
export type CheckReshape<S extends Shape, R extends Shape> =
  IsTuple<R> extends false
    ? Ok
    : HasMinusOne<R> extends true
      ? MinusOnes<R> extends 0 | 1
        ? Ok
        : `reshape: at most one axis may be -1, got ${FormatShape<R>}`
      : AllLiteral<R> extends false
        ? Ok
        : AllLiteral<S> extends false
          ? Ok
          : SizeOf<S> extends SizeOf<R>
            ? Ok
            : `reshape: cannot reshape ${FormatShape<S>} (${SizeOf<S>} elements) to ${FormatShape<R>} (${SizeOf<R>} elements)`

type Permute<S extends Shape, P extends readonly number[], Acc extends Dim[] = []> = P extends readonly [
  infer A extends number,
  ...infer R extends readonly number[],
]
  ? Permute<
      S,
      R,
      [...Acc, NormAxis<A, Rank<S>> extends infer N extends number ? (number extends N ? number : S[N]) : never]
    >
  : Acc
/** `transpose(x, P)`: axis i of the result is axis P[i] of x; all axes reversed when P is omitted. */
export type Transpose<S extends Shape, P extends readonly number[] | undefined> = [P] extends [undefined]
  ? IsTuple<S> extends true
    ? Reverse<S>
    : Shape
  : IsTuple<S> extends false
    ? Shape
    : P extends readonly number[]
      ? IsTuple<P> extends false
        ? Shape
        : Permute<S, P>
      : Shape

type CheckPermDistinct<S extends Shape, P, Seen = never> = P extends readonly [infer A extends number, ...infer R]
  ? NormAxis<A, Rank<S>> extends infer N
    ? [N] extends [Seen]
      ? `transpose: axis ${N & number} appears twice in the permutation`
      : CheckPermDistinct<S, R, Seen | N>
    : never
  : Ok
/** A permutation names each axis of x once. */
export type CheckPerm<S extends Shape, P extends readonly number[] | undefined> = [P] extends [undefined]
  ? Ok
  : IsTuple<S> extends false
    ? Ok
    : P extends readonly number[]
      ? IsTuple<P> extends false
        ? Ok
        : Rank<P> extends Rank<S>
          ? CheckAxisList<'transpose', S, P, CheckPermDistinct<S, P>>
          : `transpose: the permutation ${FormatShape<P>} has ${Rank<P>} axes but x ${FormatShape<S>} has rank ${Rank<S>}`
      : Ok

/** `expandDims(x, A)`: a 1 inserted at axis A of the result. */
export type ExpandDims<S extends Shape, A extends number> =
  IsTuple<S> extends false
    ? Shape
    : NormAxis<A, RankPlus1<S>> extends infer N
      ? number extends N
        ? Shape
        : InsertAt<S, N, 1>
      : never
/** The check of `expandDims(x, A)` on shape S: A must be in [−(rank + 1), rank]. */
export type CheckExpandDims<S extends Shape, A extends number> =
  IsTuple<S> extends false
    ? Ok
    : [NormAxis<A, RankPlus1<S>>] extends [never]
      ? NewAxisOutOfRange<'expandDims', A, S>
      : Ok

type SqueezeAll<S extends Shape, Acc extends Dim[] = []> = S extends readonly [
  infer X extends Dim,
  ...infer R extends Shape,
]
  ? SqueezeAll<R, [X] extends [1] ? Acc : [...Acc, X]>
  : Acc
/** `squeeze(x, Ax)`: the axes removed; without axes, every literal 1 (decided only when all dims are literals). */
export type Squeeze<S extends Shape, Ax extends AxisArg> = [Ax] extends [undefined]
  ? AllLiteral<S> extends true
    ? SqueezeAll<S>
    : Shape
  : Reduce<S, Ax, false>
type CheckSqueezeSizes<S extends Shape, L> = L extends readonly [infer A extends number, ...infer R]
  ? NormAxis<A, Rank<S>> extends infer N extends number
    ? IsNumberLiteral<S[N]> extends true
      ? [S[N]] extends [1]
        ? CheckSqueezeSizes<S, R>
        : `squeeze: axis ${A} of x ${FormatShape<S>} has size ${S[N] & number}, not 1`
      : CheckSqueezeSizes<S, R>
    : Ok
  : Ok
/** The check of `squeeze(x, Ax)` on shape S: each named axis must be of size 1. */
export type CheckSqueeze<S extends Shape, Ax extends AxisArg> = [Ax] extends [undefined]
  ? Ok
  : IsTuple<S> extends false
    ? Ok
    : CheckAxisList<'squeeze', S, AxisList<Ax>, CheckSqueezeSizes<S, AxisList<Ax>>>

/**
 * unknown where an axis of size X may stand where N is expected: X is N, or
 * a size the compiler does not know (`number` from untyped data, a named
 * axis), checked when called; otherwise a message, so that a parameter typed
 * `Tensor<[B, X]> & NoInfer<Width<X, N>>` makes a call with rows of another
 * literal width a compile error that says why.
 */
export type Width<X, N> = [X, N] extends [number, number]
  ? number extends X
    ? unknown
    : number extends N
      ? unknown
      : [X] extends [N]
        ? unknown
        : `rows of ${X & number} for ${N & number}`
  : unknown

/**
 * A declared shape R may stand for the shape S an op computed (named dims for
 * run-time sizes): the same rank, and every pair of dims agrees.
 */
export type CheckDeclared<Op extends string, R extends Shape, S extends Shape> = [S] extends [R]
  ? Ok
  : IsTuple<R> extends false
    ? Ok
    : IsTuple<S> extends false
      ? Ok
      : Rank<R> extends Rank<S>
        ? CheckSameAxes<Op, R, S, R, S, never, Ok>
        : `${Op}: the declared shape ${FormatShape<R>} has rank ${Rank<R>}, the data ${FormatShape<S>} has rank ${Rank<S>}`

// ---------------------------------------------------------------- concat, stack, slice, pad, take

/**
 * The shape and dtype carried by a tensor type. The phantom field stores each
 * dimension widened for assignment (a name N as N | number, an unknown
 * `number` as number | string); this undoes the widening.
 */
type NarrowDim<X> = [X] extends [number]
  ? X
  : [Exclude<X, number>] extends [infer N]
    ? string extends N
      ? number
      : N
    : never
/** The shape of a tensor type (`Shape` when it is not known). */
export type ShapeOf<X> = X extends { readonly __type?: { shape: infer S extends Shape } }
  ? IsTuple<S> extends true
    ? { -readonly [K in keyof S]: NarrowDim<S[K]> }
    : Shape
  : Shape
/** The dtype of a tensor type (`DType` when it is not known). */
export type DTypeOf<X> = X extends { readonly __type?: { dtype: infer D extends DType } } ? D : DType
/** The shapes of a list of tensors, as a tuple when the list is one. */
export type ShapesOf<Xs extends readonly unknown[]> = { readonly [K in keyof Xs]: ShapeOf<Xs[K]> }

/** Each shape of the list agrees with S on every axis but `Skip` (a normalised axis, or never). */
type CheckSameShapes<Op extends string, S extends Shape, L, Skip, Then> = L extends readonly [
  infer S2 extends Shape,
  ...infer R,
]
  ? IsTuple<S2> extends false
    ? CheckSameShapes<Op, S, R, Skip, Then>
    : Rank<S2> extends Rank<S>
      ? CheckSameAxes<Op, S, S2, S, S2, Skip, CheckSameShapes<Op, S, R, Skip, Then>>
      : `${Op}: ranks differ: ${FormatShape<S>} vs ${FormatShape<S2>}`
  : Then
type CheckSameAxes<
  Op extends string,
  A extends Shape,
  B extends Shape,
  FA extends Shape,
  FB extends Shape,
  Skip,
  Then,
  I extends 0[] = [],
> = A extends readonly [infer X, ...infer AR extends Shape]
  ? B extends readonly [infer Y, ...infer BR extends Shape]
    ? I['length'] extends Skip
      ? CheckSameAxes<Op, AR, BR, FA, FB, Skip, Then, [...I, 0]>
      : Agree<
          X,
          Y,
          CheckSameAxes<Op, AR, BR, FA, FB, Skip, Then, [...I, 0]>,
          `${Op}: shapes ${FormatShape<FA>} and ${FormatShape<FB>} differ at axis ${I['length']}: ${FormatDim<X>} vs ${FormatDim<Y>}${[Skip] extends [never] ? '' : ` (only axis ${Skip & number} may differ)`}`
        >
    : Then
  : Then

type SetAxis<S extends Shape, N, D_ extends Dim, Acc extends Dim[] = []> = S extends readonly [
  infer X extends Dim,
  ...infer R extends Shape,
]
  ? SetAxis<R, N, D_, [...Acc, Acc['length'] extends N ? D_ : X]>
  : Acc
type AxisDims<L, N extends number> = { [K in keyof L]: L[K] extends Shape ? L[K][N] : never }

/** `concat(xs, A)`: the sizes along axis A add up (when literal); the other axes are those of the first. */
export type Concat<L extends readonly Shape[], A extends number> =
  IsTuple<L> extends false
    ? L[number] extends infer S extends Shape
      ? IsTuple<S> extends true
        ? NormAxis<A, Rank<S>> extends infer N extends number
          ? number extends N
            ? Shape
            : SetAxis<S, N, number>
          : Shape
        : Shape
      : Shape
    : L extends readonly [infer S0 extends Shape, ...unknown[]]
      ? IsTuple<S0> extends false
        ? Shape
        : NormAxis<A, Rank<S0>> extends infer N extends number
          ? number extends N
            ? Shape
            : SetAxis<S0, N, SumDims<AxisDims<L, N>>>
          : Shape
      : Shape
/** The check of `concat(xs, A)`: every shape of L has the same rank and agrees with the others except along axis A. */
export type CheckConcat<L extends readonly Shape[], A extends number> =
  IsTuple<L> extends false
    ? Ok
    : L extends readonly [infer S0 extends Shape, ...infer R]
      ? IsTuple<S0> extends false
        ? Ok
        : number extends A
          ? CheckSameShapes<'concat', S0, R, number, Ok>
          : [NormAxis<A, Rank<S0>>] extends [never]
            ? AxisOutOfRange<'concat', A, S0>
            : CheckSameShapes<'concat', S0, R, NormAxis<A, Rank<S0>>, Ok>
      : 'concat: needs at least one tensor'

/** `stack(xs, A)`: a new axis A of size the number of tensors. */
export type Stack<L extends readonly Shape[], A extends number> = L[number] extends infer S extends Shape
  ? IsTuple<S> extends false
    ? Shape
    : L extends readonly [infer S0 extends Shape, ...unknown[]]
      ? ExpandDimsSized<S0, A, IsTuple<L> extends true ? L['length'] : number>
      : ExpandDimsSized<S, A, number>
  : Shape
type ExpandDimsSized<S extends Shape, A extends number, Size extends number> =
  IsTuple<S> extends false
    ? Shape
    : NormAxis<A, RankPlus1<S>> extends infer N
      ? number extends N
        ? Shape
        : InsertAt<S, N, Size>
      : never
/** The check of `stack(xs, A)`: every shape of L is the same and A is within the rank of the result. */
export type CheckStack<L extends readonly Shape[], A extends number> =
  IsTuple<L> extends false
    ? Ok
    : L extends readonly [infer S0 extends Shape, ...infer R]
      ? IsTuple<S0> extends false
        ? Ok
        : [NormAxis<A, RankPlus1<S0>>] extends [never]
          ? NewAxisOutOfRange<'stack', A, S0>
          : CheckSameShapes<'stack', S0, R, never, Ok>
      : 'stack: needs at least one tensor'

/** `slice(x, starts, sizes)`: a literal size gives the axis; size -1 or none runs to the end (the whole axis from start 0). */
export type Slice<S extends Shape, St extends readonly number[], Sz extends readonly number[] | undefined> =
  IsTuple<S> extends false ? Shape : SliceAxes<S, St, Sz extends readonly number[] ? Sz : []>
type SliceAxes<
  S extends Shape,
  St extends readonly number[],
  Sz extends readonly number[],
  Acc extends Dim[] = [],
> = S extends readonly [infer X extends Dim, ...infer R extends Shape]
  ? SliceAxes<R, Tail_<St>, Tail_<Sz>, [...Acc, SliceDim<X, St[0], Sz[0]>]>
  : Acc
type Tail_<L extends readonly number[]> = L extends readonly [unknown, ...infer R extends readonly number[]]
  ? R
  : L extends readonly []
    ? []
    : L
type SliceDim<X, Start, Size> =
  IsNumberLiteral<Size> extends true
    ? [Size] extends [-1]
      ? [Start] extends [0]
        ? X
        : number
      : Size
    : [Size] extends [undefined]
      ? [Start] extends [0]
        ? X
        : number
      : number
/** The check of `slice(x, starts, sizes)` on shape S: one start (and size) per axis, within the axis. */
export type CheckSlice<S extends Shape, St extends readonly number[], Sz extends readonly number[] | undefined> =
  IsTuple<S> extends false
    ? Ok
    : IsTuple<St> extends false
      ? Ok
      : Rank<St> extends Rank<S>
        ? Sz extends readonly number[]
          ? IsTuple<Sz> extends false
            ? Ok
            : RankAtMost<Rank<Sz>, Rank<S>> extends true
              ? Ok
              : `slice: ${Rank<Sz>} sizes for x ${FormatShape<S>} of rank ${Rank<S>}`
          : Ok
        : `slice: ${Rank<St>} starts for x ${FormatShape<S>} of rank ${Rank<S>}`

type Widths = readonly (readonly [number, number])[]
/** `pad(x, widths)`: each axis grows by its before and after widths. */
export type Pad<S extends Shape, W extends Widths> =
  IsTuple<S> extends false ? Shape : IsTuple<W> extends false ? { -readonly [K in keyof S]: number } : PadAxes<S, W>
type PadAxes<S extends Shape, W, Acc extends Dim[] = []> = S extends readonly [
  infer X extends Dim,
  ...infer R extends Shape,
]
  ? W extends readonly [readonly [infer Lo, infer Hi], ...infer WR]
    ? PadAxes<R, WR, [...Acc, SumDims<[X, Lo, Hi]>]>
    : Acc
  : Acc
/** The check of `pad(x, widths)` on shape S: one pair of widths per axis. */
export type CheckPad<S extends Shape, W extends Widths> =
  IsTuple<S> extends false
    ? Ok
    : IsTuple<W> extends false
      ? Ok
      : Rank<W> extends Rank<S>
        ? Ok
        : `pad: ${Rank<W>} [before, after] pairs for x ${FormatShape<S>} of rank ${Rank<S>}`

/** `take(x, indices, A)`: axis A of x replaced by the axes of the indices. */
export type Take<S extends Shape, I extends Shape, A extends number> =
  IsTuple<S> extends false
    ? Shape
    : IsTuple<I> extends false
      ? Shape
      : NormAxis<A, Rank<S>> extends infer N
        ? number extends N
          ? Shape
          : TakeAxes<S, I, N>
        : never
type TakeAxes<S extends Shape, I extends Shape, N, J extends 0[] = [], Acc extends Dim[] = []> = S extends readonly [
  infer X extends Dim,
  ...infer R extends Shape,
]
  ? TakeAxes<R, I, N, [...J, 0], J['length'] extends N ? [...Acc, ...I] : [...Acc, X]>
  : Acc
/** The check of a single axis A of `Op` on shape S: within [−rank, rank). */
export type CheckAxis<Op extends string, S extends Shape, A extends number> =
  IsTuple<S> extends false ? Ok : CheckAxisList<Op, S, [A]>
