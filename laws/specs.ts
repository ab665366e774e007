/**
 * One row per primitive, as in JAX's `lax_autodiff_test.py` (GradTestSpec:
 * op, arity, input domain, order, tolerance). A row draws an instance of the
 * primitive (shapes and parameters such as axes, permutations or slice
 * bounds), says where its inputs live, how far to differentiate and in which
 * arguments it is linear. The table is exhaustive in its type: a primitive
 * without a row does not compile.
 *
 * Domains keep every point away from where the derivative does not exist:
 * log, sqrt and the base of pow on positives; a denominator, abs and sign
 * away from 0; max, reduceMax without ties; gather and scatterAdd indices in
 * range.
 *
 * scan's row draws a tanh RNN cell run over a short sequence, forwards or
 * reversed, so that every law runs through the loop's rules.
 */
import * as fc from 'fast-check'
import type { CompareOp } from '../src/core/index.ts'
import {
  checkpoint,
  customJvp,
  customVjp,
  type DType,
  jit,
  lax,
  type Primitive,
  scan,
  switchCase,
  type Tensor,
  whileLoop,
} from '../src/index.ts'
import { arb, domain, type Domain } from './arbitraries.ts'
import type { Tolerance } from './numeric.ts'

export interface InputSpec {
  readonly shape: readonly number[]
  readonly domain: Domain
  /** Default: f64 for real domains, i32 for indices, bool for bool. */
  readonly dtype?: DType
}

/** One drawn use of a primitive: the function, its label, and its inputs. */
export interface Instance {
  readonly label: string
  readonly fn: (...args: Tensor[]) => Tensor
  readonly inputs: readonly InputSpec[]
  /** A joint draw of the point where the inputs' domains are coupled (no ties across operands); default: independent draws. */
  readonly point?: fc.Arbitrary<Tensor[]>
}

/** A row of the primitive law table: the arity, the instances to draw and the laws that apply. */
export interface Spec {
  /** Number of inputs (for concat, the least number). */
  readonly arity: number
  readonly instance: fc.Arbitrary<Instance>
  /**
   * 0: not differentiable (piecewise constant, or stopGradient): only the
   * shape and vmap laws, and a zero derivative. 1: first-order laws. 2: also
   * the second-order laws.
   */
  readonly order: 0 | 1 | 2
  /**
   * Groups of inputs in which the function is jointly linear with the other
   * inputs fixed ('all': every float input); each group's transpose is
   * checked directly.
   */
  readonly linearIn: 'all' | readonly (readonly number[])[]
  /**
   * false: forward mode only (a whileLoop, whose trip count is known only at
   * run time): the laws that need reverse mode are left out, and reverse mode
   * must be refused with an error. Default true.
   */
  readonly reverse?: boolean
  /**
   * false: reverse mode only (a customVjp, whose rule is a VJP): the laws
   * that need forward mode are left out, and forward mode must be refused.
   * Default true.
   */
  readonly forward?: boolean
  /** Tolerance of the exact identities (default: exactTolerance('f64')). */
  readonly tol?: Tolerance
  /** Tolerance of finite differences (default: finiteDifferenceTolerance). */
  readonly fdTol?: Tolerance
}

export type SpecTable = { readonly [P in Primitive]: Spec }

const text = (shape: readonly number[]) => `[${shape.join(',')}]`
const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** Elementwise shapes: rank 0..3, axes of 1..3 (at most 27 elements, so that Hessians stay small). */
const elementwiseShape = arb.shape({ maxRank: 3 })
const structureShape = (minRank = 1) => arb.shape({ minRank, maxRank: 3 })

/** An operand, a gathered axis, how many leading axes pair with the indices' (at most the axis), the indices' shape. */
const indexing = () =>
  structureShape()
    .chain((shape) => fc.integer({ min: 0, max: shape.length - 1 }).map((axis) => ({ shape, axis })))
    .chain(({ shape, axis }) =>
      fc.record({ batchDims: fc.integer({ min: 0, max: axis }), rest: arb.shape({ maxRank: 2 }) }).map((r) => ({
        shape,
        axis,
        batchDims: r.batchDims,
        indexShape: [...shape.slice(0, r.batchDims), ...r.rest],
      })),
    )

function unaryRow(
  name: string,
  f: (x: Tensor) => Tensor,
  d: Domain,
  order: Spec['order'],
  linearIn: Spec['linearIn'] = [],
): Spec {
  return {
    arity: 1,
    order,
    linearIn,
    instance: elementwiseShape.map((shape) => ({
      label: `${name} of f64${text(shape)}`,
      fn: f,
      inputs: [{ shape, domain: d }],
    })),
  }
}

function binaryRow(
  name: string,
  f: (a: Tensor, b: Tensor) => Tensor,
  domains: readonly [Domain, Domain],
  order: Spec['order'],
  linearIn: Spec['linearIn'],
): Spec {
  return {
    arity: 2,
    order,
    linearIn,
    instance: elementwiseShape.map((shape) => ({
      label: `${name} of f64${text(shape)}`,
      fn: f,
      inputs: domains.map((d) => ({ shape, domain: d })),
    })),
  }
}

/** A non-empty set of axes of a rank-r tensor, in any order (the rules must not assume sorted axes). */
const someAxes = (rank: number) => fc.shuffledSubarray(range(rank), { minLength: 1, maxLength: rank })

/** x·y + sin(x) with its VJP: residuals (x, y), cotangents (ct·(y + cos x), ct·x). */
function customVjpRow(name: string): Spec {
  const f = customVjp(
    (x: Tensor, y: Tensor) => lax.add(lax.mul(x, y), lax.sin(x)),
    (x: Tensor, y: Tensor) => [lax.add(lax.mul(x, y), lax.sin(x)), [x, y]] as const,
    ([x, y]: readonly [Tensor, Tensor], ct: Tensor) =>
      [lax.mul(ct, lax.add(y, lax.cos(x))), lax.mul(ct, x)] as [Tensor, Tensor],
  )
  return {
    arity: 2,
    order: 1,
    forward: false,
    linearIn: [],
    instance: elementwiseShape.map((shape) => ({
      label: `${name}: customVjp of x·y + sin(x) on f64${text(shape)}`,
      fn: f,
      inputs: [
        { shape, domain: domain.real() },
        { shape, domain: domain.real() },
      ],
    })),
  }
}

const compareOps: readonly CompareOp[] = ['lt', 'le', 'gt', 'ge', 'eq', 'ne']

/** The law table of every primitive: its input domains, order and the laws checked. */
export const specs: SpecTable = {
  neg: unaryRow('neg', lax.neg, domain.real(), 1, [[0]]),
  exp: unaryRow('exp', lax.exp, domain.real(2), 2),
  log: unaryRow('log', lax.log, domain.positive(), 2),
  log1p: unaryRow('log1p', lax.log1p, domain.positive(), 2),
  expm1: unaryRow('expm1', lax.expm1, domain.real(2), 2),
  tanh: unaryRow('tanh', lax.tanh, domain.real(), 2),
  logistic: unaryRow('logistic', lax.logistic, domain.real(4), 2),
  sin: unaryRow('sin', lax.sin, domain.real(), 2),
  cos: unaryRow('cos', lax.cos, domain.real(), 2),
  sqrt: unaryRow('sqrt', lax.sqrt, domain.positive(), 2),
  abs: unaryRow('abs', lax.abs, domain.nonzero(), 2),
  sign: unaryRow('sign', lax.sign, domain.nonzero(), 0),
  erf: unaryRow('erf', lax.erf, domain.real(2), 2),
  stopGradient: unaryRow('stopGradient', lax.stopGradient, domain.real(), 0),
  convert: {
    arity: 1,
    order: 0,
    linearIn: [],
    instance: fc.tuple(elementwiseShape, fc.constantFrom<DType>('i32', 'bool')).map(([shape, dtype]) => ({
      label: `convert f64${text(shape)} to ${dtype}`,
      fn: (x: Tensor) => lax.convert(x, dtype),
      inputs: [{ shape, domain: domain.real() }],
    })),
  },

  add: binaryRow('add', lax.add, [domain.real(), domain.real()], 1, [[0, 1]]),
  sub: binaryRow('sub', lax.sub, [domain.real(), domain.real()], 1, [[0, 1]]),
  mul: binaryRow('mul', lax.mul, [domain.real(), domain.real()], 2, [[0], [1]]),
  div: binaryRow('div', lax.div, [domain.real(), domain.nonzero(0.5)], 2, [[0]]),
  pow: binaryRow('pow', lax.pow, [domain.positive(0.5, 2), domain.real(2)], 2, []),
  max: {
    arity: 2,
    order: 2,
    linearIn: [],
    instance: elementwiseShape.map((shape) => ({
      label: `max of f64${text(shape)} without ties`,
      fn: lax.max,
      inputs: [
        { shape, domain: domain.distinct() },
        { shape, domain: domain.distinct() },
      ],
      point: arb.distinctTensors([shape, shape]),
    })),
  },
  compare: {
    arity: 2,
    order: 0,
    linearIn: [],
    // Values on a grid of three, so that ties (where eq, le and ge matter) are common.
    instance: fc.tuple(elementwiseShape, fc.constantFrom(...compareOps)).map(([shape, op]) => ({
      label: `compare ${op} of f64${text(shape)}`,
      fn: (a: Tensor, b: Tensor) => lax.compare(a, b, op),
      inputs: [
        { shape, domain: domain.index(3), dtype: 'f64' as const },
        { shape, domain: domain.index(3), dtype: 'f64' as const },
      ],
    })),
  },
  select: {
    arity: 3,
    order: 1,
    linearIn: [[1, 2]],
    instance: elementwiseShape.map((shape) => ({
      label: `select of f64${text(shape)}`,
      fn: lax.select,
      inputs: [
        { shape, domain: domain.bool() },
        { shape, domain: domain.real() },
        { shape, domain: domain.real() },
      ],
    })),
  },

  sum: {
    arity: 1,
    order: 1,
    linearIn: [[0]],
    instance: structureShape()
      .chain((shape) => someAxes(shape.length).map((axes) => ({ shape, axes })))
      .map(({ shape, axes }) => ({
        label: `sum axes=${text(axes)} of f64${text(shape)}`,
        fn: (x: Tensor) => lax.sum(x, axes),
        inputs: [{ shape, domain: domain.real() }],
      })),
  },
  reduceMax: {
    arity: 1,
    order: 2,
    linearIn: [],
    instance: arb
      .shape({ minRank: 1, maxRank: 2 })
      .chain((shape) => someAxes(shape.length).map((axes) => ({ shape, axes })))
      .map(({ shape, axes }) => ({
        label: `reduceMax axes=${text(axes)} of f64${text(shape)} without ties`,
        fn: (x: Tensor) => lax.reduceMax(x, axes),
        inputs: [{ shape, domain: domain.distinct() }],
      })),
  },

  broadcast: {
    arity: 1,
    order: 1,
    linearIn: [[0]],
    // The target, then the input: the target's trailing axes with some set to 1, after dropping `lead` axes.
    instance: fc
      .record({
        target: structureShape(),
        lead: fc.integer({ min: 0, max: 3 }),
        ones: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
      })
      .map(({ target, lead, ones }) => {
        const from = (k: number) => target.slice(k).map((d, i) => (ones[i] ? 1 : d))
        const k = Math.min(lead, target.length)
        const input = from(k).some((d, i) => d !== target[k + i]) || k > 0 ? from(k) : from(1)
        return {
          label: `broadcast f64${text(input)} to ${text(target)}`,
          fn: (x: Tensor) => lax.broadcast(x, target),
          inputs: [{ shape: input, domain: domain.real() }],
        }
      }),
  },
  reshape: {
    arity: 1,
    order: 1,
    linearIn: [[0]],
    // Both shapes group the same factors (in different orders) into axes.
    instance: fc
      .record({
        factors: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }),
        mergeIn: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        mergeOut: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        order: fc.shuffledSubarray(range(4), { minLength: 4, maxLength: 4 }),
      })
      .map(({ factors, mergeIn, mergeOut, order }) => {
        /** Consecutive factors multiplied together where `merge` says so. */
        const group = (fs: number[], merge: boolean[]) => {
          const out: number[] = []
          fs.forEach((f, i) => {
            if (i > 0 && merge[i]) out[out.length - 1] *= f
            else out.push(f)
          })
          return out
        }
        const input = group(factors, mergeIn)
        const shuffled = order.filter((i) => i < factors.length).map((i) => factors[i])
        const grouped = group(shuffled, mergeOut)
        const target = text(grouped) === text(input) ? [...grouped, 1] : grouped
        return {
          label: `reshape f64${text(input)} to ${text(target)}`,
          fn: (x: Tensor) => lax.reshape(x, target),
          inputs: [{ shape: input, domain: domain.real() }],
        }
      }),
  },
  transpose: {
    arity: 1,
    order: 1,
    linearIn: [[0]],
    instance: structureShape(2)
      .chain((shape) =>
        fc
          .shuffledSubarray(range(shape.length), { minLength: shape.length, maxLength: shape.length })
          .map((perm) => ({ shape, perm })),
      )
      .map(({ shape, perm }) => {
        const p = perm.every((q, i) => q === i) ? [...perm].reverse() : perm
        return {
          label: `transpose perm=${text(p)} of f64${text(shape)}`,
          fn: (x: Tensor) => lax.transpose(x, p),
          inputs: [{ shape, domain: domain.real() }],
        }
      }),
  },
  slice: {
    arity: 1,
    order: 1,
    linearIn: [[0]],
    instance: structureShape()
      .chain((shape) =>
        fc
          .tuple(
            ...shape.map((d) =>
              fc
                .integer({ min: 0, max: d - 1 })
                .chain((s) => fc.integer({ min: s + 1, max: d }).map((l) => [s, l] as const)),
            ),
          )
          .map((bounds) => ({ shape, starts: bounds.map((b) => b[0]), limits: bounds.map((b) => b[1]) })),
      )
      .map(({ shape, starts, limits }) => ({
        label: `slice ${text(starts)}..${text(limits)} of f64${text(shape)}`,
        fn: (x: Tensor) => lax.slice(x, starts, limits),
        inputs: [{ shape, domain: domain.real() }],
      })),
  },
  pad: {
    arity: 1,
    order: 1,
    linearIn: [[0]],
    instance: structureShape()
      .chain((shape) => {
        const widths = fc.array(fc.integer({ min: 0, max: 2 }), { minLength: shape.length, maxLength: shape.length })
        return fc.tuple(widths, widths).map(([lo, hi]) => ({
          shape,
          lo: lo.every((w) => w === 0) && hi.every((w) => w === 0) ? [1, ...lo.slice(1)] : lo,
          hi,
        }))
      })
      .map(({ shape, lo, hi }) => ({
        label: `pad lo=${text(lo)} hi=${text(hi)} of f64${text(shape)}`,
        fn: (x: Tensor) => lax.pad(x, lo, hi),
        inputs: [{ shape, domain: domain.real() }],
      })),
  },
  concat: {
    arity: 2,
    order: 1,
    linearIn: 'all',
    instance: structureShape()
      .chain((shape) =>
        fc
          .record({
            axis: fc.integer({ min: 0, max: shape.length - 1 }),
            sizes: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 3 }),
          })
          .map(({ axis, sizes }) => ({ shapes: sizes.map((n) => shape.map((d, i) => (i === axis ? n : d))), axis })),
      )
      .map(({ shapes, axis }) => ({
        label: `concat axis=${axis} of ${shapes.map((s) => `f64${text(s)}`).join(', ')}`,
        fn: (...xs: Tensor[]) => lax.concat(xs, axis),
        inputs: shapes.map((shape) => ({ shape, domain: domain.real() })),
      })),
  },

  matmul: {
    arity: 2,
    order: 2,
    linearIn: [[0], [1]],
    instance: fc
      .record({
        batch: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 1 }),
        m: fc.integer({ min: 1, max: 3 }),
        k: fc.integer({ min: 1, max: 3 }),
        n: fc.integer({ min: 1, max: 3 }),
      })
      .map(({ batch, m, k, n }) => ({
        label: `matmul f64${text([...batch, m, k])} × f64${text([...batch, k, n])}`,
        fn: lax.matmul,
        inputs: [
          { shape: [...batch, m, k], domain: domain.real(2) },
          { shape: [...batch, k, n], domain: domain.real(2) },
        ],
      })),
  },
  gather: {
    arity: 2,
    order: 1,
    linearIn: [[0]],
    instance: indexing().map(({ shape, axis, batchDims, indexShape }) => ({
      label: `gather axis=${axis} batchDims=${batchDims} of f64${text(shape)} at i32${text(indexShape)}`,
      fn: (x: Tensor, indices: Tensor) => lax.gather(x, indices, axis, batchDims),
      inputs: [
        { shape, domain: domain.real() },
        { shape: indexShape, domain: domain.index(shape[axis]) },
      ],
    })),
  },
  scatterAdd: {
    arity: 3,
    order: 1,
    linearIn: [[0, 2]],
    instance: indexing().map(({ shape, axis, batchDims, indexShape }) => ({
      label: `scatterAdd axis=${axis} batchDims=${batchDims} into f64${text(shape)} at i32${text(indexShape)}`,
      fn: (x: Tensor, indices: Tensor, u: Tensor) => lax.scatterAdd(x, indices, u, axis, batchDims),
      inputs: [
        { shape, domain: domain.real() },
        { shape: indexShape, domain: domain.index(shape[axis]) },
        {
          shape: [...shape.slice(0, axis), ...indexShape.slice(batchDims), ...shape.slice(axis + 1)],
          domain: domain.real(),
        },
      ],
    })),
  },
  rev: {
    arity: 1,
    order: 1,
    linearIn: [[0]],
    instance: structureShape()
      .chain((shape) => fc.subarray(range(shape.length)).map((axes) => ({ shape, axes })))
      .map(({ shape, axes }) => ({
        label: `rev axes=${text(axes)} of f64${text(shape)}`,
        fn: (x: Tensor) => lax.rev(x, axes),
        inputs: [{ shape, domain: domain.real() }],
      })),
  },
  cumsum: {
    arity: 1,
    order: 1,
    linearIn: [[0]],
    instance: structureShape()
      .chain((shape) =>
        fc
          .record({ axis: fc.integer({ min: 0, max: shape.length - 1 }), reverse: fc.boolean() })
          .map((r) => ({ shape, ...r })),
      )
      .map(({ shape, axis, reverse }) => ({
        label: `cumsum axis=${axis}${reverse ? ' (reverse)' : ''} of f64${text(shape)}`,
        fn: (x: Tensor) => lax.cumsum(x, axis, reverse),
        inputs: [{ shape, domain: domain.real() }],
      })),
  },
  argsort: {
    arity: 1,
    order: 0,
    linearIn: [],
    // Values on a grid of three, so that ties (which keep their order) are common.
    instance: structureShape()
      .chain((shape) =>
        fc
          .record({ axis: fc.integer({ min: 0, max: shape.length - 1 }), descending: fc.boolean() })
          .map((r) => ({ shape, ...r })),
      )
      .map(({ shape, axis, descending }) => ({
        label: `argsort axis=${axis}${descending ? ' (descending)' : ''} of f64${text(shape)}`,
        fn: (x: Tensor) => lax.argsort(x, axis, descending),
        inputs: [{ shape, domain: domain.index(3), dtype: 'f64' as const }],
      })),
  },
  randomBits: {
    arity: 2,
    order: 0,
    linearIn: [],
    // One key or a batch of keys, each drawing a block of bits or of uniform floats.
    instance: fc
      .record({
        keys: arb.shape({ maxRank: 1 }),
        shape: arb.shape({ maxRank: 2 }),
        stream: fc.nat({ max: 3 }),
        dtype: fc.constantFrom('i32' as const, 'f32' as const),
      })
      .map(({ keys, shape, stream, dtype }) => ({
        label: `randomBits ${dtype}${text(shape)} (stream ${stream}) of keys i32${text([...keys, 2])}`,
        fn: (key: Tensor, offset: Tensor) => lax.randomBits(key, offset, shape, stream, dtype),
        inputs: [
          { shape: [...keys, 2], domain: domain.index(2 ** 31 - 1) },
          { shape: keys, domain: domain.index(1000) },
        ],
      })),
  },
  cond: {
    arity: 3,
    order: 2,
    linearIn: [],
    // Two branches chosen by an index drawn from {0, 1, 2}: 2 is clamped to the last branch.
    instance: elementwiseShape.map((shape) => ({
      label: `switchCase of [sin(x)·y, x² + y] on f64${text(shape)}`,
      fn: (i: Tensor, x: Tensor, y: Tensor) =>
        switchCase(
          i as Tensor<[], 'i32'>,
          [(a: Tensor, b: Tensor) => lax.mul(lax.sin(a), b), (a: Tensor, b: Tensor) => lax.add(lax.mul(a, a), b)],
          x,
          y,
        ),
      inputs: [
        { shape: [], domain: domain.index(3) },
        { shape, domain: domain.real() },
        { shape, domain: domain.real() },
      ],
    })),
  },
  customJvp: {
    arity: 2,
    order: 2,
    linearIn: [],
    instance: elementwiseShape.map((shape) => ({
      label: `customJvp of x·sin(y) with its own rule, on f64${text(shape)}`,
      fn: customJvp(
        (x: Tensor, y: Tensor) => lax.mul(x, lax.sin(y)),
        ([x, y], [tx, ty]) =>
          [lax.mul(x, lax.sin(y)), lax.add(lax.mul(tx, lax.sin(y)), lax.mul(lax.mul(x, lax.cos(y)), ty))] as const,
      ),
      inputs: [
        { shape, domain: domain.real() },
        { shape, domain: domain.real() },
      ],
    })),
  },
  customVjp: customVjpRow('customVjp'),
  // The tangent of a customVjp appears only under reverse mode: its laws are the customVjp's.
  customVjpLin: customVjpRow('customVjpLin'),
  jitCall: {
    arity: 2,
    order: 2,
    linearIn: [],
    instance: elementwiseShape.map((shape) => ({
      label: `a jitted x·exp(−w²) called inside the transforms, on f64${text(shape)}`,
      fn: jit((x: Tensor, w: Tensor) => lax.mul(x, lax.exp(lax.neg(lax.mul(w, w))))).fun,
      inputs: [
        { shape, domain: domain.real() },
        { shape, domain: domain.real() },
      ],
    })),
  },
  checkpoint: {
    arity: 2,
    order: 2,
    linearIn: [],
    instance: elementwiseShape.map((shape) => ({
      label: `checkpoint of tanh(x·w)·x on f64${text(shape)}`,
      fn: checkpoint((x: Tensor, w: Tensor) => lax.mul(lax.tanh(lax.mul(x, w)), x)),
      inputs: [
        { shape, domain: domain.real() },
        { shape, domain: domain.real() },
      ],
    })),
  },
  whileLoop: {
    arity: 3,
    order: 1,
    reverse: false,
    linearIn: [],
    // k iterations (k drawn from 0…3, so that under vmap members stop at different steps) of x ← tanh(x·w) + x/2.
    instance: elementwiseShape.map((shape) => ({
      label: `whileLoop of x ← tanh(x·w) + x/2, k times, on f64${text(shape)}`,
      fn: (k: Tensor, x: Tensor, w: Tensor) => {
        const [, out] = whileLoop(
          ([i]: [Tensor, Tensor]) => lax.compare(i, k, 'lt') as Tensor<[], 'bool'>,
          ([i, v]: [Tensor, Tensor]) =>
            [lax.add(i, lax.fullLike(i, 1)), lax.add(lax.tanh(lax.mul(v, w)), lax.mul(v, lax.fullLike(v, 0.5)))] as [
              Tensor,
              Tensor,
            ],
          [lax.fullLike(k, 0), x] as [Tensor, Tensor],
          // A bound above every k drawn: the values are those of the unbounded loop, and WebGPU compiles it.
          { maxIterations: 8 },
        )
        return out
      },
      inputs: [
        { shape: [], domain: domain.index(4) },
        { shape, domain: domain.real() },
        { shape, domain: domain.real() },
      ],
    })),
  },
  scan: {
    arity: 3,
    order: 2,
    linearIn: [],
    // h′ = tanh(h W + x), y = h′ ⊙ x, over T steps; the output is the final carry on top of the ys.
    instance: fc
      .record({ h: fc.integer({ min: 1, max: 3 }), t: fc.integer({ min: 1, max: 3 }), reverse: fc.boolean() })
      .map(({ h, t, reverse }) => ({
        label: `scan${reverse ? ' (reverse)' : ''} of h′ = tanh(h W + x), y = h′ ⊙ x: W f64[${h},${h}], h₀ f64[1,${h}], xs f64[${t},1,${h}]`,
        fn: (w: Tensor, h0: Tensor, xs: Tensor) => {
          const [last, ys] = scan(
            (c: Tensor, x: Tensor) => {
              const next = lax.tanh(lax.add(lax.matmul(c, w), x))
              return [next, lax.mul(next, x)] as const
            },
            h0,
            xs,
            { reverse },
          )
          return lax.concat([lax.reshape(last, [1, 1, h]), ys], 0)
        },
        inputs: [
          { shape: [h, h], domain: domain.real(1) },
          { shape: [1, h], domain: domain.real(1) },
          { shape: [t, 1, h], domain: domain.real(1.5) },
        ],
      })),
  },
}
