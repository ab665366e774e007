/**
 * The public transforms, with JAX's names and signatures, on pytrees of
 * tensors. Each flattens its arguments, runs a flat transform (jvp.ts,
 * linearize.ts, vmap.ts, partial-eval.ts) and rebuilds the structure.
 *
 * As in JAX, a JavaScript number is accepted wherever a tensor is in the
 * arguments of a transformed function (and in primals, tangents and
 * cotangents): where the transform traces it, it becomes an f32 scalar
 * tensor at the boundary. Arguments it does not trace (those outside
 * argnums, and unmapped leaves in vmap) reach f as they are.
 */
import { fullLike, moveAxis, reshape } from './core/lax.ts'
// Loads the primitives' rules (and registers them with the core) before any operation runs.
import './rules.ts'
import type { BatchDim } from './core/primitive.ts'
import type { MainTrace } from './core/trace.ts'
import { deadCodeElimination } from './core/dce.ts'
import { jvpFlat } from './ad/jvp.ts'
import { applyLinear, linearizeFlat, vjpFlat } from './ad/linearize.ts'
import { transposeProgram } from './ad/transpose.ts'
import { BatchTracer, vmapFlat } from './batch/vmap.ts'
import { stage } from './core/staging.ts'
import { Program } from './ir/program.ts'
import { isFloat } from './dtype.ts'
import { checkMatching, describe, flatten, leafCount, leafPaths, unflatten, type TreeDef } from './tree.ts'
import { concrete, filled, formatAval, scalarOf, zerosLike, type Tensor } from './tensor.ts'
import { allocate } from './dtype.ts'

type Fn = (...args: any[]) => any

// ---------------------------------------------------------------- arguments

/**
 * A tree type in which a JavaScript number is also accepted wherever an f32
 * scalar tensor is, down to three levels of nesting (the values themselves
 * are converted at any depth).
 */
export type OrNumber<T, Depth extends unknown[] = []> = T extends Tensor
  ? Tensor<[], 'f32'> extends T
    ? T | number
    : T
  : Depth['length'] extends 3
    ? T
    : T extends (...args: any[]) => any
      ? T
      : T extends object
        ? { [K in keyof T]: OrNumber<T[K], [...Depth, unknown]> }
        : T

/** The arguments a transformed `f` takes: f's own, where a number may stand for an f32 scalar tensor. */
export type Args<F extends Fn> = Parameters<F> | OrNumbers<Parameters<F>>
type OrNumbers<P extends readonly unknown[]> = { [K in keyof P]: OrNumber<P[K]> }

/** A plain record (not a class instance): a pytree node, as in tree.ts. */
export const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' &&
  x !== null &&
  (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null)

/**
 * `tree` with every number leaf replaced by an f32 scalar tensor (JAX's
 * weakly typed float32), in arrays and plain records; anything else is kept.
 * A tree without numbers is returned as it is. `numbers`, when given,
 * records the number each new tensor stands for.
 */
export function numbersToTensors<T>(tree: T, numbers?: Map<Tensor, number>): T {
  const walk = (node: unknown): unknown => {
    if (typeof node === 'number') {
      const x = scalarOf(node, 'f32')
      numbers?.set(x, node)
      return x
    }
    if (Array.isArray(node)) {
      const out = node.map(walk)
      return out.some((c, i) => c !== node[i]) ? out : node
    }
    if (isRecord(node)) {
      const entries = Object.entries(node).map(([k, v]) => [k, walk(v)] as const)
      return entries.some(([k, v]) => v !== node[k]) ? Object.fromEntries(entries) : node
    }
    return node
  }
  return walk(tree) as T
}

/**
 * Argument indices, e.g. a transform's `argnums`, as positions among `count`
 * arguments: a negative index counts from the end (−1 is the last). An index
 * out of range, or two naming the same argument, is an error.
 */
export function resolveArgnums(
  name: string,
  option: string,
  argnums: number | readonly number[],
  count: number,
): number[] {
  if (typeof argnums !== 'number' && !Array.isArray(argnums))
    throw new TypeError(`${name}: ${option} must be an integer or an array of integers, got ${String(argnums)}`)
  const given: readonly number[] = typeof argnums === 'number' ? [argnums] : argnums
  const seen = new Map<number, number>()
  return given.map((n) => {
    const i = Number.isInteger(n) && n < 0 ? n + count : n
    if (!Number.isInteger(n) || i < 0 || i >= count)
      throw new Error(`${name}: ${option} ${n} is out of range for a call with ${count} arguments`)
    const before = seen.get(i)
    if (before !== undefined)
      throw new Error(`${name}: ${option} ${before} and ${n} both name argument ${i}; each argument may appear once`)
    seen.set(i, n)
    return i
  })
}

/** `args` with the arguments at positions `nums` replaced by `values`. */
const substitute = (args: readonly unknown[], nums: readonly number[], values: readonly unknown[]): unknown[] => {
  const full = [...args]
  nums.forEach((n, i) => (full[n] = values[i]))
  return full
}

/**
 * The arguments with those at positions `nums` (the differentiated ones)
 * converted by numbersToTensors; the others are passed to f as they are, as
 * in JAX.
 */
const convertArgnums = (args: readonly unknown[], nums: readonly number[]): unknown[] =>
  substitute(args, nums, numbersToTensors(nums.map((n) => args[n])))

/** Flattens a function of pytrees into one of flat leaf lists; `outDef()` is the output structure after a call. */
function flatFunction(
  f: Fn,
  argDef: TreeDef,
  name: string,
): { call: (leaves: Tensor[]) => Tensor[]; outDef: () => TreeDef } {
  let outDef: TreeDef | null = null
  const call = (leaves: Tensor[]): Tensor[] => {
    const args = unflatten(argDef, leaves) as unknown[]
    const [outs, def] = flatten(f(...args), 'output')
    if (outDef !== null && describe(outDef) !== describe(def))
      throw new Error(`${name}: the function returned ${describe(def)} on one call and ${describe(outDef)} on another`)
    outDef = def
    return outs
  }
  return {
    call,
    outDef: () => {
      if (outDef === null) throw new Error(`${name}: the function was not called`)
      return outDef
    },
  }
}

const flattenArgs = (args: readonly unknown[], name: string): [Tensor[], TreeDef] => {
  if (!Array.isArray(args)) throw new TypeError(`${name}: expected an array of arguments, got ${typeof args}`)
  return flatten(args, 'args')
}

/** The paths of the leaves of arguments `nums`, in order: `args[1].w`. */
const argPaths = (args: readonly unknown[], nums: readonly number[]): string[] =>
  nums.flatMap((n) => leafPaths(flatten(args[n])[1], `args[${n}]`))

function checkDifferentiable(name: string, leaves: readonly Tensor[], paths: readonly string[]): void {
  leaves.forEach((x, i) => {
    if (!isFloat(x.aval.dtype)) {
      const shape = x.aval.shape
      const key = x.aval.dtype === 'i32' && shape.length > 0 && shape[shape.length - 1] === 2
      throw new Error(
        `${name}: can only differentiate with respect to floating-point inputs, but ${paths[i]} is ${formatAval(x.aval)}` +
          (key ? ' (if it is a random key: a random key is not differentiable; leave it out of argnums)' : ''),
      )
    }
  })
}

// ---------------------------------------------------------------- auxiliary outputs

/** The options of a transform whose function may return `[output, aux]`. */
export interface AuxOptions<H extends boolean = boolean> {
  /** The function returns `[output, aux]`; aux is passed through undifferentiated and returned last. */
  readonly hasAux?: H
}

type AuxOf<F extends Fn> = ReturnType<F> extends readonly [unknown, infer X] ? X : unknown
type WithAux<F extends Fn, H extends boolean, G> = H extends true ? [G, AuxOf<F>] : G
type ValueOf<F extends Fn, H extends boolean> = H extends true ? ReturnType<F>[0] : ReturnType<F>

/** With hasAux, checks that `f` returned `[output, aux]`. */
function checkAux(name: string, hasAux: boolean, out: unknown, what = 'output'): unknown {
  if (hasAux && (!Array.isArray(out) || out.length !== 2))
    throw new Error(`${name}: with hasAux the function must return [${what}, aux]`)
  return out
}

/**
 * A trailing `{ hasAux }` argument of vjp and linearize: a plain record whose
 * one key is `hasAux`, with a boolean value. A pytree cannot hold a boolean,
 * so such a record is never one of f's arguments.
 */
function splitAuxOption(args: readonly unknown[]): [unknown[], boolean] {
  const last = args[args.length - 1]
  if (isRecord(last) && Object.keys(last).length === 1 && typeof last.hasAux === 'boolean')
    return [args.slice(0, -1), last.hasAux]
  return [[...args], false]
}

/** The output and aux structures of a function flattened as `[output, aux]` (aux null without hasAux). */
function splitOutDef(def: TreeDef, hasAux: boolean): { out: TreeDef; aux: TreeDef | null; count: number } {
  if (!hasAux) return { out: def, aux: null, count: leafCount(def) }
  const [out, aux] = (def as Extract<TreeDef, { kind: 'array' }>).children
  return { out, aux, count: leafCount(out) }
}

/**
 * linearizeFlat, with the linear Program restricted to the first `count()`
 * outputs (the rest are aux values, which have no tangents).
 */
function linearizeOutputs(
  call: (xs: Tensor[]) => Tensor[],
  primals: readonly Tensor[],
  count: () => number,
): { primalsOut: Tensor[]; program: Program } {
  const { primalsOut, program } = linearizeFlat(call, primals)
  const n = count()
  if (n === program.outputs.length) return { primalsOut, program }
  const { inputs, constVars, constValues, eqns, outputs } = program
  return {
    primalsOut,
    program: deadCodeElimination(new Program(inputs, constVars, constValues, eqns, outputs.slice(0, n))),
  }
}

/**
 * The value of an output of a function mapped by the vmap trace `main`, as a
 * value outside that vmap, when it does not depend on the mapped inputs;
 * null when it does.
 */
function unmapped(x: Tensor, main: MainTrace): Tensor | null {
  if (!(x instanceof BatchTracer) || x.trace.main !== main) return x
  return x.dim === null ? x.value : null
}

// ---------------------------------------------------------------- forward mode

/**
 * Jacobian-vector product: `[f(...primals), ∂f(primals)·tangents]`. `primals`
 * and `tangents` are argument lists of the same structure, shapes and dtypes.
 * With `{ hasAux: true }`, f returns `[output, aux]` and the result is
 * `[output, tangent, aux]`.
 *
 * @example
 * const x = tensor([0, 1, 2])
 * const v = ones([3])
 * const [y, dy] = jvp((x: Tensor<[3]>) => ops.sin(x), [x], [v]) // dy = cos(x) · v
 */
export function jvp<F extends Fn>(
  f: F,
  primals: readonly unknown[],
  tangents: readonly unknown[],
  options: { readonly hasAux: true },
): [ValueOf<F, true>, ValueOf<F, true>, AuxOf<F>]
export function jvp<F extends Fn>(
  f: F,
  primals: readonly unknown[],
  tangents: readonly unknown[],
  options?: { readonly hasAux?: false },
): [ReturnType<F>, ReturnType<F>]
export function jvp(
  f: Fn,
  primals: readonly unknown[],
  tangents: readonly unknown[],
  options: AuxOptions = {},
): unknown[] {
  const hasAux = options.hasAux ?? false
  const ps = numbersToTensors(primals)
  const ts = numbersToTensors(tangents)
  const [leaves, def] = flattenArgs(ps, 'jvp')
  checkMatching('jvp', 'primals', 'tangents', ps, ts)
  const [tangentLeaves] = flatten(ts)
  const g = flatFunction((...args) => checkAux('jvp', hasAux, f(...args)), def, 'jvp')
  const [outs, outTangents] = jvpFlat(g.call, leaves, tangentLeaves)
  const { out, aux, count } = splitOutDef(g.outDef(), hasAux)
  const primal = unflatten(out, outs.slice(0, count))
  const tangent = unflatten(out, outTangents.slice(0, count))
  return aux === null ? [primal, tangent] : [primal, tangent, unflatten(aux, outs.slice(count))]
}

type Linear<F extends Fn, H extends boolean> = ((...tangents: Args<F>) => ValueOf<F, H>) & { program: Program }

/**
 * `[f(...primals), fLin]` where `fLin(...tangents)` is the linear map
 * ∂f(primals), evaluated without re-running f's primal computation. Its
 * Program is `fLin.program`.
 *
 * `linearize(f, ...primals, { hasAux: true })`: f returns `[output, aux]` and
 * the result is `[output, fLin, aux]`, fLin mapping to the output's tangent.
 * A last argument `{ hasAux: boolean }` is always these options (a pytree
 * cannot hold a boolean), so every argument list stays unambiguous.
 *
 * @example
 * const x = tensor([0, 1, 2])
 * const v = ones([3])
 * const [y, fLin] = linearize((x: Tensor<[3]>) => ops.sin(x), x)
 * fLin(v) // cos(x) · v, without recomputing sin
 */
export function linearize<F extends Fn>(
  f: F,
  ...args: [...Args<F>, { readonly hasAux: true }]
): [ValueOf<F, true>, Linear<F, true>, AuxOf<F>]
export function linearize<F extends Fn>(
  f: F,
  ...args: Args<F> | [...Args<F>, { readonly hasAux?: false }]
): [ReturnType<F>, Linear<F, false>]
export function linearize(f: Fn, ...args: unknown[]): unknown[] {
  const [given, hasAux] = splitAuxOption(args)
  const primals = numbersToTensors(given)
  const [leaves, def] = flattenArgs(primals, 'linearize')
  const g = flatFunction((...a) => checkAux('linearize', hasAux, f(...a)), def, 'linearize')
  const count = () => splitOutDef(g.outDef(), hasAux).count
  const { primalsOut, program } = linearizeOutputs(g.call, leaves, count)
  const { out, aux } = splitOutDef(g.outDef(), hasAux)
  const fLin = (...tangents: unknown[]) => {
    const ts = numbersToTensors(tangents)
    checkMatching('linearize', 'primals', 'tangents', primals, ts)
    return unflatten(out, applyLinear(program, flatten(ts)[0]))
  }
  const result = [unflatten(out, primalsOut.slice(0, count())), Object.assign(fLin, { program })]
  return aux === null ? result : [...result, unflatten(aux, primalsOut.slice(count()))]
}

// ---------------------------------------------------------------- reverse mode

type Pullback<F extends Fn, H extends boolean> = (cotangent: ValueOf<F, H> | OrNumber<ValueOf<F, H>>) => Parameters<F>

/**
 * `[f(...primals), vjpFn]` where `vjpFn(cotangent)` returns the cotangents of
 * the arguments (an array, one entry per argument): the transpose of the
 * linearised f applied to the cotangent.
 *
 * `vjp(f, ...primals, { hasAux: true })`: f returns `[output, aux]` and the
 * result is `[output, vjpFn, aux]`, vjpFn taking the output's cotangent. A
 * last argument `{ hasAux: boolean }` is always these options (a pytree
 * cannot hold a boolean), so every argument list stays unambiguous.
 *
 * @example
 * const a = tensor([1, 2, 3])
 * const b = tensor([4, 5, 6])
 * const [y, pullback] = vjp((a: Tensor<[3]>, b: Tensor<[3]>) => ops.mul(a, b), a, b)
 * const [da, db] = pullback(ones([3])) // [b, a]
 */
export function vjp<F extends Fn>(
  f: F,
  ...args: [...Args<F>, { readonly hasAux: true }]
): [ValueOf<F, true>, Pullback<F, true>, AuxOf<F>]
export function vjp<F extends Fn>(
  f: F,
  ...args: Args<F> | [...Args<F>, { readonly hasAux?: false }]
): [ReturnType<F>, Pullback<F, false>]
export function vjp(f: Fn, ...args: unknown[]): unknown[] {
  const [given, hasAux] = splitAuxOption(args)
  const primals = numbersToTensors(given)
  const [leaves, def] = flattenArgs(primals, 'vjp')
  const g = flatFunction((...a) => checkAux('vjp', hasAux, f(...a)), def, 'vjp')
  const count = () => splitOutDef(g.outDef(), hasAux).count
  const { primalsOut, program } = linearizeOutputs(g.call, leaves, count)
  const { out: outDef, aux } = splitOutDef(g.outDef(), hasAux)
  const out = unflatten(outDef, primalsOut.slice(0, count()))
  const pullback = (cotangent: unknown) => {
    const ct = numbersToTensors(cotangent)
    checkMatching('vjp', 'output', 'cotangent', out, ct)
    return unflatten(def, transposeProgram(program, flatten(ct)[0]))
  }
  return aux === null ? [out, pullback] : [out, pullback, unflatten(aux, primalsOut.slice(count()))]
}

/** The options of `grad` and `valueAndGrad`: which arguments, and whether f returns an auxiliary value. */
export interface GradOptions<A extends number | readonly number[], H extends boolean = false> {
  /**
   * Which arguments to differentiate: an index (default 0) or a list of
   * distinct indices; a negative index counts from the end (−1 is the last).
   */
  readonly argnums?: A
  /** The function returns `[loss, aux]`; aux is passed through undifferentiated. */
  readonly hasAux?: H
}

type Reverse<T extends readonly unknown[]> = T extends readonly [...infer R, infer L] ? [L, ...Reverse<R>] : []
/** The type of argument N of P, N negative counting from the end. */
type ArgAt<P extends readonly unknown[], N> = N extends number
  ? `${N}` extends `-${infer K extends number}`
    ? number extends P['length']
      ? P[number]
      : [never, ...Reverse<P>][K]
    : P[N]
  : never

type GradOf<F extends Fn, A> = A extends readonly number[]
  ? { [K in keyof A]: ArgAt<Parameters<F>, A[K]> }
  : A extends number
    ? ArgAt<Parameters<F>, A>
    : Parameters<F>[0]

function valueAndGradImpl(f: Fn, argnums: number | readonly number[], hasAux: boolean, name: string) {
  return (...given: unknown[]): [unknown, unknown, unknown] => {
    const nums = resolveArgnums(name, 'argnums', argnums, given.length)
    const args = convertArgnums(given, nums)
    const diffArgs = nums.map((n) => args[n])
    const [leaves, def] = flatten(diffArgs, 'args')
    checkDifferentiable(name, leaves, argPaths(args, nums))
    // Aux values leave the transform as extra primal outputs with zero cotangents.
    let auxDef: TreeDef | null = null
    const call = (ls: Tensor[]): Tensor[] => {
      let out = checkAux(name, hasAux, f(...substitute(args, nums, unflatten(def, ls))), 'loss')
      let auxLeaves: Tensor[] = []
      if (hasAux) {
        ;[auxLeaves, auxDef] = flatten((out as unknown[])[1], 'aux')
        out = (out as unknown[])[0]
      }
      const [outs, outDef] = flatten(out, 'output')
      if (outDef.kind !== 'leaf' || outs[0].aval.shape.length !== 0 || !isFloat(outs[0].aval.dtype))
        throw new Error(
          `${name} requires a function with a scalar floating-point output (shape []), got ` +
            (outDef.kind === 'leaf' ? formatAval(outs[0].aval) : describe(outDef)) +
            '; use vjp or jacrev for other outputs',
        )
      return [outs[0], ...auxLeaves]
    }
    const [[value, ...auxOut], pullback] = vjpFlat(call, leaves)
    const grads = unflatten(def, pullback([fullLike(value, 1), ...auxOut.map((a) => fullLike(a, 0))])) as unknown[]
    const aux = auxDef === null ? undefined : unflatten(auxDef, auxOut)
    return [value, typeof argnums === 'number' ? grads[0] : grads, aux]
  }
}

/**
 * The gradient of a scalar function with respect to argument `argnums`
 * (default 0), with that argument's structure.
 *
 * @example
 * const x = tensor([1, 2, 3])
 * grad((x: Tensor<[3]>) => ops.sum(ops.square(x)))(x) // 2x
 * const loss = (w: Tensor<[3]>, b: Tensor<[]>) => ops.sum(ops.square(ops.add(ops.mul(w, x), b)))
 * const [dw, db] = grad(loss, { argnums: [0, 1] })(ones([3]), scalar(0)) // [∂loss/∂w, ∂loss/∂b]
 */
export function grad<F extends Fn, const A extends number | readonly number[] = 0, H extends boolean = false>(
  f: F,
  options: GradOptions<A, H> = {},
): (...args: Args<F>) => WithAux<F, H, GradOf<F, A>> {
  const run = valueAndGradImpl(f, options.argnums ?? 0, options.hasAux ?? false, 'grad')
  return (...args) => {
    const [, g, aux] = run(...args)
    return (options.hasAux ? [g, aux] : g) as WithAux<F, H, GradOf<F, A>>
  }
}

/**
 * `[f(...args), grad(f)(...args)]` in one pass.
 *
 * @example
 * const loss = (w: Tensor<[2]>, x: Tensor<[2]>) => ops.sum(ops.square(ops.sub(w, x)))
 * const [value, g] = valueAndGrad(loss)(tensor([1, 2]), tensor([0, 0])) // 5, [2, 4]
 */
export function valueAndGrad<F extends Fn, const A extends number | readonly number[] = 0, H extends boolean = false>(
  f: F,
  options: GradOptions<A, H> = {},
): (...args: Args<F>) => [WithAux<F, H, ValueOf<F, H>>, GradOf<F, A>] {
  const run = valueAndGradImpl(f, options.argnums ?? 0, options.hasAux ?? false, 'valueAndGrad')
  return (...args) => {
    const [value, g, aux] = run(...args)
    return [(options.hasAux ? [value, aux] : value) as WithAux<F, H, ValueOf<F, H>>, g as GradOf<F, A>]
  }
}

// ---------------------------------------------------------------- Jacobians

/** The options of `jacfwd`, `jacrev` and `hessian`: which arguments, and whether f returns an auxiliary value. */
export interface JacobianOptions<H extends boolean = false> {
  /**
   * Which arguments to differentiate: an index (default 0) or a list of
   * distinct indices; a negative index counts from the end. With a list,
   * each output leaf's Jacobian is a list with one entry per index.
   */
  readonly argnums?: number | readonly number[]
  /** The function returns `[output, aux]`; the result is `[jacobian, aux]`. */
  readonly hasAux?: H
}

function basis(x: Tensor): Tensor {
  const n = x.size
  const values = allocate(x.aval.dtype, n * n)
  for (let i = 0; i < n; i++) values[i * n + i] = 1
  return concrete([n, ...x.aval.shape], x.aval.dtype, values)
}

function jacobian(name: string, f: Fn, options: JacobianOptions<boolean>, mode: 'fwd' | 'rev') {
  const argnums = options.argnums ?? 0
  const hasAux = options.hasAux ?? false
  const single = typeof argnums === 'number'
  return (...given: unknown[]): unknown => {
    const nums = resolveArgnums(name, 'argnums', argnums, given.length)
    const args = convertArgnums(given, nums)
    const [leaves, def] = flatten(single ? args[nums[0]] : nums.map((n) => args[n]), 'args')
    checkDifferentiable(name, leaves, argPaths(args, nums))
    const g = flatFunction(
      (x: unknown) => checkAux(name, hasAux, f(...substitute(args, nums, single ? [x] : (x as unknown[])))),
      { kind: 'array', children: [def] },
      name,
    )
    const call = g.call
    const count = () => splitOutDef(g.outDef(), hasAux).count
    const blocks: Tensor[][] = [] // blocks[j][i]: output leaf j by input leaf i
    let auxOut: Tensor[] = []
    if (mode === 'fwd') {
      leaves.forEach((x, i) => {
        const push = ([t]: Tensor[]) => {
          const [primals, tangents] = jvpFlat(
            call,
            leaves,
            leaves.map((l, j) => (j === i ? t : zerosLike(l))),
          )
          // The aux values do not depend on the tangents: they leave the vmap unmapped.
          if (i === 0) auxOut = primals.slice(count()).map((p) => unmapped(p, (t as BatchTracer).trace.main) as Tensor)
          return tangents.slice(0, count())
        }
        const outs = vmapFlat(push, [0], 0, [basis(x)])
        outs.forEach((o, j) => {
          const outShape = o.aval.shape.slice(1)
          ;(blocks[j] ??= [])[i] = reshape(moveAxis(o, 0, o.ndim - 1), [...outShape, ...x.aval.shape])
        })
      })
    } else {
      const { primalsOut, program } = linearizeOutputs(call, leaves, count)
      const outs = primalsOut.slice(0, count())
      auxOut = primalsOut.slice(count())
      outs.forEach((o, j) => {
        const pull = ([c]: Tensor[]) =>
          transposeProgram(
            program,
            outs.map((p, k) => (k === j ? c : zerosLike(p))),
          )
        const cts = vmapFlat(pull, [0], 0, [basis(o)])
        blocks[j] = cts.map((c, i) => reshape(c, [...o.aval.shape, ...leaves[i].aval.shape]))
      })
    }
    const { out, aux } = splitOutDef(g.outDef(), hasAux)
    const jac = unflatten(
      out,
      blocks.map((row) => unflatten(def, row)),
    )
    return aux === null ? jac : [jac, unflatten(aux, auxOut)]
  }
}

/**
 * The Jacobian by forward mode (one jvp per input element, vectorised by
 * vmap): shape out.shape + in.shape, for each output leaf and input leaf.
 *
 * @example
 * const x = tensor([0, 1, 2])
 * jacfwd((x: Tensor<[3]>) => ops.exp(x))(x) // [3, 3]: diag(eˣ)
 */
export function jacfwd<F extends Fn, H extends boolean = false>(
  f: F,
  options: JacobianOptions<H> = {},
): (...args: Args<F>) => WithAux<F, H, any> {
  return jacobian('jacfwd', f, options, 'fwd') as (...args: Args<F>) => WithAux<F, H, any>
}

/**
 * The Jacobian by reverse mode (one vjp per output element, vectorised by
 * vmap): shape out.shape + in.shape, for each output leaf and input leaf.
 *
 * @example
 * const x = tensor([0, 1, 2])
 * jacrev((x: Tensor<[3]>) => ops.sum(ops.square(x)))(x) // [3]: 2x
 */
export function jacrev<F extends Fn, H extends boolean = false>(
  f: F,
  options: JacobianOptions<H> = {},
): (...args: Args<F>) => WithAux<F, H, any> {
  return jacobian('jacrev', f, options, 'rev') as (...args: Args<F>) => WithAux<F, H, any>
}

/**
 * The Hessian, as jacfwd(jacrev(f)) with the same options: shape in.shape +
 * in.shape for a scalar f; with a list of argnums, blocks `h[i][j]`.
 *
 * @example
 * const x = tensor([0, 1, 2])
 * hessian((x: Tensor<[3]>) => ops.sum(ops.pow(x, 3)))(x) // [3, 3]: diag(6x)
 */
export function hessian<F extends Fn, H extends boolean = false>(
  f: F,
  options: JacobianOptions<H> = {},
): (...args: Args<F>) => WithAux<F, H, any> {
  return jacfwd(jacrev(f, options), options) as (...args: Args<F>) => WithAux<F, H, any>
}

/**
 * Hessian-vector product H(primals)·tangents, as jvp(grad(f)): never forms H.
 *
 * @example
 * const x = tensor([0, 1, 2])
 * const v = ones([3])
 * hvp((x: Tensor<[3]>) => ops.sum(ops.pow(x, 3)), [x], [v]) // 6x · v
 */
export function hvp<F extends Fn>(f: F, primals: Args<F>, tangents: Args<F>): Parameters<F>[0] {
  return jvp(grad(f), primals, tangents)[1]
}

// ---------------------------------------------------------------- vectorisation

/** The axis of every leaf below: a number (negative counts from the end), null (not mapped), or a tree of them. */
export type AxisTree = number | null | readonly AxisTree[] | { readonly [key: string]: AxisTree }

/** vmap's in_axes: one axis tree for every argument, or one entry per argument. */
export type InAxes = number | null | readonly AxisTree[]

/** vmap's options as one record: the axes in and out, and the mapped size where no input is mapped. */
export interface VmapOptions {
  /** As vmap's second argument (default 0). */
  readonly inAxes?: InAxes
  /** As vmap's third argument (default 0). */
  readonly outAxes?: AxisTree
  /**
   * The size of the mapped axis. Needed when no input is mapped: every
   * output then gains a leading axis of this size (broadcast). When inputs
   * are mapped, it must equal their size.
   */
  readonly axisSize?: number
}

/**
 * One axis per leaf of `def` from an axis tree: a number or null stands for
 * every leaf below it; an array or record must have the structure there.
 */
function expandAxes(what: string, spec: unknown, def: TreeDef, at: string): (number | null)[] {
  if (spec === null || (typeof spec === 'number' && Number.isInteger(spec)))
    return new Array<number | null>(leafCount(def)).fill(spec)
  const mismatch = () =>
    new Error(
      `vmap: ${what} for ${at} is ${JSON.stringify(spec)}, which does not match its structure ` +
        `${def.kind === 'leaf' ? '(a tensor)' : describe(def)}; give one axis (or null) for all of it, or a tree of that structure`,
    )
  if (Array.isArray(spec)) {
    if (def.kind !== 'array' || def.children.length !== spec.length) throw mismatch()
    return def.children.flatMap((c, i) => expandAxes(what, spec[i], c, `${at}[${i}]`))
  }
  if (isRecord(spec)) {
    const keys = Object.keys(spec).sort()
    if (def.kind !== 'record' || keys.length !== def.keys.length || keys.some((k, i) => k !== def.keys[i]))
      throw mismatch()
    return def.children.flatMap((c, i) => expandAxes(what, spec[def.keys[i]], c, `${at}.${def.keys[i]}`))
  }
  throw new TypeError(
    `vmap: ${what} for ${at} must be an integer, null, or an array or record of them, got ${JSON.stringify(spec) ?? String(spec)}`,
  )
}

/**
 * Vectorises `f` over axis `inAxes` of its arguments: one axis tree for all
 * of them, or an array with one entry per argument. An axis tree is a number
 * (negative counts from the end) or null (not mapped) for a whole argument or
 * subtree, or an array or record of the argument's structure with axes at its
 * leaves, as JAX's in_axes. Outputs get the mapped axis at `outAxes`: a
 * number, or an axis tree over the output's structure where null marks an
 * output that does not depend on the mapped inputs (returned as it is).
 *
 * A number argument (or leaf) that is not mapped reaches f as it is.
 *
 * `vmap(f, { inAxes, outAxes, axisSize })` takes the same as options, and
 * `axisSize`: the mapped size, required when no input is mapped (every
 * output is then broadcast to a new leading axis of that size).
 *
 * @example
 * const xs = tensor([[1, 2, 3], [4, 5, 6]])
 * const w = tensor([1, 0, -1])
 * vmap((x: Tensor<[3]>) => ops.sum(x))(xs) // xs [2, 3] → [2]
 * vmap((x: Tensor<[3]>, w: Tensor<[3]>) => ops.mul(x, w), [0, null])(xs, w) // w not mapped
 */
export function vmap<F extends Fn>(
  f: F,
  inAxes: InAxes | VmapOptions = 0,
  outAxes: AxisTree = 0,
): (...args: any[]) => any {
  const options: VmapOptions = isRecord(inAxes) ? inAxes : { inAxes: inAxes as InAxes, outAxes }
  const ins = options.inAxes === undefined ? 0 : options.inAxes
  const outs = options.outAxes === undefined ? 0 : options.outAxes
  const { axisSize } = options
  if (axisSize !== undefined && !(Number.isInteger(axisSize) && axisSize >= 0))
    throw new Error(`vmap: axisSize must be a non-negative integer, got ${axisSize}`)
  return (...given) => {
    const numbers = new Map<Tensor, number>()
    const args = numbersToTensors(given, numbers)
    if (Array.isArray(ins) && ins.length !== args.length)
      throw new Error(`vmap: inAxes has ${ins.length} entries but the function got ${args.length} arguments`)
    const [leaves, def] = flatten(args, 'args')
    const argDefs = (def as Extract<TreeDef, { kind: 'array' }>).children
    const axes: BatchDim[] = argDefs
      .flatMap((d, i) => expandAxes('inAxes', Array.isArray(ins) ? ins[i] : ins, d, `args[${i}]`))
      .map((a, k) => (a !== null && a < 0 && a + leaves[k].ndim >= 0 ? a + leaves[k].ndim : a))
    const paths = leafPaths(def, 'args')
    const first = axes.findIndex((a, k) => a !== null && a >= 0 && a < leaves[k].ndim)
    if (axisSize !== undefined && first >= 0) {
      const n = leaves[first].aval.shape[axes[first] as number]
      if (n !== axisSize)
        throw new Error(`vmap: axisSize is ${axisSize}, but ${paths[first]} has size ${n} on axis ${axes[first]}`)
    }
    if (axisSize === undefined && axes.every((a) => a === null))
      throw new Error(
        'vmap: no input is mapped (every inAxes entry is null) and no axisSize is given; map an input or give { axisSize }',
      )
    // With nothing mapped, an input of axisSize zeros that f never sees carries the size.
    const carrier = axes.every((a) => a === null) ? [filled([axisSize ?? 0], 'f32', 0)] : []
    const g = flatFunction(f, def, 'vmap')
    // A number that is not mapped reaches f as it is, as in JAX; the inputs past the leaves carry axisSize.
    const passed = leaves.map((x, k) => (axes[k] === null ? numbers.get(x) : undefined))
    const restore = (xs: Tensor[]) => xs.slice(0, leaves.length).map((x, k) => passed[k] ?? x) as Tensor[]
    const describeInput = (k: number) => paths[k] ?? 'axisSize'
    const inputs = [...leaves, ...carrier]
    const inputAxes = [...axes, ...carrier.map(() => 0)]
    if (typeof outs === 'number') {
      const results = vmapFlat((xs) => g.call(restore(xs)), inputAxes, outs, inputs, describeInput)
      return unflatten(g.outDef(), results)
    }
    // An axis tree of outputs: mapped outputs come back on axis 0 and move after; null ones are kept as they are.
    let outAxesFlat: (number | null)[] = []
    const kept: Tensor[] = []
    const results = vmapFlat(
      (xs) => {
        const ys = g.call(restore(xs))
        const outPaths = leafPaths(g.outDef(), 'output')
        outAxesFlat = expandAxes('outAxes', outs, g.outDef(), 'output')
        const main = (xs[0] as BatchTracer).trace.main
        return ys.filter((y, j) => {
          if (outAxesFlat[j] !== null) return true
          const value = unmapped(y, main)
          if (value === null)
            throw new Error(`vmap: outAxes is null for ${outPaths[j]}, but that output depends on the mapped inputs`)
          kept[j] = value
          return false
        })
      },
      inputAxes,
      0,
      inputs,
      describeInput,
    )
    const outPaths = leafPaths(g.outDef(), 'output')
    let m = 0
    const flat = outAxesFlat.map((a, j) => {
      if (a === null) return kept[j]
      const y = results[m++]
      const to = a < 0 ? a + y.ndim : a
      if (to < 0 || to >= y.ndim)
        throw new Error(
          `vmap: outAxes ${a} is out of range for ${outPaths[j]}, ${formatAval(y.aval)} with the mapped axis`,
        )
      return moveAxis(y, 0, to)
    })
    return unflatten(g.outDef(), flat)
  }
}

// ---------------------------------------------------------------- staging

/**
 * `makeProgram(f)(...args)` with the pytree paths of the Program's inputs
 * and outputs (`[0].w`, `[1]`: argument 0's field w, output 1), for naming
 * them in an exported model.
 */
export function traceProgram(
  f: Fn,
  args: readonly unknown[],
  name = 'traceProgram',
): { program: Program; inputPaths: string[]; outputPaths: string[] } {
  const [leaves, def] = flattenArgs(numbersToTensors(args as unknown[]), name)
  const g = flatFunction(f, def, name)
  const { program } = stage(
    name,
    leaves.map((x) => x.aval),
    (inputs) => ({ outputs: g.call(inputs), result: null }),
  )
  return { program, inputPaths: leafPaths(def), outputPaths: leafPaths(g.outDef()) }
}

/**
 * `makeProgram(f)(...args)`: the Program that f computes, traced with the
 * shapes and dtypes of `args` (their values are not used). Print it with
 * `toString()`; transforms of f give the Programs of the transforms.
 *
 * @example
 * makeProgram((x: Tensor<[3]>) => ops.sum(ops.exp(x)))(ops.zeros([3])).toString()
 */
export function makeProgram<F extends Fn>(f: F): (...args: Args<F>) => Program {
  return (...given) => traceProgram(f, given as unknown[], 'makeProgram').program
}
