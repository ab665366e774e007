/**
 * Windows: a value that is a stored value's elements rearranged (reshaped,
 * transposed, sliced, broadcast, or put side by side from slices of one
 * value at evenly spaced starts) read in place through strides. Each axis of
 * the value is a mixed-radix number whose digits each have a stride in the
 * stored buffer, so element (i₀, i₁, …) is at `from` plus the sum of every
 * digit times its stride.
 *
 * A convolution's windows are such a value: x's patches, [n·h·w, kh·kw·c],
 * built as slices of the padded input side by side, are the padded input
 * with the row digits (n, h, w) and the column digits (kh, kw, c), where h
 * and kh step through the same rows. A matmul that reads its operand as a
 * window needs no buffer of the patches, which hold kh·kw times the
 * elements of the input (implicit im2col).
 */
import type { Params } from '../../src/core/index.ts'
import { type Atom, type Eqn, Var } from '../../src/ir/index.ts'
import { stridesOf } from '../../src/shape/index.ts'
import { type Digit, sizeOfDigits } from '../kernels/matmul.ts'

/** A value read from `source`'s buffer: each axis's digits, outermost first, and where element 0 is. */
export interface Window {
  readonly source: Var
  readonly from: number
  readonly axes: readonly (readonly Digit[])[]
}

/**
 * Digits without those of size 1, and each pair of neighbours that steps through memory as one digit (the outer
 * stride is the inner one's whole run) merged into one.
 */
export function normalDigits(digits: readonly Digit[]): Digit[] {
  const out: Digit[] = []
  for (const [size, stride] of digits) {
    if (size === 1) continue
    const last = out[out.length - 1]
    if (last !== undefined && last[1] === size * stride) out[out.length - 1] = [last[0] * size, stride]
    else out.push([size, stride])
  }
  return out
}

/** The window of a stored value: row-major strides, one digit per axis. */
function stored(source: Var): Window {
  const shape = source.aval.shape
  const strides = stridesOf(shape)
  return { source, from: 0, axes: shape.map((size, i) => [[size, strides[i]] as Digit]) }
}

/** The same elements in another shape: the digits, in row-major order, regrouped (split where an axis ends inside one). */
function reshaped(w: Window, shape: readonly number[]): Window | null {
  const digits = w.axes.flatMap((d) => normalDigits(d))
  const axes: Digit[][] = []
  for (const size of shape) {
    const axis: Digit[] = []
    let need = size
    while (need > 1) {
      const next = digits.shift()
      if (next === undefined) return null
      const [s, t] = next
      if (need % s === 0) {
        axis.push(next)
        need /= s
      } else if (s % need === 0) {
        axis.push([need, t * (s / need)])
        digits.unshift([s / need, t])
        need = 1
      } else return null
    }
    axes.push(axis)
  }
  return digits.length === 0 ? { ...w, axes } : null
}

/**
 * Parts side by side along `axis`, where every part has the same digits and part p starts p·d elements after
 * part 0: the axis becomes a digit of one value per part with stride d, outside the parts' own digits of that axis.
 */
function sideBySide(parts: readonly Window[], axis: number): Window | null {
  const [first, second] = parts
  if (first === undefined) return null
  if (second === undefined) return first
  const key = (w: Window) => JSON.stringify(w.axes.map((d) => normalDigits(d)))
  const d = second.from - first.from
  if (d < 0) return null
  if (parts.some((w, p) => w.source !== first.source || w.from !== first.from + p * d || key(w) !== key(first)))
    return null
  // The parts' own extent along the axis: part p's element i is at index p·size + i.
  const size = sizeOfDigits(first.axes[axis])
  if (size !== 1 && d === 0) return null
  return {
    ...first,
    axes: first.axes.map((digits, i) => (i === axis ? [[parts.length, d], ...digits] : digits)),
  }
}

/** A run of each axis: the whole axis, or a run of its outermost digit in whole steps of the digits inside it. */
function sliced(w: Window, starts: readonly number[], limits: readonly number[]): Window | null {
  let from = w.from
  const axes: Digit[][] = []
  for (const [i, digits] of w.axes.entries()) {
    const ds = normalDigits(digits)
    if (starts[i] === 0 && limits[i] === sizeOfDigits(ds)) {
      axes.push(ds)
      continue
    }
    const [outer, ...rest] = ds
    const step = sizeOfDigits(rest)
    if (outer === undefined || starts[i] % step !== 0 || limits[i] % step !== 0) return null
    from += (starts[i] / step) * outer[1]
    axes.push([[(limits[i] - starts[i]) / step, outer[1]], ...rest])
  }
  return { ...w, from, axes }
}

/** New leading axes, and axes of size 1 made longer, all of stride 0. */
function broadcast(w: Window, to: readonly number[]): Window {
  const lead = to.length - w.axes.length
  return {
    ...w,
    axes: to.map((size, i) =>
      i < lead || (size > 1 && sizeOfDigits(w.axes[i - lead]) === 1) ? [[size, 0] as Digit] : w.axes[i - lead],
    ),
  }
}

/**
 * The window through which `a` reads the first value on its way back that is stored (`isStored`) or computed
 * rather than rearranged: that value is the window's source, and a caller that reads the window stores it. A
 * rearrangement that is no window (a slice across digits, parts that are not evenly spaced) is a source itself.
 * Null for an atom that is not a variable, or an empty value.
 */
export function windowOf(a: Atom, producer: ReadonlyMap<Var, Eqn>, isStored: (v: Var) => boolean): Window | null {
  const known = new Map<Var, Window>()
  const walk = (x: Atom): Window | null => {
    if (!(x instanceof Var) || x.aval.shape.includes(0)) return null
    if (isStored(x)) return stored(x)
    const cached = known.get(x)
    if (cached !== undefined) return cached
    const e = producer.get(x)
    const rearranged = (): Window | null => {
      if (e === undefined) return null
      if (e.prim === 'concat') {
        const parts = e.inputs.map((p) => walk(p))
        return parts.every((p) => p !== null)
          ? sideBySide(parts as Window[], (e.params as Params<'concat'>).axis)
          : null
      }
      const inner = ['reshape', 'transpose', 'broadcast', 'slice'].includes(e.prim) ? walk(e.inputs[0]) : null
      if (inner === null) return null
      switch (e.prim) {
        case 'reshape':
          return reshaped(inner, x.aval.shape)
        case 'transpose':
          return { ...inner, axes: (e.params as Params<'transpose'>).perm.map((p) => inner.axes[p]) }
        case 'broadcast':
          return broadcast(inner, x.aval.shape)
        default: {
          const { starts, limits } = e.params as Params<'slice'>
          return sliced(inner, starts, limits)
        }
      }
    }
    const out = rearranged() ?? stored(x)
    known.set(x, out)
    return out
  }
  return walk(a)
}
