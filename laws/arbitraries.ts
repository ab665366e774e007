/**
 * fast-check arbitraries for tensors, shapes and parameter records. Every
 * domain is reached by mapping a plain draw (never by filtering), so no run is
 * wasted and shrinking stays inside the domain: a positive tensor is
 * `min + scale·|u|`, a tensor without ties is a shuffled grid plus jitter.
 */
import * as fc from 'fast-check'
import { tensor, type DType, type Tensor } from '../src/index.ts'

/** Where the elements of a tensor lie. */
export type Domain =
  /** [−scale, scale] (default scale 3). */
  | { readonly kind: 'real'; readonly scale?: number }
  /** [min, min + scale] (default 0.25 and 3): for log, sqrt, the base of pow. */
  | { readonly kind: 'positive'; readonly min?: number; readonly scale?: number }
  /** ±[min, min + scale] (default 0.25 and 3): a denominator, or abs and sign away from their kink. */
  | { readonly kind: 'nonzero'; readonly min?: number; readonly scale?: number }
  /** Pairwise distinct elements, at least gap/2 apart (default gap 0.5): max, reduceMax and compare away from ties. */
  | { readonly kind: 'distinct'; readonly gap?: number }
  /** Integers in [0, size): indices of an axis of that size. */
  | { readonly kind: 'index'; readonly size: number }
  /** true or false. */
  | { readonly kind: 'bool' }

/** The input domains of a law's draws, by name. */
export type DomainName = 'real' | 'positive' | 'nonzero' | 'distinct' | 'bool'

/** Constructors of the input domains (`domain.real()`, `domain.positive()`, ...), with their scales and gaps. */
export const domain = {
  real: (scale = 3): Domain => ({ kind: 'real', scale }),
  positive: (min = 0.25, scale = 3): Domain => ({ kind: 'positive', min, scale }),
  nonzero: (min = 0.25, scale = 3): Domain => ({ kind: 'nonzero', min, scale }),
  distinct: (gap = 0.5): Domain => ({ kind: 'distinct', gap }),
  index: (size: number): Domain => ({ kind: 'index', size }),
  bool: (): Domain => ({ kind: 'bool' }),
}

const resolve = (d: Domain | DomainName | undefined): Domain =>
  d === undefined ? domain.real() : typeof d === 'string' ? (d === 'bool' ? domain.bool() : ({ kind: d } as Domain)) : d

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1)

const unit = fc.double({ min: -1, max: 1, noNaN: true })

/** One element of a domain that is drawn element by element. */
function element(d: Domain): fc.Arbitrary<number> {
  switch (d.kind) {
    case 'real': {
      const s = d.scale ?? 3
      return unit.map((u) => s * u)
    }
    case 'positive': {
      const [m, s] = [d.min ?? 0.25, d.scale ?? 3]
      return unit.map((u) => m + s * Math.abs(u))
    }
    case 'nonzero': {
      const [m, s] = [d.min ?? 0.25, d.scale ?? 3]
      return unit.map((u) => (u < 0 || Object.is(u, -0) ? -1 : 1) * (m + s * Math.abs(u)))
    }
    case 'index':
      return fc.integer({ min: 0, max: Math.max(0, d.size - 1) })
    case 'bool':
      return fc.boolean().map(Number)
    case 'distinct':
      throw new Error('a distinct domain is drawn for a whole tensor at once')
    default:
      return d satisfies never
  }
}

/** n values, pairwise at least gap/2 apart, centred on 0: a shuffled grid with jitter below half a step. */
function distinctValues(n: number, gap: number): fc.Arbitrary<number[]> {
  const grid = Array.from({ length: n }, (_, i) => i)
  return fc
    .tuple(
      fc.shuffledSubarray(grid, { minLength: n, maxLength: n }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { minLength: n, maxLength: n }),
    )
    .map(([order, jitter]) => order.map((k, i) => (k - (n - 1) / 2) * gap + (jitter[i] * gap) / 2))
}

const defaultDtype = (d: Domain): DType => (d.kind === 'index' ? 'i32' : d.kind === 'bool' ? 'bool' : 'f64')

export interface TensorOptions<D extends DType = DType> {
  readonly domain?: Domain | DomainName
  /** Default: f64 for real domains, i32 for indices, bool for bool. */
  readonly dtype?: D
}

/**
 * The tensor type of a drawn shape: `[2, 3]` gives `Tensor<[2, 3], D>`, so a drawn input fits a typed layer (a 2 is
 * a batch `'B'`) and a wrong one does not compile; a shape known only at run time (`number[]`) checks nothing: its
 * tensors fit every shape.
 */
export type TensorOf<S extends readonly number[], D extends DType = DType> = number extends S['length']
  ? Tensor<any, D>
  : Tensor<[...S], D>

/** A tensor of the given shape whose elements lie in the domain. */
function tensorArb<const S extends readonly number[], D extends DType = DType>(
  shape: S,
  opts: TensorOptions<D> = {},
): fc.Arbitrary<TensorOf<S, D>> {
  const d = resolve(opts.domain)
  const dtype = opts.dtype ?? defaultDtype(d)
  const n = size(shape)
  const values =
    d.kind === 'distinct' ? distinctValues(n, d.gap ?? 0.5) : fc.array(element(d), { minLength: n, maxLength: n })
  return values.map((vs) => tensor(vs, { shape, dtype }) as Tensor as TensorOf<S, D>)
}

/** Tensors of the given shapes whose elements are distinct across all of them (no ties between operands either). */
function distinctTensors(
  shapes: readonly (readonly number[])[],
  opts: { gap?: number; dtype?: DType } = {},
): fc.Arbitrary<Tensor[]> {
  const sizes = shapes.map(size)
  return distinctValues(
    sizes.reduce((a, b) => a + b, 0),
    opts.gap ?? 0.5,
  ).map((vs) => {
    let at = 0
    return shapes.map((shape, k) => {
      const part = vs.slice(at, at + sizes[k])
      at += sizes[k]
      return tensor(part, { shape, dtype: opts.dtype ?? 'f64' }) as Tensor
    })
  })
}

export interface ShapeOptions {
  readonly minRank?: number
  readonly maxRank?: number
  readonly minDim?: number
  readonly maxDim?: number
}

/** A shape: rank in [minRank, maxRank] (default 0..3), each axis in [minDim, maxDim] (default 1..3). */
function shapeArb(opts: ShapeOptions = {}): fc.Arbitrary<number[]> {
  const { minRank = 0, maxRank = 3, minDim = 1, maxDim = 3 } = opts
  return fc.array(fc.integer({ min: minDim, max: maxDim }), { minLength: minRank, maxLength: maxRank })
}

/** A record of tensors with the given shapes (one domain for all): a layer's parameters, typed by their shapes. */
function record<const R extends { readonly [k: string]: readonly number[] }, D extends DType = DType>(
  shapes: R,
  opts: TensorOptions<D> = {},
): fc.Arbitrary<{ [K in keyof R]: TensorOf<R[K], D> }> {
  const entries = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, tensorArb(s, opts)]))
  return fc.record(entries) as fc.Arbitrary<never>
}

/** A seed for deterministic directions (tangents, cotangents); not shrunk, since any seed is as simple as another. */
const seed = (): fc.Arbitrary<number> => fc.noShrink(fc.integer({ min: 0, max: 2 ** 31 - 1 }))

/** A small non-zero scalar coefficient, for the linearity law. */
const coefficient = (): fc.Arbitrary<number> => element(domain.nonzero(0.5, 2))

/** fast-check arbitraries of tensors of a shape, dtype and domain. */
export const arb = {
  tensor: tensorArb,
  f64: <const S extends readonly number[]>(shape: S, d?: Domain | DomainName) =>
    tensorArb(shape, { domain: d, dtype: 'f64' as const }),
  f32: <const S extends readonly number[]>(shape: S, d?: Domain | DomainName) =>
    tensorArb(shape, { domain: d, dtype: 'f32' as const }),
  distinctTensors,
  shape: shapeArb,
  record,
  seed,
  coefficient,
}
