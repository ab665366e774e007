/**
 * The laws of the derivative and batching transforms, as pure predicates.
 *
 * Each law takes a function f of one or more arguments (tensors or pytrees of
 * them), a point, directions and a tolerance, and returns `{ ok, law, detail }`:
 * the detail names the law, the values compared and the error. A law that
 * throws (a rule that builds tensors of the wrong shape, say) is reported as a
 * failure with the error's message; nothing here throws. The fast-check
 * wiring lives in `index.ts`.
 *
 * Notation: x the point, v, w tangents (shaped like x), u, u′ cotangents
 * (shaped like f(x)), J = ∂f(x), ⟨a, b⟩ = Σ aᵢbᵢ over every element of every
 * leaf, computed in f64 JavaScript arithmetic (numeric.ts).
 *
 * - adjoint (HIPS autograd's check_vjp):      ⟨vjp(f)(x)(u), v⟩ = ⟨u, jvp(f)(x)(v)⟩, i.e. ⟨Jᵀu, v⟩ = ⟨u, Jv⟩.
 * - finiteDifferences (central, in f64):       (f(x + hv) − f(x − hv)) / 2h = Jv + O(h²), with
 *                                              h‖v‖∞ = ε(1 + ‖x‖∞), ε = 1e-6.
 * - jacobians:                                 jacfwd(f)(x) = jacrev(f)(x).
 * - linearity of the derivative:               J(av + bw) = aJv + bJw and Jᵀ(au + bu′) = aJᵀu + bJᵀu′.
 * - transpose (f linear):                      ⟨fᵀ(u), v⟩ = ⟨u, f(v)⟩, fᵀ = transposeProgram(makeProgram(f)),
 *                                              so the transpose rules are checked without the jvp rules.
 * - secondOrder (f scalar, H = hessian(f)(x)): H = Hᵀ; H·v = hvp(f)(x)(v) = (∇f(x + hv) − ∇f(x − hv)) / 2h + O(h²).
 * - vmap:                                      vmap(f, inAxes, outAxes)(xs) at index i along outAxes
 *                                              = f(each mapped xs at index i along its in axis).
 * - tying:                                     F = untie(f) ⇒ F(θ, …, θ) = f(θ) and
 *                                              vjp(f)(θ)(u) = Σᵢ vjp_θᵢ(F)(θ, …, θ)(u)
 *                                              (D. Barber, Neural Nets, "Parameter Tying").
 * - shape:                                     the avals that makeProgram declares for f, jvp(f), vjp(f) and
 *                                              grad⟨u, f⟩ are those of the values computed; jvp's tangent
 *                                              has the output's avals, vjp's cotangents and grad the inputs'.
 * - zeroDerivative (piecewise constant f):     jvp(f)(x)(v) = 0 and vjp(f)(x)(u) = 0.
 */
import {
  hessian,
  hvp,
  jacfwd,
  jacrev,
  jvp,
  makeProgram,
  runProgram,
  transposeProgram,
  tree,
  typecheck,
  untie,
  vjp,
  vmap,
  grad,
  type ConcreteTensor,
  ops,
  type Tensor,
  type DType,
  type Program,
} from '../src/index.ts'
import {
  axpby,
  compareTrees,
  indexAlong,
  inner,
  isFloatLeaf,
  leavesOf,
  mapFloat,
  maxAbs,
  pathsOf,
  previewTree,
  shapeText,
  toF64,
  type Comparison,
  type Tolerance,
} from './numeric.ts'

export type { Tolerance } from './numeric.ts'

/** The name of a law. */
export type LawName =
  | 'shape'
  | 'adjoint'
  | 'finiteDifferences'
  | 'jacobians'
  | 'linearity'
  | 'transpose'
  | 'secondOrder'
  | 'vmap'
  | 'tying'
  | 'zeroDerivative'
  | 'reverseRefused'
  | 'reverseDifferences'
  | 'forwardRefused'

/** A law's verdict: whether it held and a detail that names the values compared. */
export interface LawResult {
  readonly ok: boolean
  readonly law: LawName
  readonly detail: string
}

/** A function under test: any arguments (tensors, pytrees), a pytree of tensors out. */
export type Fn = (...args: any[]) => any

/** Tolerance of the identities that hold up to rounding, by the precision they are computed in. */
export const exactTolerance = (dtype: DType = 'f64'): Tolerance =>
  dtype === 'f32' ? { rtol: 2e-4, atol: 1e-6 } : { rtol: 1e-9, atol: 1e-12 }

/** Tolerance of central differences in f64: truncation O(h²) and cancellation O(u/h). */
export const finiteDifferenceTolerance: Tolerance = { rtol: 1e-5, atol: 1e-8 }

const pass = (law: LawName, detail: string): LawResult => ({ ok: true, law, detail: `${law}: ${detail}` })
const fail = (law: LawName, detail: string): LawResult => ({ ok: false, law, detail: `${law} law failed: ${detail}` })
const verdict = (law: LawName, ok: boolean, detail: string): LawResult => (ok ? pass(law, detail) : fail(law, detail))

function guard(law: LawName, body: () => LawResult): LawResult {
  try {
    return body()
  } catch (e) {
    return fail(law, `threw ${e instanceof Error ? e.message : String(e)}`)
  }
}

const dtypeOf = (t: unknown): DType => tree.flatten(t)[0].find(isFloatLeaf)?.aval.dtype ?? 'f64'

const num = (x: number) => Number(x.toPrecision(8))

const describeComparison = (what: string, c: Comparison, expected: unknown, actual: unknown) =>
  `${what}: ‖difference‖∞ = ${num(c.error)} ${c.ok ? '≤' : '>'} bound ${num(c.bound)}${c.where ? ` at ${c.where}` : ''}` +
  (c.ok ? '' : `; expected ${previewTree(expected)}, got ${previewTree(actual)}`)

/** ⟨vjp(f)(x)(u), v⟩ = ⟨u, jvp(f)(x)(v)⟩. */
export function adjoint(
  f: Fn,
  primals: readonly unknown[],
  tangents: readonly unknown[],
  cotangent: unknown,
  tol?: Tolerance,
): LawResult {
  return guard('adjoint', () => {
    const t = tol ?? exactTolerance(dtypeOf(primals))
    const [, jv] = jvp(f, primals, tangents)
    const [, pullback] = vjp(f, ...primals)
    const ju = pullback(cotangent)
    const lhs = inner(ju, tangents)
    const rhs = inner(cotangent, jv)
    const err = Math.abs(lhs.value - rhs.value)
    const bound = t.atol + t.rtol * Math.max(lhs.scale, rhs.scale)
    return verdict(
      'adjoint',
      err <= bound,
      `⟨vjp(f)(x)(u), v⟩ = ${num(lhs.value)}, ⟨u, jvp(f)(x)(v)⟩ = ${num(rhs.value)}, |difference| ${num(err)} ${err <= bound ? '≤' : '>'} bound ${num(bound)}`,
    )
  })
}

/** f as a function of the flat leaves of `primals`, and those leaves. */
function flatArgs(f: Fn, primals: readonly unknown[]) {
  const [xs, def] = tree.flatten(primals)
  const flat = (...ls: Tensor[]) => f(...(tree.unflatten(def, ls) as unknown[]))
  return { xs, def, flat }
}

const runF64 = (program: Program, inputs: readonly Tensor[]): ConcreteTensor[] =>
  runProgram(program, inputs, { precision: 'f64' })

/** Bound on the cancellation error of (a − b)/2h for values a, b each rounded to f64. */
const cancellation = (a: unknown, b: unknown, h: number) => (8 * 2 ** -52 * (maxAbs(a) + maxAbs(b))) / (2 * h)

/**
 * ‖v‖∞ · (g(x + hv̂) − g(x − hv̂)) / 2h with v̂ = v/‖v‖∞ and h = ε(1 + ‖x‖∞), in
 * f64, and the bound on its cancellation error. Stepping along the unit
 * direction keeps h finite for tiny v; the derivative is linear in v.
 */
function centralDifference(
  program: Program,
  xs: Tensor[],
  vs: Tensor[],
  eps: number,
  keep: (k: number) => boolean = () => true,
) {
  const x64 = toF64(xs) as Tensor[]
  const size = maxAbs(vs)
  const unit =
    size === 0
      ? toF64(vs)
      : mapFloat(
          toF64(vs),
          (v) =>
            ops.tensor(
              v.values.map((e) => e / size),
              { shape: v.aval.shape, dtype: 'f64' },
            ) as ConcreteTensor,
        )
  const h = eps * (1 + maxAbs(x64))
  const plus = runF64(program, axpby(1, x64, h, unit)).filter((_, k) => keep(k))
  const minus = runF64(program, axpby(1, x64, -h, unit)).filter((_, k) => keep(k))
  const numerical = axpby(size / (2 * h), plus, -size / (2 * h), minus)
  return { numerical, h, roundoff: size * cancellation(plus, minus, h) }
}

/** Options of the finite-difference laws: the relative step and the tolerance. */
export interface FiniteDifferenceOptions {
  /** Relative step (default 1e-6). */
  readonly eps?: number
  readonly tol?: Tolerance
}

/** (f(x + hv) − f(x − hv)) / 2h ≈ jvp(f)(x)(v), both evaluated in f64 whatever the traced dtypes. */
export function finiteDifferences(
  f: Fn,
  primals: readonly unknown[],
  tangents: readonly unknown[],
  opts: FiniteDifferenceOptions = {},
): LawResult {
  return guard('finiteDifferences', () => {
    const tol = opts.tol ?? finiteDifferenceTolerance
    const { xs, flat } = flatArgs(f, primals)
    const [vs] = tree.flatten(tangents)
    const value = makeProgram(flat)(...xs)
    const tangent = makeProgram((ls: Tensor[], ts: Tensor[]) => jvp(flat, ls, ts)[1])(xs, vs)
    const float = (k: number) => value.outputs[k].aval.dtype === 'f32' || value.outputs[k].aval.dtype === 'f64'
    const { numerical, h, roundoff } = centralDifference(value, xs, vs, opts.eps ?? 1e-6, float)
    const analytic = runF64(tangent, [...toF64(xs), ...toF64(vs)]).filter((_, k) => float(k))
    const c = compareTrees(numerical, analytic, { rtol: tol.rtol, atol: tol.atol + roundoff })
    return verdict(
      'finiteDifferences',
      c.ok,
      describeComparison(`central difference (h = ${num(h)}) vs jvp`, c, numerical, analytic),
    )
  })
}

/** jacfwd(f)(x) = jacrev(f)(x), with respect to every argument. */
export function jacobians(f: Fn, primals: readonly unknown[], tol?: Tolerance): LawResult {
  return guard('jacobians', () => {
    const packed = (xs: unknown[]) => f(...xs)
    const forward = jacfwd(packed)([...primals])
    const reverse = jacrev(packed)([...primals])
    const c = compareTrees(forward, reverse, tol ?? exactTolerance(dtypeOf(primals)))
    return verdict('jacobians', c.ok, describeComparison('jacfwd vs jacrev', c, forward, reverse))
  })
}

/** The directions of the linearity law: tangents v, w, cotangents u, u′ and the coefficients a, b. */
export interface LinearityDirections {
  readonly v: readonly unknown[]
  readonly w: readonly unknown[]
  readonly u: unknown
  readonly u2: unknown
  readonly a: number
  readonly b: number
}

/** J(av + bw) = aJv + bJw and Jᵀ(au + bu′) = aJᵀu + bJᵀu′ (the first alone for a forward-only f, `reverse` false). */
export function linearity(
  f: Fn,
  primals: readonly unknown[],
  d: LinearityDirections,
  tol?: Tolerance,
  reverse = true,
): LawResult {
  return guard('linearity', () => {
    const t = tol ?? exactTolerance(dtypeOf(primals))
    const push = (v: readonly unknown[]) => jvp(f, primals, v)[1] as unknown
    const forwardLhs = push(axpby(d.a, d.v, d.b, d.w) as unknown[])
    const forwardRhs = axpby(d.a, push([...d.v]), d.b, push([...d.w]))
    const cf = compareTrees(forwardRhs, forwardLhs, t)
    if (!cf.ok)
      return fail(
        'linearity',
        describeComparison(`jvp(${d.a}·v + ${d.b}·w) vs ${d.a}·jvp(v) + ${d.b}·jvp(w)`, cf, forwardRhs, forwardLhs),
      )
    if (!reverse) return pass('linearity', describeComparison('jvp', cf, forwardRhs, forwardLhs))
    const [, pull] = vjp(f, ...primals)
    const reverseLhs = pull(axpby(d.a, d.u, d.b, d.u2))
    const reverseRhs = axpby(d.a, pull(d.u), d.b, pull(d.u2))
    const cr = compareTrees(reverseRhs, reverseLhs, t)
    return verdict(
      'linearity',
      cr.ok,
      `${describeComparison('jvp', cf, forwardRhs, forwardLhs)}; ${describeComparison(`vjp(${d.a}·u + ${d.b}·u′) vs ${d.a}·vjp(u) + ${d.b}·vjp(u′)`, cr, reverseRhs, reverseLhs)}`,
    )
  })
}

/** For f linear in all its arguments: ⟨fᵀ(u), v⟩ = ⟨u, f(v)⟩ with fᵀ the transposed Program of f. */
export function transposeIdentity(f: Fn, point: readonly unknown[], cotangent: unknown, tol?: Tolerance): LawResult {
  return guard('transpose', () => {
    const t = tol ?? exactTolerance(dtypeOf(point))
    const { xs, flat } = flatArgs(f, point)
    const program = makeProgram(flat)(...xs)
    const cts = transposeProgram(program, leavesOf(cotangent, 'cotangent'))
    const wrong = cts.findIndex((c, k) => shapeText(c) !== shapeText(xs[k]))
    if (wrong >= 0)
      return fail(
        'transpose',
        `the transpose gives a cotangent ${shapeText(cts[wrong])} for argument leaf ${wrong}, which is ${shapeText(xs[wrong])}`,
      )
    const lhs = inner(cts, xs)
    const rhs = inner(cotangent, f(...point))
    const err = Math.abs(lhs.value - rhs.value)
    const bound = t.atol + t.rtol * Math.max(lhs.scale, rhs.scale)
    return verdict(
      'transpose',
      err <= bound,
      `⟨fᵀ(u), v⟩ = ${num(lhs.value)}, ⟨u, f(v)⟩ = ${num(rhs.value)}, |difference| ${num(err)} ${err <= bound ? '≤' : '>'} bound ${num(bound)}`,
    )
  })
}

/** x ↦ ⟨u, f(x)⟩: a scalar function whose gradient is vjp(f)(x)(u), for the second-order law on any f. */
export function scalarize(f: Fn, cotangent: unknown): Fn {
  const us = leavesOf(cotangent, 'cotangent')
  return (...args: unknown[]) => {
    const [ys] = tree.flatten(f(...args))
    const terms: Tensor[] = ys
      .map((y, k) => ops.vdot(ops.astype(us[k], y.aval.dtype), y) as Tensor)
      .filter((_, k) => isFloatLeaf(ys[k]))
    return terms.reduce((a: Tensor, b: Tensor) => ops.add(a, b) as Tensor)
  }
}

/** Options of the second-order law. */
export interface SecondOrderOptions extends FiniteDifferenceOptions {
  /** Tolerance of the exact identities H = Hᵀ and H·v = hvp. */
  readonly exact?: Tolerance
}

/**
 * For scalar f with H = hessian(f)(x): H is symmetric, H·v = hvp(f)(x)(v), and
 * hvp(f)(x)(v) ≈ (∇f(x + hv) − ∇f(x − hv)) / 2h, the last in f64.
 */
export function secondOrder(
  f: Fn,
  primals: readonly unknown[],
  tangents: readonly unknown[],
  opts: SecondOrderOptions = {},
): LawResult {
  return guard('secondOrder', () => {
    const exact = opts.exact ?? exactTolerance(dtypeOf(primals))
    const { xs, flat } = flatArgs(f, primals)
    const [vs] = tree.flatten(tangents)
    const n = xs.length
    const packed = (ls: Tensor[]) => flat(...ls)
    const blocks = leavesOf(hessian(packed)(xs), 'hessian')
    if (blocks.length !== n * n)
      return fail('secondOrder', `hessian has ${blocks.length} blocks for ${n} argument leaves`)
    const size = xs.map((x) => x.size)
    const hscale = maxAbs(blocks)
    let asym = 0
    let where = ''
    for (let j = 0; j < n; j++)
      for (let i = 0; i < n; i++) {
        const hij = blocks[j * n + i].values
        const hji = blocks[i * n + j].values
        for (let a = 0; a < size[j]; a++)
          for (let b = 0; b < size[i]; b++) {
            const d = Math.abs(hij[a * size[i] + b] - hji[b * size[j] + a])
            if (d > asym) [asym, where] = [d, `H[${j}][${i}] element (${a}, ${b})`]
          }
      }
    const symBound = exact.atol + exact.rtol * hscale
    if (!(asym <= symBound))
      return fail('secondOrder', `hessian is not symmetric: |H − Hᵀ| = ${num(asym)} > ${num(symBound)} at ${where}`)

    const vvals = leavesOf(vs, 'tangent').map((v) => v.values)
    const hv = xs.map((xj, j) => {
      const out = new Float64Array(size[j])
      for (let i = 0; i < n; i++) {
        const hij = blocks[j * n + i].values
        for (let a = 0; a < size[j]; a++) for (let b = 0; b < size[i]; b++) out[a] += hij[a * size[i] + b] * vvals[i][b]
      }
      return ops.tensor(out, { shape: xj.aval.shape, dtype: 'f64' })
    })
    const product = leavesOf(hvp(packed, [xs], [vs]), 'hvp')
    const ch = compareTrees(hv, toF64(product), exact)
    if (!ch.ok) return fail('secondOrder', describeComparison('hessian(f)(x)·v vs hvp(f)(x)(v)', ch, hv, product))

    const gradient = makeProgram((ls: Tensor[]) => grad(packed)(ls))(xs)
    const product64 = makeProgram((ls: Tensor[], ts: Tensor[]) => hvp(packed, [ls], [ts]))(xs, vs)
    const { numerical, h, roundoff } = centralDifference(gradient, xs, vs, opts.eps ?? 1e-6)
    const analytic = runF64(product64, [...toF64(xs), ...toF64(vs)])
    const tol = opts.tol ?? finiteDifferenceTolerance
    const cf = compareTrees(numerical, analytic, { rtol: tol.rtol, atol: tol.atol + roundoff })
    return verdict(
      'secondOrder',
      cf.ok,
      `H = Hᵀ (|H − Hᵀ| = ${num(asym)}); ${describeComparison('H·v vs hvp', ch, hv, product)}; ` +
        describeComparison(`central difference of grad (h = ${num(h)}) vs hvp`, cf, numerical, analytic),
    )
  })
}

const axisOf = (axis: number, ndim: number) => (axis < 0 ? axis + ndim : axis)

/** The i-th slice of every leaf of `t` along `axis`. */
const indexTree = (t: unknown, axis: number, i: number): unknown => {
  const [leaves, def] = tree.flatten(t)
  return tree.unflatten(
    def,
    leaves.map((x) => indexAlong(x as ConcreteTensor, axisOf(axis, x.ndim), i)),
  )
}

/** vmap(f, inAxes, outAxes)(xs) at index i along outAxes = f(xs at index i along inAxes). */
export function vmapCommutes(
  f: Fn,
  batched: readonly unknown[],
  inAxes: readonly (number | null)[],
  outAxes = 0,
  tol?: Tolerance,
): LawResult {
  return guard('vmap', () => {
    const t = tol ?? exactTolerance(dtypeOf(batched))
    const mapped = inAxes.findIndex((a) => a !== null)
    if (mapped < 0) return fail('vmap', 'no argument is mapped')
    const first = leavesOf(batched[mapped])[0]
    const size = first.aval.shape[axisOf(inAxes[mapped] as number, first.ndim)]
    const out = vmap(f, inAxes, outAxes)(...batched)
    const paths = pathsOf(out)
    for (let i = 0; i < size; i++) {
      const args = batched.map((a, k) => (inAxes[k] === null ? a : indexTree(a, inAxes[k] as number, i)))
      const expected = f(...args)
      const actual = indexTree(out, outAxes, i)
      const c = compareTrees(expected, actual, t)
      if (!c.ok) {
        const what = `vmap(f, [${inAxes.map(String).join(', ')}], ${outAxes}) at batch index ${i} vs f at slice ${i}`
        return fail('vmap', `${describeComparison(what, c, expected, actual)} (outputs ${paths.join(', ')})`)
      }
    }
    return pass(
      'vmap',
      `vmap(f, [${inAxes.map(String).join(', ')}], ${outAxes}) agrees with f on each of ${size} slices`,
    )
  })
}

/** Tied gradient = sum of untied gradients: vjp(f)(θ)(u) = Σᵢ vjp_θᵢ(untie(f))(θ, …, θ)(u), and F(θ, …, θ) = f(θ). */
export function tying(f: Fn, args: readonly unknown[], argnum: number, cotangent: unknown, tol?: Tolerance): LawResult {
  return guard('tying', () => {
    const t = tol ?? exactTolerance(dtypeOf(args))
    const untied = untie(f, argnum)(...args)
    const copies = Array.from({ length: untied.copies }, () => args[argnum])
    const diagonal = untied.apply(copies as never, ...args)
    const value = f(...args)
    const cv = compareTrees(value, diagonal, t)
    if (!cv.ok)
      return fail('tying', describeComparison(`F(θ, …, θ) vs f(θ) with ${untied.copies} copies`, cv, value, diagonal))
    const [, pullUntied] = vjp((cs: unknown[]) => untied.apply(cs as never, ...args), copies)
    const [perCopy] = pullUntied(cotangent) as [unknown[]]
    const summed = perCopy.slice(1).reduce((acc, c) => axpby(1, acc, 1, c), perCopy[0])
    const [, pull] = vjp(f, ...args)
    const tied = (pull(cotangent) as unknown[])[argnum]
    const c = compareTrees(tied, summed, t)
    return verdict(
      'tying',
      c.ok,
      describeComparison(
        `argument ${argnum} is used ${untied.copies} times (uses per leaf: ${untied.uses.join(', ')}); tied vjp vs sum of untied vjps`,
        c,
        tied,
        summed,
      ),
    )
  })
}

const avalText = (a: { aval: { shape: readonly number[]; dtype: DType } }) => shapeText(a)

function sameAvals(
  what: string,
  declared: readonly { aval: { shape: readonly number[]; dtype: DType } }[],
  computed: readonly Tensor[],
): string | null {
  if (declared.length !== computed.length)
    return `${what}: declares ${declared.length} outputs, computes ${computed.length}`
  for (let k = 0; k < declared.length; k++)
    if (avalText(declared[k]) !== avalText(computed[k]))
      return `${what}: output ${k} is declared ${avalText(declared[k])} but computed ${avalText(computed[k])}`
  return null
}

/**
 * The shape contract: makeProgram's declared avals for f, jvp(f), vjp(f) and
 * grad⟨u, f⟩ are those of the computed values; tangents have the outputs'
 * avals, cotangents and gradients the inputs'; every staged Program
 * type-checks.
 */
export function declaredShapes(
  f: Fn,
  primals: readonly unknown[],
  tangents: readonly unknown[],
  cotangent: unknown,
  reverse = true,
  forward = true,
): LawResult {
  return guard('shape', () => {
    const [xs] = tree.flatten(primals)
    const value = makeProgram(f)(...primals)
    typecheck(value)
    const [ys] = tree.flatten(f(...primals))
    if (!forward) {
      const cotangentProgram = makeProgram((ps: unknown[], ct: unknown) => vjp(f, ...ps)[1](ct))(
        [...primals],
        cotangent,
      )
      typecheck(cotangentProgram)
      const [ju] = tree.flatten(vjp(f, ...primals)[1](cotangent))
      const problem =
        sameAvals('f', value.outputs, ys) ??
        sameAvals('vjp(f) cotangent', cotangentProgram.outputs, ju) ??
        sameAvals('vjp(f) cotangent vs the inputs', xs, ju)
      return problem === null ? pass('shape', `f: ${ys.map(avalText).join(', ')}; vjp matches`) : fail('shape', problem)
    }
    const tangentProgram = makeProgram((ps: unknown[], ts: unknown[]) => jvp(f, ps, ts)[1])([...primals], [...tangents])
    typecheck(tangentProgram)
    const [jv] = tree.flatten(jvp(f, primals, tangents)[1])
    if (!reverse) {
      const forward = sameAvals('f', value.outputs, ys) ?? sameAvals('jvp(f) tangent', tangentProgram.outputs, jv)
      return forward === null ? pass('shape', `f: ${ys.map(avalText).join(', ')}; jvp matches`) : fail('shape', forward)
    }
    const cotangentProgram = makeProgram((ps: unknown[], ct: unknown) => vjp(f, ...ps)[1](ct))([...primals], cotangent)
    typecheck(cotangentProgram)
    const [ju] = tree.flatten(vjp(f, ...primals)[1](cotangent))
    // grad of the scalar ⟨u, f(x)⟩ with respect to every argument, where all of them and some output are floats.
    const differentiable = xs.every(isFloatLeaf) && ys.some(isFloatLeaf)
    const gradient = (ps: unknown[]) => grad(scalarize(f, cotangent), { argnums: ps.map((_, i) => i) })(...ps)
    const gradientProgram = differentiable ? makeProgram(gradient)([...primals]) : null
    if (gradientProgram !== null) typecheck(gradientProgram)
    const [gs] = differentiable ? tree.flatten(gradient([...primals])) : [[]]
    const problem =
      sameAvals('f', value.outputs, ys) ??
      sameAvals('jvp(f) tangent', tangentProgram.outputs, jv) ??
      sameAvals('jvp(f) tangent vs f', ys, jv) ??
      sameAvals('vjp(f) cotangent', cotangentProgram.outputs, ju) ??
      sameAvals('vjp(f) cotangent vs the inputs', xs, ju) ??
      (gradientProgram === null
        ? null
        : (sameAvals('grad ⟨u, f⟩', gradientProgram.outputs, gs) ?? sameAvals('grad ⟨u, f⟩ vs the inputs', xs, gs)))
    if (problem !== null) return fail('shape', problem)
    return pass(
      'shape',
      `f: ${ys.map(avalText).join(', ')}; jvp, vjp${differentiable ? ' and grad' : ''} match their declarations`,
    )
  })
}

/**
 * For a function only reverse mode differentiates (a customVjp): the central
 * difference of f along v, seen through u, against the pullback:
 * ⟨u, (f(x + hv) − f(x − hv))/2h⟩ ≈ ⟨vjp(f)(x)(u), v⟩.
 */
export function reverseDifferences(
  f: Fn,
  primals: readonly unknown[],
  tangents: readonly unknown[],
  cotangent: unknown,
  opts: FiniteDifferenceOptions = {},
): LawResult {
  return guard('reverseDifferences', () => {
    const tol = opts.tol ?? finiteDifferenceTolerance
    const { xs, flat } = flatArgs(f, primals)
    const [vs] = tree.flatten(tangents)
    const value = makeProgram(flat)(...xs)
    const float = (k: number) => value.outputs[k].aval.dtype === 'f32' || value.outputs[k].aval.dtype === 'f64'
    const { numerical, h, roundoff } = centralDifference(value, xs, vs, opts.eps ?? 1e-6, float)
    const us = tree.flatten(cotangent)[0].filter((_, k) => float(k))
    const lhs = inner(us, numerical)
    const rhs = inner(vjp(f, ...primals)[1](cotangent), tangents)
    const weight = us.reduce((s, u) => s + Array.from(u.toConcrete().values, Math.abs).reduce((a, b) => a + b, 0), 0)
    const err = Math.abs(lhs.value - rhs.value)
    const bound = tol.atol + roundoff * weight + tol.rtol * Math.max(lhs.scale, rhs.scale)
    return verdict(
      'reverseDifferences',
      err <= bound,
      `⟨u, central difference (h = ${num(h)})⟩ = ${num(lhs.value)}, ⟨vjp(f)(x)(u), v⟩ = ${num(rhs.value)}, |difference| ${num(err)} ${err <= bound ? '≤' : '>'} bound ${num(bound)}`,
    )
  })
}

/** For a function with a reverse-mode rule only (a customVjp): jvp refuses it with an error that says so. */
export function forwardRefused(f: Fn, primals: readonly unknown[], tangents: readonly unknown[]): LawResult {
  try {
    jvp(f, primals, tangents)
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    return verdict('forwardRefused', /forward-mode/.test(message), `jvp threw: ${message}`)
  }
  return verdict('forwardRefused', false, 'jvp returned a tangent; forward mode must be refused')
}

/**
 * For a function only forward mode differentiates (a whileLoop): vjp refuses
 * it with an error that names the differentiable alternatives (foriLoop,
 * scan), instead of returning a number.
 */
export function reverseRefused(f: Fn, primals: readonly unknown[], cotangent: unknown): LawResult {
  try {
    const [, pull] = vjp(f, ...primals)
    pull(cotangent)
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    return verdict('reverseRefused', /foriLoop/.test(message) && /scan/.test(message), `vjp threw: ${message}`)
  }
  return verdict('reverseRefused', false, 'vjp returned a cotangent; reverse mode must be refused')
}

/** For piecewise-constant f (or one behind stopGradient): jvp(f)(x)(v) = 0 and vjp(f)(x)(u) = 0 exactly. */
export function zeroDerivative(
  f: Fn,
  primals: readonly unknown[],
  tangents: readonly unknown[],
  cotangent: unknown,
): LawResult {
  return guard('zeroDerivative', () => {
    const [, jv] = jvp(f, primals, tangents)
    const [, pull] = vjp(f, ...primals)
    const ju = pull(cotangent)
    const largest = (t: unknown) => Math.max(0, ...leavesOf(t).flatMap((x) => Array.from(x.values, Math.abs)))
    const forward = largest(jv)
    const reverse = largest(ju)
    return verdict(
      'zeroDerivative',
      forward === 0 && reverse === 0,
      `‖jvp(f)(x)(v)‖∞ = ${forward}, ‖vjp(f)(x)(u)‖∞ = ${reverse} (both must be 0)`,
    )
  })
}
