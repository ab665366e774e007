/// <reference path="../types/globals.d.ts" preserve="true" />
/**
 * The fast-check wiring of the laws: properties that draw a point and
 * directions and hand them to the pure predicates of `predicates.ts`.
 *
 * - `primitiveLaws(name)`: one check per law for a row of the spec table;
 *   `checkPrimitive(name)` runs them all and returns the reports;
 *   `laws.primitive(name)` throws unless all hold.
 * - `layerLaws(layer, arbitraries)`, `checkLayer`, `laws.layer`: the same for a
 *   user's function `(params, x) => y` (or a `{ apply }` layer).
 *
 * Runs per law: `ADJOINT_LAW_RUNS` (default 25); raise it for a deep run.
 * A failure reports the law, the counterexample, the predicate's detail and
 * the fast-check seed and path, which replay it: `check({ seed, path })`.
 */
import * as fc from 'fast-check'
import { ops, random, tree, type Primitive, type Tensor } from '../src/index.ts'
import { arb, domain, type Domain, type DomainName, type TensorOf } from './arbitraries.ts'
import { isFloatLeaf, previewTree, randomLike, shapeText, stackTrees, type Tolerance } from './numeric.ts'
import * as predicates from './predicates.ts'
import {
  adjoint,
  declaredShapes,
  exactTolerance,
  finiteDifferenceTolerance,
  finiteDifferences,
  jacobians,
  forwardRefused,
  linearity,
  reverseDifferences,
  reverseRefused,
  scalarize,
  secondOrder,
  transposeIdentity,
  tying,
  vmapCommutes,
  zeroDerivative,
  type Fn,
  type LawName,
  type LawResult,
} from './predicates.ts'
import { specs, type Instance, type Spec } from './specs.ts'

export { arb, domain, predicates, specs }
export type { Domain, DomainName, Fn, Instance, LawName, LawResult, Spec, TensorOf, Tolerance }
export * from './predicates.ts'

/** Runs per law: the environment variable ADJOINT_LAW_RUNS, or 25. */
export function lawRuns(): number {
  const raw = typeof process === 'undefined' ? undefined : process.env.ADJOINT_LAW_RUNS
  const n = Number(raw)
  return raw !== undefined && Number.isInteger(n) && n > 0 ? n : 25
}

/**
 * The outcome of one law on one subject: whether it held, the runs, and what failed with the seed
 * and path to replay it.
 */
export interface LawReport {
  readonly ok: boolean
  readonly subject: string
  readonly law: LawName
  readonly numRuns: number
  /** Replay a failure with `check({ seed, path })`. */
  readonly seed: number
  readonly path: string | null
  /** Empty when the law held; otherwise the counterexample, the predicate's detail and how to replay it. */
  readonly message: string
}

/** One law of one subject as a fast-check property. */
export interface LawCheck {
  readonly subject: string
  readonly law: LawName
  /** The fast-check property, for use with `fc.assert` or `@fast-check/vitest`. */
  readonly property: fc.IPropertyWithHooks<[unknown]>
  /** Runs the property (ADJOINT_LAW_RUNS runs unless `numRuns` is given) and reports. */
  check(params?: fc.Parameters<[unknown]>): LawReport
  /** Runs the property and throws an Error carrying the report if the law fails. */
  assert(params?: fc.Parameters<[unknown]>): void
}

class LawFailure extends Error {}

function lawCheck<T>(subject: string, law: LawName, cases: fc.Arbitrary<T>, predicate: (c: T) => LawResult): LawCheck {
  const property = fc.property(cases as fc.Arbitrary<unknown>, (c) => {
    const r = predicate(c as T)
    if (!r.ok) throw new LawFailure(r.detail)
  })
  const check = (params: fc.Parameters<[unknown]> = {}): LawReport => {
    const run = fc.check(property, { numRuns: lawRuns(), ...params })
    if (!run.failed) return { ok: true, subject, law, numRuns: run.numRuns, seed: run.seed, path: null, message: '' }
    const error = run.errorInstance instanceof Error ? run.errorInstance.message : String(run.errorInstance)
    const message = [
      `${subject}: ${run.interrupted ? 'interrupted' : `the ${law} law failed after ${run.numRuns} run(s) and ${run.numShrinks} shrink(s)`}`,
      run.counterexample === null ? '' : `  counterexample: ${fc.stringify(run.counterexample[0])}`,
      `  ${error}`,
      `  replay with { seed: ${run.seed}, path: "${run.counterexamplePath ?? ''}" }`,
    ]
      .filter((line) => line !== '')
      .join('\n')
    return { ok: false, subject, law, numRuns: run.numRuns, seed: run.seed, path: run.counterexamplePath, message }
  }
  return {
    subject,
    law,
    property,
    check,
    assert(params) {
      const r = check(params)
      if (!r.ok) throw new Error(r.message)
    },
  }
}

const summarize = (reports: readonly LawReport[]): string => {
  const failed = reports.filter((r) => !r.ok)
  return `${failed.length} of ${reports.length} laws failed:\n\n${failed.map((r) => r.message).join('\n\n')}`
}

const throwIfFailed = (reports: readonly LawReport[]): LawReport[] => {
  if (reports.some((r) => !r.ok)) throw new Error(summarize(reports))
  return [...reports]
}

// ---------------------------------------------------------------- directions

/** Tangents and cotangents drawn deterministically from one seed, and the coefficients of the linearity law. */
interface Directions {
  readonly seed: number
  readonly a: number
  readonly b: number
}

const directionsArb: fc.Arbitrary<Directions> = fc.record({
  seed: arb.seed(),
  a: arb.coefficient(),
  b: arb.coefficient(),
})

interface DrawnDirections {
  readonly v: Tensor[]
  readonly w: Tensor[]
  readonly u: unknown
  readonly u2: unknown
}

function draw(g: Fn, xs: readonly Tensor[], seed: number): DrawnDirections {
  const out = g(...xs)
  return {
    v: randomLike(xs, seed),
    w: randomLike(xs, seed + 1),
    u: randomLike(out, seed + 2),
    u2: randomLike(out, seed + 3),
  }
}

/**
 * A function that uses its first argument several times: g with every later
 * argument of the same kind (`kinds`: aval and domain) replaced by the first,
 * or, where there is none, g applied twice and the outputs added.
 */
function tiedForm(g: Fn, xs: readonly Tensor[], kinds: readonly string[]): { h: Fn; args: Tensor[] } {
  const same = xs.map((_, k) => k > 0 && kinds[k] === kinds[0])
  const others = xs.filter((_, k) => k > 0 && !same[k])
  const rebuild = (x: Tensor, rest: Tensor[]) => {
    let r = 0
    return xs.map((_, k) => (k === 0 || same[k] ? x : rest[r++]))
  }
  if (same.some(Boolean))
    return { h: (x: Tensor, ...rest: Tensor[]) => g(...rebuild(x, rest)), args: [xs[0], ...others] }
  // One use per call: use it twice, in two calls whose outputs are added.
  const twice = (x: Tensor, ...rest: Tensor[]) => {
    const [ys, def] = tree.flatten(g(...rebuild(x, rest)))
    const [zs] = tree.flatten(g(...rebuild(x, rest)))
    return tree.unflatten(
      def,
      ys.map((y, k) => ops.add(y, zs[k])),
    )
  }
  return { h: twice, args: [xs[0], ...others] }
}

// ---------------------------------------------------------------- primitives

/** A drawn case of a spec row: the instance, its point, and the directions. */
class PrimitiveCase {
  constructor(
    readonly instance: Instance,
    readonly point: readonly Tensor[],
    readonly directions: Directions,
  ) {}
  /** The function of the float inputs alone (indices and predicates held fixed), at the float inputs. */
  differentiable(): { g: Fn; xs: Tensor[] } {
    const floats = this.point.map(isFloatLeaf)
    const xs = this.point.filter((_, k) => floats[k])
    const g = (...ys: Tensor[]) => {
      let j = 0
      return this.instance.fn(...this.point.map((p, k) => (floats[k] ? ys[j++] : p)))
    }
    return { g, xs }
  }
  [fc.toStringMethod](): string {
    return `${this.instance.label} at (${this.point.map((p) => previewTree(p, 12)).join('; ')}), direction seed ${this.directions.seed}`
  }
}

class VmapCase {
  constructor(
    readonly instance: Instance,
    readonly batched: readonly Tensor[],
    readonly inAxes: readonly (number | null)[],
    readonly outAxis: number,
  ) {}
  [fc.toStringMethod](): string {
    return `${this.instance.label}, in axes [${this.inAxes.join(', ')}], out axis ${this.outAxis}, batched (${this.batched.map((p) => previewTree(p, 12)).join('; ')})`
  }
}

const pointArb = (inst: Instance): fc.Arbitrary<Tensor[]> =>
  inst.point ?? fc.tuple(...inst.inputs.map((i) => arb.tensor(i.shape, { domain: i.domain, dtype: i.dtype })))

const primitiveCases = (spec: Spec): fc.Arbitrary<PrimitiveCase> =>
  spec.instance.chain((inst) =>
    fc.tuple(pointArb(inst), directionsArb).map(([point, dirs]) => new PrimitiveCase(inst, point, dirs)),
  )

/** A batch of 1..3 along a drawn axis of each input (or none), at least one input mapped, the output batch axis first or last. */
const vmapCases = (spec: Spec): fc.Arbitrary<VmapCase> =>
  spec.instance.chain((inst) =>
    fc
      .record({
        size: fc.integer({ min: 1, max: 3 }),
        axes: fc.tuple(...inst.inputs.map((i) => fc.integer({ min: -1, max: i.shape.length }))),
        outLast: fc.boolean(),
      })
      .chain(({ size, axes, outLast }) => {
        const inAxes = axes.map((a, k) => (a >= 0 ? a : k === 0 && axes.every((b) => b < 0) ? 0 : null))
        const shapes = inst.inputs.map((i, k) => {
          const a = inAxes[k]
          return a === null ? i.shape : [...i.shape.slice(0, a), size, ...i.shape.slice(a)]
        })
        return fc
          .tuple(...inst.inputs.map((i, k) => arb.tensor(shapes[k], { domain: i.domain, dtype: i.dtype })))
          .map((batched) => new VmapCase(inst, batched, inAxes, outLast ? -1 : 0))
      }),
  )

/** The groups of inputs in which the drawn instance is jointly linear ('all': its float inputs). */
const linearGroups = (spec: Spec, c: PrimitiveCase): number[][] =>
  spec.linearIn === 'all' ? [c.point.flatMap((p, k) => (isFloatLeaf(p) ? [k] : []))] : spec.linearIn.map((g) => [...g])

/** ⟨fᵀ(u), v⟩ = ⟨u, f(v)⟩ for each group of arguments in which the instance is linear, the others fixed. */
function transposeLaw(spec: Spec, c: PrimitiveCase): LawResult {
  const { g, xs } = c.differentiable()
  const u = randomLike(g(...xs), c.directions.seed + 2)
  for (const group of linearGroups(spec, c)) {
    const restricted = (...ys: Tensor[]) =>
      c.instance.fn(...c.point.map((p, k) => (group.includes(k) ? ys[group.indexOf(k)] : p)))
    const r = transposeIdentity(
      restricted,
      group.map((k) => c.point[k]),
      u,
      spec.tol,
    )
    if (!r.ok) return { ...r, detail: `${r.detail} (linear in inputs [${group.join(', ')}])` }
  }
  return { ok: true, law: 'transpose', detail: 'transpose: holds for every linear group' }
}

/** The checks of one row of the spec table: shape and vmap always; then by order, zero derivative or the derivative laws. */
export function specLaws(name: string, spec: Spec): LawCheck[] {
  const cases = primitiveCases(spec)
  const tol = spec.tol
  const fdTol = spec.fdTol ?? finiteDifferenceTolerance
  const on = (law: LawName, body: (c: PrimitiveCase, g: Fn, xs: Tensor[], d: DrawnDirections) => LawResult) =>
    lawCheck(name, law, cases, (c) => {
      const { g, xs } = c.differentiable()
      return body(c, g, xs, draw(g, xs, c.directions.seed))
    })
  const reverse = spec.reverse !== false
  const checks: LawCheck[] = [
    on('shape', (_c, g, xs, d) => declaredShapes(g, xs, d.v, d.u, reverse, spec.forward !== false)),
    lawCheck(name, 'vmap', vmapCases(spec), (c) => vmapCommutes(c.instance.fn, c.batched, c.inAxes, c.outAxis, tol)),
  ]
  if (spec.order === 0) {
    checks.push(on('zeroDerivative', (_c, g, xs, d) => zeroDerivative(g, xs, d.v, d.u)))
    return checks
  }
  if (spec.forward === false) {
    // Reverse mode only: vjp against finite differences, and forward mode refused.
    checks.push(
      on('reverseDifferences', (_c, g, xs, d) => reverseDifferences(g, xs, d.v, d.u, { tol: fdTol })),
      on('forwardRefused', (_c, g, xs, d) => forwardRefused(g, xs, d.v)),
    )
    return checks
  }
  if (spec.reverse === false) {
    // Forward mode only: the laws of jvp, and reverse mode refused.
    checks.push(
      on('finiteDifferences', (_c, g, xs, d) => finiteDifferences(g, xs, d.v, { tol: fdTol })),
      on('linearity', (c, g, xs, d) => linearity(g, xs, { ...d, a: c.directions.a, b: c.directions.b }, tol, false)),
      on('reverseRefused', (_c, g, xs, d) => reverseRefused(g, xs, d.u)),
    )
    return checks
  }
  checks.push(
    on('adjoint', (_c, g, xs, d) => adjoint(g, xs, d.v, d.u, tol)),
    on('finiteDifferences', (_c, g, xs, d) => finiteDifferences(g, xs, d.v, { tol: fdTol })),
    on('jacobians', (_c, g, xs) => jacobians(g, xs, tol)),
    on('linearity', (c, g, xs, d) => linearity(g, xs, { ...d, a: c.directions.a, b: c.directions.b }, tol)),
    on('tying', (c, g, xs, d) => {
      const kinds = c.instance.inputs
        .filter((_, k) => isFloatLeaf(c.point[k]))
        .map((i, k) => `${shapeText(xs[k])} ${JSON.stringify(i.domain)}`)
      const { h, args } = tiedForm(g, xs, kinds)
      return tying(h, args, 0, d.u, tol)
    }),
  )
  if (spec.linearIn === 'all' || spec.linearIn.length > 0)
    checks.push(lawCheck(name, 'transpose', cases, (c) => transposeLaw(spec, c)))
  if (spec.order === 2)
    checks.push(
      on('secondOrder', (_c, g, xs, d) => secondOrder(scalarize(g, d.u), xs, d.v, { tol: fdTol, exact: tol })),
    )
  return checks
}

/** The checks of a primitive's row of the spec table. */
export const primitiveLaws = (name: Primitive): LawCheck[] => specLaws(name, specs[name])

/** Runs every law of a primitive's row; never throws. */
export const checkPrimitive = (name: Primitive, params?: fc.Parameters<[unknown]>): LawReport[] =>
  primitiveLaws(name).map((c) => c.check(params))

// ---------------------------------------------------------------- layers

/**
 * A user's layer: a function `(params, x) => y`, or a value with `apply` (and `init`, used when no params arbitrary is
 * given), such as an `nn` layer. P and X are checked against the arbitraries: a typed layer needs arbitraries of its
 * shapes (`arb.f32([2, 3])` is a `Tensor<[2, 3], 'f32'>`, which fits an input `['B', 3]`).
 */
export type Layer<P = any, X = any, Y = any> = ((params: P, x: X) => Y) | LayerObject<P, X, Y>

/** A layer as a value with `apply`. */
export interface LayerObject<P = any, X = any, Y = any> {
  readonly apply: (params: P, x: X) => Y
  readonly init?: (key: random.Key) => P
  /** Never present: a function is taken as `(params, x) => y`, not as an object whose `apply` is Function.prototype.apply. */
  readonly call?: never
}

/** The arbitraries of a layer's laws: its parameters and an input. */
export interface LayerArbitraries<P, X> {
  /** Parameters; by default the layer's `init` with a drawn key. */
  readonly params?: fc.Arbitrary<P>
  /** One input (a tensor or a pytree; integer leaves such as token ids are held fixed by the derivative laws). */
  readonly input: fc.Arbitrary<X>
}

/** Options of `layerLaws`: the order of the laws and which laws to run. */
export interface LayerOptions {
  /** 2: also the second-order laws (Hessian symmetry, hvp against differences of grad). Default 1. */
  readonly order?: 1 | 2
  /** Only these laws (default: all that apply). */
  readonly laws?: readonly LawName[]
  /** Tolerance of the exact identities (default by dtype: exactTolerance). */
  readonly tol?: Tolerance
  /** Tolerance of finite differences (computed in f64 whatever the layer's dtype). */
  readonly fdTol?: Tolerance
  /** A name for reports. */
  readonly name?: string
  /** Largest batch drawn for the vmap law (default 3). */
  readonly maxBatch?: number
}

class LayerCase {
  constructor(
    readonly params: unknown,
    readonly input: unknown,
    readonly directions: Directions,
  ) {}
  [fc.toStringMethod](): string {
    return `params ${previewTree(this.params)}, input ${previewTree(this.input)}, direction seed ${this.directions.seed}`
  }
}

class LayerBatchCase {
  constructor(
    readonly params: unknown,
    readonly inputs: readonly unknown[],
  ) {}
  [fc.toStringMethod](): string {
    return `params ${previewTree(this.params)}, a batch of ${this.inputs.length} inputs: ${this.inputs.map((x) => previewTree(x)).join(' | ')}`
  }
}

const applyOf = <P, X, Y>(layer: Layer<P, X, Y>): ((params: P, x: X) => Y) =>
  typeof layer === 'function' ? layer : (p, x) => layer.apply(p, x)

function paramsArb<P, X>(layer: Layer<P, X, unknown>, arbs: LayerArbitraries<P, X>): fc.Arbitrary<P> {
  if (arbs.params !== undefined) return arbs.params
  const init = typeof layer === 'function' ? undefined : layer.init
  if (init === undefined) throw new Error('laws.layer: give a params arbitrary, or a layer with init(key)')
  return arb.seed().map((s) => init(random.key(s)))
}

/** The layer as a function of the float leaves of (params, x), the others held fixed. */
function differentiableLayer(apply: Fn, params: unknown, x: unknown): { g: Fn; xs: Tensor[] } {
  const [leaves, def] = tree.flatten([params, x])
  const floats = leaves.map(isFloatLeaf)
  const xs = leaves.filter((_, k) => floats[k])
  const g = (...ys: Tensor[]) => {
    let j = 0
    const [p, input] = tree.unflatten(
      def,
      leaves.map((l, k) => (floats[k] ? ys[j++] : l)),
    ) as [unknown, unknown]
    return apply(p, input)
  }
  return { g, xs }
}

/** The checks of the law bundle for a user's layer. */
export function layerLaws<P, X, Y>(
  layer: Layer<P, X, Y>,
  arbs: LayerArbitraries<P, X>,
  options: LayerOptions = {},
): LawCheck[] {
  const name = options.name ?? 'layer'
  const apply = applyOf(layer) as Fn
  const params = paramsArb(layer, arbs)
  const cases = fc.tuple(params, arbs.input, directionsArb).map(([p, x, d]) => new LayerCase(p, x, d))
  const batches = fc
    .tuple(params, fc.array(arbs.input, { minLength: 1, maxLength: options.maxBatch ?? 3 }))
    .map(([p, xs]) => new LayerBatchCase(p, xs))
  const { tol } = options
  const fdTol = options.fdTol ?? finiteDifferenceTolerance
  const on = (law: LawName, body: (c: LayerCase, g: Fn, xs: Tensor[], d: DrawnDirections) => LawResult) =>
    lawCheck(name, law, cases, (c) => {
      const { g, xs } = differentiableLayer(apply, c.params, c.input)
      return body(c, g, xs, draw(g, xs, c.directions.seed))
    })
  const all: LawCheck[] = [
    on('shape', (_c, g, xs, d) => declaredShapes(g, xs, d.v, d.u)),
    on('adjoint', (_c, g, xs, d) => adjoint(g, xs, d.v, d.u, tol)),
    on('finiteDifferences', (_c, g, xs, d) => finiteDifferences(g, xs, d.v, { tol: fdTol })),
    on('jacobians', (_c, g, xs) => jacobians(g, xs, tol)),
    on('linearity', (c, g, xs, d) => linearity(g, xs, { ...d, a: c.directions.a, b: c.directions.b }, tol)),
    lawCheck(name, 'vmap', batches, (c) => vmapCommutes(apply, [c.params, stackTrees(c.inputs)], [null, 0], 0, tol)),
    on('tying', (c, _g, _xs, d) => {
      const withInput = (p: unknown) => apply(p, c.input)
      return tying(withInput, [c.params], 0, d.u, tol)
    }),
  ]
  if ((options.order ?? 1) === 2)
    all.push(on('secondOrder', (_c, g, xs, d) => secondOrder(scalarize(g, d.u), xs, d.v, { tol: fdTol, exact: tol })))
  return options.laws === undefined ? all : all.filter((c) => options.laws?.includes(c.law))
}

/** Runs the law bundle on a layer; never throws. */
export const checkLayer = <P, X, Y>(
  layer: Layer<P, X, Y>,
  arbs: LayerArbitraries<P, X>,
  options: LayerOptions = {},
  params?: fc.Parameters<[unknown]>,
): LawReport[] => layerLaws(layer, arbs, options).map((c) => c.check(params))

/** The default namespace: `laws.layer(myLayer, { params, input })` in a user's own test suite. */
export const laws = {
  /** Throws with every failing law's report unless the layer obeys them all; returns the reports. */
  layer: <P, X, Y>(
    layer: Layer<P, X, Y>,
    arbs: LayerArbitraries<P, X>,
    options: LayerOptions = {},
    params?: fc.Parameters<[unknown]>,
  ) => throwIfFailed(checkLayer(layer, arbs, options, params)),
  /** Throws with every failing law's report unless the primitive's spec row holds; returns the reports. */
  primitive: (name: Primitive, params?: fc.Parameters<[unknown]>) => throwIfFailed(checkPrimitive(name, params)),
  layerLaws,
  primitiveLaws,
  specLaws,
  checkLayer,
  checkPrimitive,
  runs: lawRuns,
  arb,
  domain,
  specs,
  predicates,
  tolerance: { exact: exactTolerance, finiteDifferences: finiteDifferenceTolerance },
}

export default laws
