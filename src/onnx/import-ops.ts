/**
 * The rules of the general ONNX operators (opset 13 and later): elementwise
 * arithmetic and comparisons, reductions, the structural operators and
 * indexing, each written with adjoint's own operations so that every
 * transform applies. Shape arguments are read as known values
 * (`NodeContext.static`); a rule never reads the elements of a value that
 * came from the inputs.
 */
import * as lax from '../core/lax.ts'
import * as ops from '../ops/index.ts'
import { takeAlongAxis } from '../ops/sorting.ts'
import { concrete, formatShape, sizeOf, type Tensor } from '../tensor.ts'
import { dataTypeName, TensorDataType } from './proto.ts'
import { isIntegerType, knownProto, type NodeContext, type Rule, Value } from './import-values.ts'

const { BOOL, INT64, FLOAT } = TensorDataType

/** A tensor as the broadly typed operand the overloaded ops accept. */
export const u = (x: Tensor): Tensor<any, any> => x as Tensor<any, any>

/** A concrete tensor as a known value. */
const knownOf = (type: number, t: Tensor): Value => {
  const c = t.toConcrete()
  return Value.known(type, c.aval.dtype, c.aval.shape, c.values)
}

const one = (type: number, t: Tensor): Value[] => [Value.of(type, t)]

// ---------------------------------------------------------------- elementwise

export const unary =
  (f: (x: Tensor<any, any>) => Tensor): Rule =>
  (cx, ins) => {
    const x = cx.input(ins, 0, 'X')
    return one(x.type, f(u(x.tensor)))
  }

const binary =
  (f: (a: Tensor<any, any>, b: Tensor<any, any>) => Tensor, bool = false): Rule =>
  (cx, ins) => {
    const a = cx.input(ins, 0, 'A')
    const b = cx.input(ins, 1, 'B')
    return one(bool ? BOOL : a.type, f(u(a.tensor), u(b.tensor)))
  }

const variadic =
  (
    f: (a: Tensor<any, any>, b: Tensor<any, any>) => Tensor,
    finish?: (y: Tensor<any, any>, n: number) => Tensor,
  ): Rule =>
  (cx, ins) => {
    const xs = ins.filter((v): v is Value => v !== undefined)
    if (xs.length === 0) cx.fail('expected at least one input')
    const y = xs.slice(1).reduce((acc, v) => f(u(acc), u(v.tensor)), xs[0].tensor)
    return one(xs[0].type, finish === undefined ? y : finish(u(y), xs.length))
  }

/** A bool operation of two operands broadcast to one shape. */
const logical = (f: (a: Tensor, b: Tensor) => Tensor): Rule =>
  binary((a, b) => {
    const shape = ops.broadcastShapes('logical', a.aval.shape, b.aval.shape)
    return f(lax.broadcast(a, shape), lax.broadcast(b, shape))
  }, true)

const isInf: Rule = (cx, ins) => {
  const x = u(cx.input(ins, 0, 'X').tensor)
  const pos = cx.int('detect_positive', 1) !== 0
  const neg = cx.int('detect_negative', 1) !== 0
  const hits = [pos ? ops.equal(x, Infinity) : null, neg ? ops.equal(x, -Infinity) : null].filter((t) => t !== null)
  const out = hits.length === 0 ? ops.zerosLike(ops.equal(x, 0)) : hits.reduce((a, b) => ops.notEqual(u(a), u(b)))
  return one(BOOL, out)
}

const pow: Rule = (cx, ins) => {
  const a = cx.input(ins, 0, 'X')
  const b = cx.input(ins, 1, 'Y')
  return one(a.type, ops.pow(u(a.tensor), u(lax.convert(b.tensor, a.dtype))))
}

const clip: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'input')
  let y = u(x.tensor)
  if (ins[1] !== undefined) y = ops.maximum(y, u(ins[1].tensor))
  if (ins[2] !== undefined) y = ops.minimum(y, u(ins[2].tensor))
  return one(x.type, y)
}

const cast =
  (target: (cx: NodeContext, ins: readonly (Value | undefined)[]) => number): Rule =>
  (cx, ins) => {
    const x = cx.input(ins, 0, 'input')
    const to = target(cx, ins)
    return one(to, lax.convert(x.tensor, cx.dtypeOf(to, `the target type of the Cast`)))
  }

export const elementwiseRules: Record<string, Rule> = {
  Identity: (cx, ins) => [cx.input(ins, 0, 'input')],
  Neg: unary(ops.neg),
  Abs: unary(ops.abs),
  Sign: unary(ops.sign),
  Exp: unary(ops.exp),
  Log: unary(ops.log),
  Sqrt: unary(ops.sqrt),
  Reciprocal: unary((x) => ops.div(1, x)),
  Tanh: unary(ops.tanh),
  Sigmoid: unary(ops.sigmoid),
  Sin: unary(ops.sin),
  Cos: unary(ops.cos),
  Tan: unary((x) => ops.div(ops.sin(x), ops.cos(x))),
  Erf: unary((x) => lax.erf(x)),
  Not: unary((x) => ops.equal(x, ops.zerosLike(x))),
  IsNaN: (cx, ins) => one(BOOL, ops.notEqual(u(cx.input(ins, 0, 'X').tensor), u(cx.input(ins, 0, 'X').tensor))),
  IsInf: isInf,
  Add: binary(ops.add),
  Sub: binary(ops.sub),
  Mul: binary(ops.mul),
  Div: binary(ops.div),
  Pow: pow,
  Equal: binary(ops.equal, true),
  Less: binary(ops.less, true),
  LessOrEqual: binary(ops.lessEqual, true),
  Greater: binary(ops.greater, true),
  GreaterOrEqual: binary(ops.greaterEqual, true),
  And: logical((a, b) => lax.select(a, b, lax.fullLike(b, 0))),
  Or: logical((a, b) => lax.select(a, lax.fullLike(a, 1), b)),
  Xor: binary(ops.notEqual, true),
  Max: variadic(ops.maximum),
  Min: variadic(ops.minimum),
  Sum: variadic(ops.add),
  Mean: variadic(ops.add, (y, n) => ops.div(y, n)),
  Where: (cx, ins) => {
    const c = cx.input(ins, 0, 'condition')
    const a = cx.input(ins, 1, 'X')
    const b = cx.input(ins, 2, 'Y')
    return one(a.type, ops.where(u(c.tensor), u(a.tensor), u(b.tensor)))
  },
  Clip: clip,
  Cast: cast((cx) => cx.int('to', -1)),
  CastLike: cast((cx, ins) => cx.input(ins, 1, 'target_type').type),
  MatMul: binary(ops.matmul),
}

// ---------------------------------------------------------------- reductions

/** The axes a reduction reduces: the attribute (before opset 18, except ReduceSum) or input 1; all when none. */
function reductionAxes(cx: NodeContext, ins: readonly (Value | undefined)[], rank: number): number[] {
  const given = cx.has('axes') ? [...(cx.ints('axes') ?? [])] : cx.optionalStatic(ins, 1, 'axes')
  if (given === undefined || given.length === 0)
    return cx.int('noop_with_empty_axes', 0) !== 0 ? [] : Array.from({ length: rank }, (_, i) => i)
  return [...new Set(given.map((a) => cx.axis(a, rank)))].sort((a, b) => a - b)
}

const reduction =
  (f: (x: Tensor<any, any>, axes: number[], keepDims: boolean) => Tensor): Rule =>
  (cx, ins) => {
    const x = cx.input(ins, 0, 'data')
    const axes = reductionAxes(cx, ins, x.shape.length)
    if (axes.length === 0) return [x]
    return one(x.type, f(u(x.tensor), axes, cx.int('keepdims', 1) !== 0))
  }

/** ReduceProd of known values (adjoint has no product reduction for traced ones). */
const reduceProd: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'data')
  const known =
    x.known ??
    cx.fail('ReduceProd is supported only on known values (shape arithmetic): adjoint has no product reduction')
  const axes = reductionAxes(cx, ins, x.shape.length)
  const keep = cx.int('keepdims', 1) !== 0
  const outShape = x.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]))
  const out = new Array<number>(sizeOf(outShape)).fill(1)
  const keptStrides = x.shape.map((_, i) =>
    axes.includes(i) ? 0 : sizeOf(x.shape.filter((_, j) => j > i && !axes.includes(j))),
  )
  for (let k = 0; k < known.length; k++) {
    let rest = k
    let at = 0
    for (let i = x.shape.length - 1; i >= 0; i--) {
      at += (rest % x.shape[i]) * keptStrides[i]
      rest = Math.floor(rest / x.shape[i])
    }
    out[at] *= known[k]
  }
  return [Value.known(x.type, x.dtype, outShape, out)]
}

const argExtremum =
  (f: typeof ops.argmax): Rule =>
  (cx, ins) => {
    const x = cx.input(ins, 0, 'data')
    const rank = x.shape.length
    const a = cx.axis(cx.int('axis', 0), rank)
    const keepDims = cx.int('keepdims', 1) !== 0
    if (cx.int('select_last_index', 0) === 0) return one(INT64, f(u(x.tensor), a, { keepDims }))
    const n = x.shape[a]
    const last = f(u(lax.rev(x.tensor, [a])), a, { keepDims })
    return one(INT64, ops.sub(n - 1, u(last)))
  }

const cumsum: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'x')
  const rank = x.shape.length
  const [axis] = cx.static(ins, 1, 'axis')
  const a = cx.axis(axis, rank)
  const reverse = cx.int('reverse', 0) !== 0
  const y = lax.cumsum(x.tensor, a, reverse)
  if (cx.int('exclusive', 0) === 0) return one(x.type, y)
  const n = x.shape[a]
  if (n === 0) return one(x.type, y)
  // Exclusive: the inclusive sums shifted by one place, a zero where the running sum starts.
  const zeros = x.shape.map(() => 0)
  const at = (v: number) => x.shape.map((_, i) => (i === a ? v : 0))
  const cut = reverse
    ? lax.slice(y, at(1), x.shape.slice())
    : lax.slice(
        y,
        zeros,
        x.shape.map((d, i) => (i === a ? n - 1 : d)),
      )
  return one(x.type, reverse ? lax.pad(cut, zeros, at(1)) : lax.pad(cut, at(1), zeros))
}

export const reductionRules: Record<string, Rule> = {
  ReduceSum: reduction((x, axes, keepDims) => ops.sum(x, axes, { keepDims })),
  ReduceMean: reduction((x, axes, keepDims) => ops.mean(x, axes, { keepDims })),
  ReduceMax: reduction((x, axes, keepDims) => ops.max(x, axes, { keepDims })),
  ReduceMin: reduction((x, axes, keepDims) => ops.min(x, axes, { keepDims })),
  ReduceSumSquare: reduction((x, axes, keepDims) => ops.sum(ops.mul(x, x), axes, { keepDims })),
  ReduceL1: reduction((x, axes, keepDims) => ops.sum(ops.abs(x), axes, { keepDims })),
  ReduceL2: reduction((x, axes, keepDims) => ops.sqrt(ops.sum(ops.mul(x, x), axes, { keepDims }))),
  ReduceLogSum: reduction((x, axes, keepDims) => ops.log(ops.sum(x, axes, { keepDims }))),
  ReduceLogSumExp: reduction((x, axes, keepDims) => ops.logsumexp(x, axes, { keepDims })),
  ReduceProd: reduceProd,
  ArgMax: argExtremum(ops.argmax),
  ArgMin: argExtremum(ops.argmin),
  CumSum: cumsum,
}

// ---------------------------------------------------------------- structure

/** ONNX Reshape's target: 0 copies the input's size there (unless allowzero), −1 is inferred. */
function reshapeTarget(
  cx: NodeContext,
  from: readonly number[],
  spec: readonly number[],
  allowZero: boolean,
): number[] {
  const shape = spec.map((d, i) => (d === 0 && !allowZero ? from[i] : d))
  const known = shape.filter((d) => d !== -1)
  if (shape.length - known.length > 1) cx.fail(`the shape ${formatShape(spec)} has more than one −1`)
  const rest = sizeOf(from) / Math.max(sizeOf(known), 1)
  const out = shape.map((d) => (d === -1 ? rest : d))
  if (out.some((d) => !(Number.isInteger(d) && d >= 0)) || sizeOf(out) !== sizeOf(from))
    cx.fail(`cannot reshape ${formatShape(from)} (${sizeOf(from)} elements) to ${formatShape(spec)}`)
  return out
}

const reshape: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'data')
  const spec = cx.static(ins, 1, 'shape')
  return one(x.type, lax.reshape(x.tensor, reshapeTarget(cx, x.shape, spec, cx.int('allowzero', 0) !== 0)))
}

const flatten: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'input')
  const r = x.shape.length
  const raw = cx.int('axis', 1)
  const a = raw < 0 ? raw + r : raw
  if (!(a >= 0 && a <= r)) cx.fail(`axis ${raw} is out of range for a tensor of rank ${r}`)
  return one(x.type, lax.reshape(x.tensor, [sizeOf(x.shape.slice(0, a)), sizeOf(x.shape.slice(a))]))
}

const transpose: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'data')
  const r = x.shape.length
  const perm = cx.ints('perm') ?? x.shape.map((_, i) => r - 1 - i)
  if (perm.length !== r || new Set(perm.map((p) => cx.axis(p, r))).size !== r)
    cx.fail(`perm [${perm.join(', ')}] is not a permutation of the ${r} axes`)
  return one(
    x.type,
    lax.transpose(
      x.tensor,
      perm.map((p) => cx.axis(p, r)),
    ),
  )
}

/** Axes from input 1 (opset 13 on) or from the attribute of older files. */
const axesInput = (cx: NodeContext, ins: readonly (Value | undefined)[]): number[] | undefined =>
  cx.has('axes') ? [...(cx.ints('axes') ?? [])] : cx.optionalStatic(ins, 1, 'axes')

const squeeze: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'data')
  const r = x.shape.length
  const given = axesInput(cx, ins)
  const axes = given === undefined ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : given.map((a) => cx.axis(a, r))
  for (const a of axes)
    if (x.shape[a] !== 1) cx.fail(`axis ${a} of ${formatShape(x.shape)} has size ${x.shape[a]}, not 1`)
  return one(
    x.type,
    lax.reshape(
      x.tensor,
      x.shape.filter((_, i) => !axes.includes(i)),
    ),
  )
}

const unsqueeze: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'data')
  const given = axesInput(cx, ins) ?? cx.fail('the axes are missing')
  const r = x.shape.length + given.length
  const axes = given.map((a) => cx.axis(a, r))
  if (new Set(axes).size !== axes.length) cx.fail(`the axes [${given.join(', ')}] repeat an axis`)
  const rest = [...x.shape]
  const shape = Array.from({ length: r }, (_, i) => (axes.includes(i) ? 1 : (rest.shift() as number)))
  return one(x.type, lax.reshape(x.tensor, shape))
}

const concat: Rule = (cx, ins) => {
  const xs = ins.filter((v): v is Value => v !== undefined)
  if (xs.length === 0) cx.fail('expected at least one input')
  const a = cx.axis(cx.int('axis', 0), xs[0].shape.length)
  const parts = xs.filter((v) => v.shape[a] !== 0)
  if (parts.length === 0) return [xs[0]]
  return one(
    xs[0].type,
    lax.concat(
      parts.map((v) => v.tensor),
      a,
    ),
  )
}

const split: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'input')
  const a = cx.axis(cx.int('axis', 0), x.shape.length)
  const n = x.shape[a]
  const count = cx.node.output.length
  const given = cx.has('split') ? [...(cx.ints('split') ?? [])] : cx.optionalStatic(ins, 1, 'split')
  const chunk = Math.ceil(n / (cx.has('num_outputs') ? cx.int('num_outputs', count) : count))
  const sizes = given ?? Array.from({ length: count }, (_, i) => Math.max(0, Math.min(chunk, n - i * chunk)))
  if (sizes.length !== count || sizes.reduce((s, d) => s + d, 0) !== n)
    cx.fail(`the split sizes [${sizes.join(', ')}] do not divide axis ${a} of size ${n} into ${count} outputs`)
  let start = 0
  return sizes.map((d) => {
    const starts = x.shape.map((_, i) => (i === a ? start : 0))
    const limits = x.shape.map((s, i) => (i === a ? start + d : s))
    start += d
    return Value.of(x.type, lax.slice(x.tensor, starts, limits))
  })
}

/** The positions along one axis that Slice keeps, from ONNX's clamping rules for start, end and step. */
export function slicePositions(start: number, end: number, step: number, n: number): number[] {
  const norm = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + n : v, lo), hi)
  const [s, e] = step > 0 ? [norm(start, 0, n), norm(end, 0, n)] : [norm(start, 0, n - 1), norm(end, -1, n - 1)]
  const out: number[] = []
  for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(i)
  return out
}

const slice: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'data')
  const r = x.shape.length
  const starts = cx.static(ins, 1, 'starts')
  const ends = cx.static(ins, 2, 'ends')
  const axes = (cx.optionalStatic(ins, 3, 'axes') ?? starts.map((_, i) => i)).map((a) => cx.axis(a, r))
  const steps = cx.optionalStatic(ins, 4, 'steps') ?? starts.map(() => 1)
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length)
    cx.fail('starts, ends, axes and steps must have the same length')
  let y = x.tensor
  axes.forEach((a, k) => {
    if (steps[k] === 0) cx.fail('a step is 0')
    const n = x.shape[a]
    const at = slicePositions(starts[k], ends[k], steps[k], n)
    const lo = Math.min(...at, n)
    const count = at.length
    const shape = y.aval.shape
    if (count === 0 || Math.abs(steps[k]) === 1) {
      const begin = count === 0 ? 0 : lo
      y = lax.slice(
        y,
        shape.map((_, i) => (i === a ? begin : 0)),
        shape.map((d, i) => (i === a ? begin + count : d)),
      )
      if (steps[k] < 0) y = lax.rev(y, [a])
    } else y = lax.gather(y, concrete([count], 'i32', Int32Array.from(at)), a)
  })
  return one(x.type, y)
}

const expand: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'input')
  const shape = cx.static(ins, 1, 'shape')
  const target = ops.broadcastShapes(`${cx.where}`, x.shape, shape)
  return one(x.type, ops.broadcastTo(u(x.tensor), target))
}

const tile: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'input')
  const repeats = cx.static(ins, 1, 'repeats')
  if (repeats.length !== x.shape.length)
    cx.fail(`expected ${x.shape.length} repeats for ${formatShape(x.shape)}, got ${repeats.length}`)
  // [d0, d1, …] → [1, d0, 1, d1, …] → [r0, d0, r1, d1, …] → [r0·d0, r1·d1, …]
  const spread = lax.reshape(
    x.tensor,
    x.shape.flatMap((d) => [1, d]),
  )
  const wide = lax.broadcast(
    spread,
    x.shape.flatMap((d, i) => [repeats[i], d]),
  )
  return one(
    x.type,
    lax.reshape(
      wide,
      x.shape.map((d, i) => d * repeats[i]),
    ),
  )
}

/** Pads one axis by `lo` and `hi` (non-negative) in an `edge`, `reflect` or `wrap` mode: slices of x joined on. */
function padBySlices(cx: NodeContext, x: Tensor, a: number, lo: number, hi: number, mode: string): Tensor {
  const shape = x.aval.shape
  const n = shape[a]
  const part = (from: number, to: number) =>
    lax.slice(
      x,
      shape.map((_, i) => (i === a ? from : 0)),
      shape.map((d, i) => (i === a ? to : d)),
    )
  const spread = (t: Tensor, k: number) =>
    lax.broadcast(
      t,
      shape.map((d, i) => (i === a ? k : d)),
    )
  if (mode === 'reflect' && (lo >= n || hi >= n))
    cx.fail(`reflect padding of ${lo} and ${hi} needs an axis longer than both; axis ${a} has ${n}`)
  if (mode === 'wrap' && (lo > n || hi > n)) cx.fail(`wrap padding of ${lo} and ${hi} is longer than axis ${a} (${n})`)
  if (n === 0) cx.fail(`cannot ${mode}-pad the empty axis ${a}`)
  const before =
    mode === 'edge' ? spread(part(0, 1), lo) : mode === 'reflect' ? lax.rev(part(1, lo + 1), [a]) : part(n - lo, n)
  const after =
    mode === 'edge'
      ? spread(part(n - 1, n), hi)
      : mode === 'reflect'
        ? lax.rev(part(n - 1 - hi, n - 1), [a])
        : part(0, hi)
  return lax.concat([...(lo > 0 ? [before] : []), x, ...(hi > 0 ? [after] : [])], a)
}

const pad: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'data')
  const r = x.shape.length
  const pads = cx.static(ins, 1, 'pads')
  const axes = (cx.optionalStatic(ins, 3, 'axes') ?? x.shape.map((_, i) => i)).map((a) => cx.axis(a, r))
  if (pads.length !== 2 * axes.length) cx.fail(`expected ${2 * axes.length} pads, got ${pads.length}`)
  const lo = x.shape.map(() => 0)
  const hi = x.shape.map(() => 0)
  axes.forEach((a, k) => {
    lo[a] = pads[k]
    hi[a] = pads[k + axes.length]
  })
  // Negative pads cut: a slice first, then non-negative padding.
  let y = lax.slice(
    x.tensor,
    lo.map((p) => Math.max(0, -p)),
    x.shape.map((d, i) => d - Math.max(0, -hi[i])),
  )
  const [plo, phi] = [lo.map((p) => Math.max(0, p)), hi.map((p) => Math.max(0, p))]
  const mode = cx.string('mode', 'constant')
  if (mode !== 'constant') {
    if (!['edge', 'reflect', 'wrap'].includes(mode))
      cx.fail(`mode '${mode}' is not one of constant, edge, reflect, wrap`)
    x.shape.forEach((_, a) => {
      if (plo[a] > 0 || phi[a] > 0) y = padBySlices(cx, y, a, plo[a], phi[a], mode)
    })
    return one(x.type, y)
  }
  const padded = lax.pad(y, plo, phi)
  const c = ins[2]
  if (c === undefined || (c.known !== undefined && c.known[0] === 0)) return one(x.type, padded)
  // A constant other than 0 where the padding is: the mask of the input's positions picks.
  const inside = lax.pad(concrete(y.aval.shape, 'bool', new Uint8Array(sizeOf(y.aval.shape)).fill(1)), plo, phi)
  return one(x.type, ops.where(u(inside), u(padded), u(lax.reshape(c.tensor, []))))
}

const constant: Rule = (cx) => {
  const t = cx.tensor('value')
  if (t !== undefined) return [knownProto(t, cx.floatDType, `${cx.where}: the value`)]
  const f32 = cx.floatDType ?? 'f32'
  if (cx.has('value_float')) return [Value.known(FLOAT, f32, [], [cx.float('value_float', 0)])]
  const floats = cx.floats('value_floats')
  if (floats !== undefined) return [Value.known(FLOAT, f32, [floats.length], floats)]
  if (cx.has('value_int')) return [Value.known(INT64, 'i32', [], [cx.int('value_int', 0)])]
  const ints = cx.ints('value_ints')
  if (ints !== undefined) return [Value.known(INT64, 'i32', [ints.length], ints)]
  return cx.fail('only value, value_float(s) and value_int(s) constants are supported (not strings or sparse tensors)')
}

const constantOfShape: Rule = (cx, ins) => {
  const shape = cx.static(ins, 0, 'shape')
  const t = cx.tensor('value')
  const v =
    t === undefined ? Value.known(FLOAT, cx.floatDType ?? 'f32', [1], [0]) : knownProto(t, cx.floatDType, 'value')
  const fill = v.known?.[0] ?? 0
  return [Value.known(v.type, v.dtype, shape, new Array<number>(sizeOf(shape)).fill(fill))]
}

const shapeOf: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'data')
  const r = x.shape.length
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r)
  const dims = x.shape.slice(clamp(cx.int('start', 0)), clamp(cx.int('end', r)))
  return [Value.known(INT64, 'i32', [dims.length], dims)]
}

const range: Rule = (cx, ins) => {
  const [start] = cx.static(ins, 0, 'start')
  const [limit] = cx.static(ins, 1, 'limit')
  const [delta] = cx.static(ins, 2, 'delta')
  if (delta === 0) cx.fail('delta is 0')
  const n = Math.max(Math.ceil((limit - start) / delta), 0)
  const s = cx.input(ins, 0, 'start')
  const values = Array.from({ length: n }, (_, i) => start + i * delta)
  return [Value.known(s.type, s.dtype, [n], s.dtype === 'f32' ? values.map(Math.fround) : values)]
}

export const structureRules: Record<string, Rule> = {
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Concat: concat,
  Split: split,
  Slice: slice,
  Expand: expand,
  Tile: tile,
  Pad: pad,
  Constant: constant,
  ConstantOfShape: constantOfShape,
  Shape: shapeOf,
  Size: (cx, ins) => [Value.known(INT64, 'i32', [], [sizeOf(cx.input(ins, 0, 'data').shape)])],
  Range: range,
}

// ---------------------------------------------------------------- indexing

/** Indices into an axis of size n as an i32 tensor, negative ones counted from the end. */
function indexTensor(cx: NodeContext, v: Value, n: number, what: string): Tensor {
  if (!isIntegerType(v.type)) cx.fail(`the ${what} must be integers, got ${dataTypeName(v.type)}`)
  if (v.known !== undefined) {
    const out = Int32Array.from(v.known, (i) => (i < 0 ? i + n : i))
    const bad = out.findIndex((i) => !(i >= 0 && i < n))
    if (bad >= 0) cx.fail(`the ${what} hold ${v.known[bad]}, out of range for an axis of size ${n}`)
    return concrete(v.shape, 'i32', out)
  }
  const t = u(lax.convert(v.tensor, 'i32'))
  return ops.where(ops.less(t, 0), ops.add(t, n), t)
}

const gather: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'data')
  const a = cx.axis(cx.int('axis', 0), x.shape.length)
  const indices = indexTensor(cx, cx.input(ins, 1, 'indices'), x.shape[a], 'indices')
  return one(x.type, lax.gather(x.tensor, indices, a))
}

const gatherElements: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'data')
  const idx = cx.input(ins, 1, 'indices')
  const r = x.shape.length
  const a = cx.axis(cx.int('axis', 0), r)
  if (idx.shape.length !== r || idx.shape.some((d, i) => i !== a && d > x.shape[i]))
    cx.fail(`indices ${formatShape(idx.shape)} do not fit data ${formatShape(x.shape)} off axis ${a}`)
  // Off the axis, the indices address the leading block of the data.
  const block = lax.slice(
    x.tensor,
    x.shape.map(() => 0),
    x.shape.map((d, i) => (i === a ? d : idx.shape[i])),
  )
  return one(x.type, takeAlongAxis(u(block), u(indexTensor(cx, idx, x.shape[a], 'indices')), a))
}

/** ScatterND with reduction none or add: the first k axes merged into one, indexed by the linear position. */
const scatterND: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'data')
  const idx = cx.input(ins, 1, 'indices')
  const upd = cx.input(ins, 2, 'updates')
  const reduction = cx.string('reduction', 'none')
  if (reduction !== 'none' && reduction !== 'add') cx.fail(`reduction '${reduction}' is not supported (none, add)`)
  const k = idx.shape[idx.shape.length - 1]
  if (!(k >= 1 && k <= x.shape.length)) cx.fail(`indices ${formatShape(idx.shape)} index more axes than the data has`)
  const lead = x.shape.slice(0, k)
  const rest = x.shape.slice(k)
  const count = sizeOf(idx.shape.slice(0, -1))
  const rows = sizeOf(lead)
  let linear: Tensor = concrete([count], 'i32', new Int32Array(count))
  lead.forEach((n, j) => {
    const column = lax.reshape(
      lax.slice(
        idx.tensor,
        idx.shape.map((_, i) => (i === idx.shape.length - 1 ? j : 0)),
        idx.shape.map((d, i) => (i === idx.shape.length - 1 ? j + 1 : d)),
      ),
      idx.shape.slice(0, -1),
    )
    const c = idx.known === undefined ? Value.of(idx.type, column) : knownOf(idx.type, column)
    const at = indexTensor(cx, c, n, 'indices')
    linear = ops.add(u(linear), ops.mul(u(lax.reshape(at, [count])), sizeOf(lead.slice(j + 1))))
  })
  const flat = lax.reshape(x.tensor, [rows, ...rest])
  const updates = lax.reshape(upd.tensor, [count, ...rest])
  const added = lax.scatterAdd(ops.zerosLike(u(flat)), linear, updates, 0)
  if (reduction === 'add') return one(x.type, lax.reshape(ops.add(u(flat), u(added)), x.shape))
  const hit = lax.scatterAdd(
    concrete([rows], 'i32', new Int32Array(rows)),
    linear,
    concrete([count], 'i32', new Int32Array(count).fill(1)),
    0,
  )
  const mask = lax.reshape(ops.greater(u(hit), 0), [rows, ...rest.map(() => 1)])
  return one(x.type, lax.reshape(ops.where(u(mask), u(added), u(flat)), x.shape))
}

const topK: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'X')
  const r = x.shape.length
  const a = cx.axis(cx.int('axis', -1), r)
  const [k] = cx.static(ins, 1, 'K')
  if (!(Number.isInteger(k) && k >= 0 && k <= x.shape[a]))
    cx.fail(`K = ${k} is out of range for axis ${a} of ${formatShape(x.shape)}`)
  const order = lax.argsort(x.tensor, a, cx.int('largest', 1) !== 0)
  const indices = lax.slice(
    order,
    x.shape.map(() => 0),
    x.shape.map((d, i) => (i === a ? k : d)),
  )
  return [Value.of(x.type, takeAlongAxis(u(x.tensor), u(indices), a)), Value.of(INT64, indices)]
}

const oneHot: Rule = (cx, ins) => {
  const idx = cx.input(ins, 0, 'indices')
  const [depth] = cx.static(ins, 1, 'depth')
  const values = cx.input(ins, 2, 'values')
  const r = idx.shape.length + 1
  const a = cx.axis(cx.int('axis', -1), r)
  const i = u(lax.convert(idx.tensor, 'i32'))
  const wrapped = ops.where(ops.less(i, 0), ops.add(i, depth), i)
  const shape = Array.from({ length: r }, (_, j) => (j === a ? depth : 1))
  const positions = concrete(
    shape,
    'i32',
    Int32Array.from({ length: depth }, (_, j) => j),
  )
  const expanded = lax.reshape(
    wrapped,
    Array.from({ length: r }, (_, j) => (j === a ? 1 : idx.shape[j < a ? j : j - 1])),
  )
  const pick = (j: number) => u(lax.reshape(lax.slice(values.tensor, [j], [j + 1]), []))
  return one(values.type, ops.where(ops.equal(u(expanded), u(positions)), pick(1), pick(0)))
}

export const indexingRules: Record<string, Rule> = {
  Gather: gather,
  GatherElements: gatherElements,
  ScatterND: scatterND,
  TopK: topK,
  OneHot: oneHot,
}
