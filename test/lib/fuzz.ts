/**
 * Random programs for differential testing of the compiler: a program is a
 * list of steps over values of one shape, each step an operation of one or
 * two earlier values (elementwise maps, reductions broadcast back, running
 * sums, reversals, rotations, products of square matrices, comparisons and
 * selects, gathers and scatter-adds whose indices may lie out of range, a
 * scan over the leading axis, a round trip through i32), on inputs that mix
 * ordinary values with ±0 and large numbers, and with `specials`, NaN and
 * values whose products overflow to ±∞ (`nan`), or ±∞ itself (`inf`). fast-check draws and shrinks them;
 * `describeProgram`
 * prints one in the steps' own notation.
 */
import * as fc from 'fast-check'
import { makeProgram, ops, runProgram, scan, tensor, type Tensor } from '../../src/index.ts'
import { firstFar, type Closeness } from './close.ts'

type Unary = (x: Tensor) => Tensor
type Binary = (x: Tensor, y: Tensor) => Tensor

/**
 * Unary steps; the transcendental ones see a bounded argument. sin and cos see up to ±100 (sixteen turns, so
 * most arguments go through the reduction's integer path) and no more: sin passes its argument's absolute error
 * on, so an ulp of difference upstream (an adapter's tanh and the CPU's differ) in an argument of 10⁵ would
 * exceed the tolerance, and central differences (test/fuzz-grad.test.ts) cannot follow sin(1000·x). Huge
 * arguments, given exactly, are test/gpu/angle.test.ts's.
 */
const unary: Record<string, Unary> = {
  neg: (x) => ops.neg(x),
  exp: (x) => ops.exp(ops.tanh(x)),
  log: (x) => ops.log(ops.add(ops.abs(x), 1)),
  tanh: (x) => ops.tanh(x),
  sigmoid: (x) => ops.sigmoid(x),
  sin: (x) => ops.sin(ops.mul(ops.tanh(x), 100)),
  cos: (x) => ops.cos(ops.mul(ops.tanh(x), 100)),
  sqrt: (x) => ops.sqrt(ops.add(ops.square(ops.tanh(x)), 1)),
  abs: (x) => ops.abs(x),
  // A subnormal value (a product far below f32's normal range) may be flushed to 0 by an adapter (WGSL allows
  // it), which changes its sign: such values count as 0 here.
  sign: (x) => ops.sign(ops.where(ops.less(ops.abs(x), 1.2e-38), 0, x)),
  log1p: (x) => ops.log1p(ops.abs(x)),
  expm1: (x) => ops.expm1(ops.tanh(x)),
  erf: (x) => ops.erf(x),
  relu: (x) => ops.relu(x),
  softplus: (x) => ops.softplus(ops.tanh(x)),
  square: (x) => ops.square(ops.tanh(x)),
  // f32 → i32 (saturating, NaN to 0), integer arithmetic (wrapping), and back.
  ints: (x) => ops.astype(ops.add(ops.astype(ops.mul(x, 1000), 'i32'), ops.astype(ops.mul(x, 1e9), 'i32')), x.dtype),
}

const binary: Record<string, Binary> = {
  add: (x, y) => ops.add(x, y),
  sub: (x, y) => ops.sub(x, y),
  mul: (x, y) => ops.mul(ops.tanh(x), y),
  div: (x, y) => ops.div(x, ops.add(ops.square(ops.tanh(y)), 1)),
  maximum: (x, y) => ops.maximum(x, y),
  minimum: (x, y) => ops.minimum(x, y),
  select: (x, y) => ops.where(ops.greater(x, y), x, y),
  selectEqual: (x, y) => ops.where(ops.equal(x, y), y, ops.neg(x)),
}

/** Steps along an axis, keeping the shape. */
const along: Record<string, (x: Tensor, axis: number) => Tensor> = {
  sum: (x, a) => ops.broadcastTo(ops.sum(ops.tanh(x), a, { keepDims: true }), x.shape),
  max: (x, a) => ops.broadcastTo(ops.max(x, a, { keepDims: true }), x.shape),
  mean: (x, a) => ops.broadcastTo(ops.mean(ops.tanh(x), a, { keepDims: true }), x.shape),
  logsumexp: (x, a) => ops.broadcastTo(ops.logsumexp(ops.tanh(x), a, { keepDims: true }), x.shape),
  // Far from 0, where exp underflows unless the maximum is taken out first.
  logsumexpWide: (x, a) => ops.broadcastTo(ops.logsumexp(ops.mul(x, 200), a, { keepDims: true }), x.shape),
  cumsum: (x, a) => ops.cumsum(ops.tanh(x), a),
  flip: (x, a) => ops.flip(x, a),
  roll: (x, a) => {
    const n = x.shape[a]
    if (n < 2) return x
    const starts = x.shape.map(() => 0)
    const head = ops.slice(
      x,
      starts,
      x.shape.map((d, i) => (i === a ? 1 : d)),
    )
    const tail = ops.slice(
      x,
      x.shape.map((_, i) => (i === a ? 1 : 0)),
      x.shape.map((d, i) => (i === a ? d - 1 : d)),
    )
    return ops.concat([tail, head], a)
  },
}

/** A loop over the leading axis: h_t = tanh(h_{t−1} ⊙ y_t + x_t), the h_t stacked. */
function recurrence(x: Tensor, y: Tensor): Tensor {
  const [, ys] = scan(
    (h: Tensor, [xt, yt]: readonly [Tensor, Tensor]) => {
      const next = ops.tanh(ops.add(ops.mul(h, ops.tanh(yt)), xt))
      return [next, next] as const
    },
    ops.zeros(x.shape.slice(1), x.dtype) as Tensor,
    [x, y] as [Tensor, Tensor],
  )
  return ys as Tensor
}

export type Step =
  | { readonly kind: 'unary'; readonly op: string; readonly x: number }
  | { readonly kind: 'scan'; readonly x: number; readonly y: number }
  /** x gathered along `axis` at `indices` (as many as the axis is long, some out of range). */
  | { readonly kind: 'gather'; readonly x: number; readonly axis: number; readonly indices: readonly number[] }
  /** x with tanh(y) added at `indices` along `axis` (some out of range, some repeated). */
  | {
      readonly kind: 'scatter'
      readonly x: number
      readonly y: number
      readonly axis: number
      readonly indices: readonly number[]
    }
  | { readonly kind: 'binary'; readonly op: string; readonly x: number; readonly y: number }
  | { readonly kind: 'along'; readonly op: string; readonly x: number; readonly axis: number }
  | { readonly kind: 'matmul'; readonly x: number; readonly y: number }

export interface RandomProgram {
  readonly shape: readonly number[]
  readonly inputs: number
  readonly steps: readonly Step[]
  /** The input values, row by row (the inputs concatenated). */
  readonly values: readonly number[]
}

// Subnormals are left out: WGSL lets an adapter flush them to zero.
const edges = [0, -0, 1e4, -1e4, 3]
/** What `specials` adds to the inputs. */
const SPECIALS = {
  none: [],
  nan: [Number.NaN, 1e30, -1e30],
  inf: [Number.NaN, 1e30, -1e30, Infinity, -Infinity],
} as const
export type Specials = keyof typeof SPECIALS

/**
 * A random program over `inputs` values of one shape (square shapes allow
 * products); with `specials` 'nan', its inputs include NaN and values
 * whose squares overflow, with 'inf' ±∞ too; `differentiable` leaves out the steps that are
 * piecewise constant (the round trip through i32).
 */
export const randomProgram = (specials: Specials = 'none', differentiable = false): fc.Arbitrary<RandomProgram> =>
  fc
    .record({
      shape: fc.oneof(
        fc.tuple(fc.integer({ min: 1, max: 6 })),
        fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 })),
        fc.integer({ min: 1, max: 4 }).map((n) => [n, n] as [number, number]),
        // A long axis: reductions and running sums over it are split across invocations on WebGPU.
        fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 300, max: 1500 })),
      ),
      inputs: fc.integer({ min: 1, max: 3 }),
      length: fc.integer({ min: 1, max: 8 }),
    })
    .chain(({ shape, inputs, length }) => {
      const size = shape.reduce((a, b) => a * b, 1)
      const value = fc.oneof(
        // Values below f32's normal range would be subnormal, which WGSL lets an adapter flush to zero.
        { weight: 6, arbitrary: fc.double({ min: -4, max: 4, noNaN: true }).map((v) => (Math.abs(v) < 1e-30 ? 0 : v)) },
        { weight: 1, arbitrary: fc.constantFrom(...edges, ...SPECIALS[specials]) },
      )
      const square = shape.length === 2 && shape[0] === shape[1]
      const step = (available: number): fc.Arbitrary<Step> => {
        const pick = fc.integer({ min: 0, max: available - 1 })
        const kinds: fc.Arbitrary<Step>[] = [
          fc.record({
            kind: fc.constant('unary' as const),
            op: fc.constantFrom(...Object.keys(unary).filter((op) => !(differentiable && op === 'ints'))),
            x: pick,
          }),
          fc.record({
            kind: fc.constant('binary' as const),
            op: fc.constantFrom(...Object.keys(binary)),
            x: pick,
            y: pick,
          }),
          fc.record({
            kind: fc.constant('along' as const),
            op: fc.constantFrom(...Object.keys(along)),
            x: pick,
            axis: fc.integer({ min: 0, max: shape.length - 1 }),
          }),
        ]
        if (square) kinds.push(fc.record({ kind: fc.constant('matmul' as const), x: pick, y: pick }))
        kinds.push(fc.record({ kind: fc.constant('scan' as const), x: pick, y: pick }))
        // Indices one per position of the axis, from 2 below the range to 2 past it.
        const axisAndIndices = fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
          fc
            .array(fc.integer({ min: -2, max: shape[axis] + 1 }), {
              minLength: shape[axis],
              maxLength: shape[axis],
            })
            .map((indices) => ({ axis, indices })),
        )
        kinds.push(
          fc
            .record({ kind: fc.constant('gather' as const), x: pick, at: axisAndIndices })
            .map(({ at, ...r }) => ({ ...r, ...at })),
          fc
            .record({ kind: fc.constant('scatter' as const), x: pick, y: pick, at: axisAndIndices })
            .map(({ at, ...r }) => ({ ...r, ...at })),
        )
        return fc.oneof(...kinds)
      }
      const steps = Array.from({ length }, (_, i) => step(inputs + i))
      return fc.record({
        shape: fc.constant(shape as readonly number[]),
        inputs: fc.constant(inputs),
        steps: fc.tuple(...steps),
        values: fc.array(value, { minLength: inputs * size, maxLength: inputs * size }),
      })
    })

/** The program as a function of its inputs: its last value and the running sum of all its values' tanh. */
export function programOf(p: RandomProgram): (...xs: Tensor[]) => Tensor[] {
  return (...xs) => {
    const values = [...xs]
    for (const s of p.steps) {
      const x = values[s.x]
      if (s.kind === 'unary') values.push(unary[s.op](x))
      else if (s.kind === 'binary') values.push(binary[s.op](x, values[s.y]))
      else if (s.kind === 'along') values.push(along[s.op](x, s.axis))
      else if (s.kind === 'scan') values.push(recurrence(x, values[s.y]))
      else if (s.kind === 'gather') values.push(ops.take(x, tensor(s.indices, { dtype: 'i32' }), s.axis))
      else if (s.kind === 'scatter')
        values.push(ops.scatterAdd(x, tensor(s.indices, { dtype: 'i32' }), ops.tanh(values[s.y]), s.axis))
      else values.push(ops.matmul(ops.tanh(x), ops.tanh(values[s.y])))
    }
    const last = values[values.length - 1]
    return [last, ops.sum(ops.tanh(values.slice(p.inputs).reduce((a, b) => ops.add(a, b), ops.zerosLike(last))))]
  }
}

/** The program's input tensors (f32). */
export function inputsOf(p: RandomProgram): Tensor[] {
  const size = p.shape.reduce((a, b) => a * b, 1)
  return Array.from({ length: p.inputs }, (_, i) =>
    tensor(p.values.slice(i * size, (i + 1) * size), { shape: p.shape as number[] }),
  )
}

/** The program in its steps' notation: `v3 = maximum(v0, v2)`. */
export function describeProgram(p: RandomProgram): string {
  // Long inputs are shown by their elements that are not 0.
  const values =
    p.values.length <= 32
      ? `[${p.values.join(', ')}]`
      : `${p.values.length} values, 0 except {${p.values.flatMap((v, i) => (v === 0 ? [] : [`${i}: ${v}`])).join(', ')}}`
  const lines = [`inputs v0…v${p.inputs - 1}: f32[${p.shape.join(',')}] = ${values}`]
  p.steps.forEach((s, i) => {
    const v = `v${p.inputs + i}`
    if (s.kind === 'unary') lines.push(`${v} = ${s.op}(v${s.x})`)
    else if (s.kind === 'binary') lines.push(`${v} = ${s.op}(v${s.x}, v${s.y})`)
    else if (s.kind === 'along') lines.push(`${v} = ${s.op}(v${s.x}, axis ${s.axis})`)
    else if (s.kind === 'scan') lines.push(`${v} = scan h ← tanh(h·tanh v${s.y}[t] + v${s.x}[t])`)
    else if (s.kind === 'gather') lines.push(`${v} = take(v${s.x}, [${s.indices}], axis ${s.axis})`)
    else if (s.kind === 'scatter')
      lines.push(`${v} = scatterAdd(v${s.x}, [${s.indices}], tanh v${s.y}, axis ${s.axis})`)
    else lines.push(`${v} = matmul(tanh v${s.x}, tanh v${s.y})`)
  })
  return lines.join('\n')
}

/**
 * Runs the program with `run` (a compiled backend) and compares it with the
 * interpreter run as compiled programs run (indices out of range clamped or
 * dropped): the first disagreement, described with the program, or null.
 */
export async function disagreement(
  p: RandomProgram,
  name: string,
  run: (f: (...xs: Tensor[]) => Tensor[], xs: Tensor[]) => Promise<Tensor[]>,
  tolerance: Closeness,
): Promise<string | null> {
  const f = programOf(p)
  const xs = inputsOf(p)
  const want = runProgram(makeProgram(f)(...xs), xs)
  const program = () => `${describeProgram(p)}\n${makeProgram(f)(...xs).toString()}`
  let got: Tensor[]
  try {
    got = await run(f, xs)
  } catch (e) {
    return `${name} failed: ${(e as Error).message}\n${program()}`
  }
  for (const [i, g] of got.entries()) {
    const far = firstFar(await g.data(), want[i].dataSync(), tolerance)
    if (far !== undefined)
      return `output ${i}, element ${far.index}: ${name} ${far.actual}, CPU ${far.expected}\n${program()}`
  }
  return null
}
