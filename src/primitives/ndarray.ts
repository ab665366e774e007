/**
 * Row-major index arithmetic for the reference kernels. Clarity over speed:
 * these kernels are the oracle every compiled kernel is checked against.
 */
import { allocate, type DType, type TypedArray } from '../dtype.ts'
import { stridesOf } from '../shape/strides.ts'
import { concrete, sizeOf, type ConcreteTensor } from '../tensor.ts'

/** Calls `body(flatOut, index)` for every multi-index of `shape`, in row-major order. */
export function forEachIndex(shape: readonly number[], body: (flat: number, index: number[]) => void): void {
  const n = sizeOf(shape)
  const index = new Array<number>(shape.length).fill(0)
  for (let flat = 0; flat < n; flat++) {
    body(flat, index)
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) break
      index[d] = 0
    }
  }
}

/** A new tensor of shape `shape` whose element at `index` is `at(index)`. */
export function generate(shape: readonly number[], dtype: DType, at: (index: number[]) => number): ConcreteTensor {
  const out = allocate(dtype, sizeOf(shape))
  forEachIndex(shape, (flat, index) => {
    out[flat] = at(index)
  })
  return concrete(shape, dtype, out)
}

export const dot = (strides: readonly number[], index: readonly number[]): number => {
  let o = 0
  for (let i = 0; i < index.length; i++) o += strides[i] * index[i]
  return o
}

export function mapUnary(x: ConcreteTensor, dtype: DType, f: (v: number) => number): ConcreteTensor {
  const out = allocate(dtype, x.values.length)
  const xs = x.values
  for (let i = 0; i < xs.length; i++) out[i] = f(xs[i])
  return concrete(x.aval.shape, dtype, out)
}

export function mapBinary(
  a: ConcreteTensor,
  b: ConcreteTensor,
  dtype: DType,
  f: (x: number, y: number) => number,
): ConcreteTensor {
  const out = allocate(dtype, a.values.length)
  const xs = a.values
  const ys = b.values
  for (let i = 0; i < xs.length; i++) out[i] = f(xs[i], ys[i])
  return concrete(a.aval.shape, dtype, out)
}

/** Reduces the axes `axes` of `x` with `combine`, starting from `init`; the reduced axes are removed. */
export function reduce(
  x: ConcreteTensor,
  axes: readonly number[],
  outShape: readonly number[],
  init: number,
  combine: (acc: number, v: number) => number,
): ConcreteTensor {
  const acc: TypedArray = new Float64Array(sizeOf(outShape)).fill(init)
  const keep = x.aval.shape.map((_, i) => !axes.includes(i))
  const outStrides = stridesOf(outShape)
  const xs = x.values
  forEachIndex(x.aval.shape, (flat, index) => {
    let o = 0
    let k = 0
    for (let d = 0; d < index.length; d++) if (keep[d]) o += index[d] * outStrides[k++]
    acc[o] = combine(acc[o], xs[flat])
  })
  const out = allocate(x.aval.dtype, acc.length)
  out.set(acc)
  return concrete(outShape, x.aval.dtype, out)
}

export const checkAxes = (prim: string, axes: readonly number[], ndim: number): void => {
  const seen = new Set<number>()
  for (const a of axes) {
    if (!Number.isInteger(a) || a < 0 || a >= ndim)
      throw new Error(`${prim}: axis ${a} is out of range for a tensor of rank ${ndim} (expected 0..${ndim - 1})`)
    if (seen.has(a)) throw new Error(`${prim}: axis ${a} is repeated in [${axes.join(', ')}]`)
    seen.add(a)
  }
}
