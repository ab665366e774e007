/** Shared rules for elementwise primitives: same-shape operands, batch axes moved to the front. */
import { isFloat, type DType } from '../dtype.ts'
import type { BatchDim, Params, PrimitiveRule, UnaryPrimitive } from '../core/primitive.ts'
import { bind1 } from '../core/trace.ts'
import { broadcast, moveAxis } from '../core/lax.ts'
import { formatAval, sameShape, type Aval, type Tensor } from '../tensor.ts'
import { mapBinary, mapUnary } from './ndarray.ts'

type None = Record<string, never>
type UnaryName = UnaryPrimitive
type BinaryName = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'max'

export function checkFloat(prim: string, a: Aval): void {
  if (!isFloat(a.dtype)) throw new Error(`${prim}: expected a floating-point tensor (f32 or f64), got ${formatAval(a)}`)
}

export function checkSameShapes(prim: string, inputs: readonly Aval[]): void {
  const [first, ...rest] = inputs
  for (const a of rest) {
    if (!sameShape(first.shape, a.shape))
      throw new Error(
        `${prim}: operand shapes differ: ${formatAval(first)} vs ${formatAval(a)} (broadcast them first, as ops.${prim} does)`,
      )
    if (first.dtype !== a.dtype)
      throw new Error(`${prim}: operand dtypes differ: ${formatAval(first)} vs ${formatAval(a)} (convert one of them)`)
  }
}

/**
 * Batches an elementwise primitive: every batched operand gets its batch axis
 * at 0, every unbatched operand is broadcast along a new leading axis.
 */
export function batchElementwise(inputs: readonly Tensor[], dims: readonly BatchDim[]): Tensor[] {
  const size = batchSize(inputs, dims)
  return inputs.map((x, j) => atFront(x, dims[j], size))
}

/** The size of the mapped axis, read from the first batched input. */
export function batchSize(inputs: readonly Tensor[], dims: readonly BatchDim[]): number {
  const i = dims.findIndex((d) => d !== null)
  return inputs[i].aval.shape[dims[i] as number]
}

/** `x` with its batch axis at 0: moved there, or made by broadcasting an unbatched `x`. */
export const atFront = (x: Tensor, d: BatchDim, size: number): Tensor =>
  d === null ? broadcast(x, [size, ...x.aval.shape]) : moveAxis(x, d, 0)

export function unary<P extends UnaryName>(
  prim: P,
  f: (x: number) => number,
  jvp: (x: Tensor, t: Tensor, y: Tensor) => Tensor,
  opts: { floatOnly?: boolean } = {},
): PrimitiveRule<P> {
  const floatOnly = opts.floatOnly ?? true
  const bind = (x: Tensor) => bind1(prim, [x], {} as Params<P>)
  return {
    abstractEval([x]) {
      if (floatOnly) checkFloat(prim, x)
      return [x]
    },
    cpu: ([x]) => [mapUnary(x, x.aval.dtype, f)],
    jvp([x], [t]) {
      const y = bind(x)
      return [[y], [jvp(x, t, y)]]
    },
    batch: ([x], [d]) => [[bind(x)], [d]],
  } satisfies PrimitiveRule<UnaryName> as PrimitiveRule<P>
}

export function binary<P extends BinaryName>(
  prim: P,
  f: (x: number, y: number) => number,
  rules: Pick<PrimitiveRule<P>, 'jvp' | 'transpose'>,
  outDtype?: (d: DType) => DType,
): PrimitiveRule<P> {
  const bind = (a: Tensor, b: Tensor) => bind1(prim, [a, b], {} as Params<P>)
  return {
    abstractEval(inputs) {
      checkSameShapes(prim, inputs)
      return [{ shape: inputs[0].shape, dtype: outDtype ? outDtype(inputs[0].dtype) : inputs[0].dtype }]
    },
    cpu: ([a, b], _p, [out]) => [mapBinary(a, b, out.dtype, f)],
    ...rules,
    batch(inputs, dims) {
      const [a, b] = batchElementwise(inputs, dims)
      return [[bind(a, b)], [0]]
    },
  } as PrimitiveRule<P>
}

export type { None }
