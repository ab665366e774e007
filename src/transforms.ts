/**
 * The public transforms, with JAX's names and signatures, on pytrees of
 * tensors. Each flattens its arguments, runs a flat transform (jvp.ts,
 * linearize.ts, vmap.ts, partial-eval.ts) and rebuilds the structure.
 */
import { fullLike, moveAxis, reshape } from './core/lax.ts'
// Loads the primitives' rules (and registers them with the core) before any operation runs.
import './rules.ts'
import type { BatchDim } from './core/primitive.ts'
import { jvpFlat } from './ad/jvp.ts'
import { applyLinear, linearizeFlat, vjpFlat } from './ad/linearize.ts'
import { vmapFlat } from './batch/vmap.ts'
import { stage } from './core/staging.ts'
import type { Program } from './ir/program.ts'
import { isFloat } from './dtype.ts'
import { checkMatching, describe, flatten, leafPaths, unflatten, type TreeDef } from './tree.ts'
import { concrete, formatAval, zerosLike, type Tensor } from './tensor.ts'
import { allocate } from './dtype.ts'

type Fn = (...args: any[]) => any

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

function checkDifferentiable(name: string, leaves: readonly Tensor[], def: TreeDef): void {
  const paths = leafPaths(def, 'args')
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

// ---------------------------------------------------------------- forward mode

/**
 * Jacobian-vector product: `[f(...primals), ∂f(primals)·tangents]`. `primals`
 * and `tangents` are argument lists of the same structure, shapes and dtypes.
 */
export function jvp<F extends Fn>(
  f: F,
  primals: readonly unknown[],
  tangents: readonly unknown[],
): [ReturnType<F>, ReturnType<F>] {
  const [leaves, def] = flattenArgs(primals, 'jvp')
  checkMatching('jvp', 'primals', 'tangents', primals, tangents)
  const [tangentLeaves] = flatten(tangents)
  const g = flatFunction(f, def, 'jvp')
  const [outs, outTangents] = jvpFlat(g.call, leaves, tangentLeaves)
  return [unflatten(g.outDef(), outs), unflatten(g.outDef(), outTangents)]
}

/**
 * `[f(...primals), fLin]` where `fLin(...tangents)` is the linear map
 * ∂f(primals), evaluated without re-running f's primal computation. Its
 * Program is `fLin.program`.
 */
export function linearize<F extends Fn>(
  f: F,
  ...primals: Parameters<F>
): [ReturnType<F>, ((...tangents: Parameters<F>) => ReturnType<F>) & { program: Program }] {
  const [leaves, def] = flattenArgs(primals, 'linearize')
  const g = flatFunction(f, def, 'linearize')
  const { primalsOut, program } = linearizeFlat(g.call, leaves)
  const outDef = g.outDef()
  const fLin = (...tangents: Parameters<F>) => {
    checkMatching('linearize', 'primals', 'tangents', primals, tangents)
    return unflatten(outDef, applyLinear(program, flatten(tangents)[0]))
  }
  return [unflatten(outDef, primalsOut), Object.assign(fLin, { program })]
}

// ---------------------------------------------------------------- reverse mode

/**
 * `[f(...primals), vjpFn]` where `vjpFn(cotangent)` returns the cotangents of
 * the arguments (an array, one entry per argument): the transpose of the
 * linearised f applied to the cotangent.
 */
export function vjp<F extends Fn>(
  f: F,
  ...primals: Parameters<F>
): [ReturnType<F>, (cotangent: ReturnType<F>) => Parameters<F>] {
  const [leaves, def] = flattenArgs(primals, 'vjp')
  const g = flatFunction(f, def, 'vjp')
  const [outs, pullback] = vjpFlat(g.call, leaves)
  const outDef = g.outDef()
  const out = unflatten(outDef, outs)
  return [
    out,
    (cotangent) => {
      checkMatching('vjp', 'output', 'cotangent', out, cotangent)
      return unflatten(def, pullback(flatten(cotangent)[0]))
    },
  ]
}

export interface GradOptions<A extends number | readonly number[], H extends boolean = false> {
  /** Which arguments to differentiate: an index (default 0) or a list of indices. */
  readonly argnums?: A
  /** The function returns `[loss, aux]`; aux is passed through undifferentiated. */
  readonly hasAux?: H
}

type AuxOf<F extends Fn> = ReturnType<F> extends readonly [unknown, infer X] ? X : unknown
type WithAux<F extends Fn, H extends boolean, G> = H extends true ? [G, AuxOf<F>] : G
type ValueOf<F extends Fn, H extends boolean> = H extends true ? ReturnType<F>[0] : ReturnType<F>

type GradOf<F extends Fn, A> = A extends readonly number[]
  ? { [K in keyof A]: Parameters<F>[A[K] & number] }
  : A extends number
    ? Parameters<F>[A]
    : Parameters<F>[0]

function valueAndGradImpl(f: Fn, argnums: number | readonly number[], hasAux: boolean, name: string) {
  const nums = typeof argnums === 'number' ? [argnums] : [...argnums]
  return (...args: unknown[]): [unknown, unknown, unknown] => {
    for (const n of nums)
      if (!Number.isInteger(n) || n < 0 || n >= args.length)
        throw new Error(`${name}: argnums ${n} is out of range for a call with ${args.length} arguments`)
    const diffArgs = nums.map((n) => args[n])
    const [leaves, def] = flatten(diffArgs, 'args')
    checkDifferentiable(name, leaves, def)
    // Aux values leave the transform as extra primal outputs with zero cotangents.
    let auxDef: TreeDef | null = null
    const call = (ls: Tensor[]): Tensor[] => {
      const full = [...args]
      const picked = unflatten(def, ls) as unknown[]
      nums.forEach((n, i) => (full[n] = picked[i]))
      let out = f(...full)
      let auxLeaves: Tensor[] = []
      if (hasAux) {
        if (!Array.isArray(out) || out.length !== 2)
          throw new Error(`${name}: with hasAux the function must return [loss, aux]`)
        ;[auxLeaves, auxDef] = flatten(out[1], 'aux')
        out = out[0]
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

/** The gradient of a scalar function with respect to argument `argnums` (default 0), with that argument's structure. */
export function grad<F extends Fn, const A extends number | readonly number[] = 0, H extends boolean = false>(
  f: F,
  options: GradOptions<A, H> = {},
): (...args: Parameters<F>) => WithAux<F, H, GradOf<F, A>> {
  const run = valueAndGradImpl(f, options.argnums ?? 0, options.hasAux ?? false, 'grad')
  return (...args) => {
    const [, g, aux] = run(...args)
    return (options.hasAux ? [g, aux] : g) as WithAux<F, H, GradOf<F, A>>
  }
}

/** `[f(...args), grad(f)(...args)]` in one pass. */
export function valueAndGrad<F extends Fn, const A extends number | readonly number[] = 0, H extends boolean = false>(
  f: F,
  options: GradOptions<A, H> = {},
): (...args: Parameters<F>) => [WithAux<F, H, ValueOf<F, H>>, GradOf<F, A>] {
  const run = valueAndGradImpl(f, options.argnums ?? 0, options.hasAux ?? false, 'valueAndGrad')
  return (...args) => {
    const [value, g, aux] = run(...args)
    return [(options.hasAux ? [value, aux] : value) as WithAux<F, H, ValueOf<F, H>>, g as GradOf<F, A>]
  }
}

// ---------------------------------------------------------------- Jacobians

function basis(x: Tensor): Tensor {
  const n = x.size
  const values = allocate(x.aval.dtype, n * n)
  for (let i = 0; i < n; i++) values[i * n + i] = 1
  return concrete([n, ...x.aval.shape], x.aval.dtype, values)
}

function jacobianBlocks(name: string, f: Fn, argnum: number, args: unknown[], mode: 'fwd' | 'rev'): unknown {
  if (!Number.isInteger(argnum) || argnum < 0 || argnum >= args.length)
    throw new Error(`${name}: argnums ${argnum} is out of range for a call with ${args.length} arguments`)
  const [leaves, def] = flatten(args[argnum], 'arg')
  checkDifferentiable(name, leaves, def)
  const g = flatFunction(
    (x: unknown) => f(...args.map((a, i) => (i === argnum ? x : a))),
    { kind: 'array', children: [def] },
    name,
  )
  const call = g.call
  const blocks: Tensor[][] = [] // blocks[j][i]: output leaf j by input leaf i
  if (mode === 'fwd') {
    leaves.forEach((x, i) => {
      const push = ([t]: Tensor[]) =>
        jvpFlat(
          call,
          leaves,
          leaves.map((l, j) => (j === i ? t : zerosLike(l))),
        )[1]
      const outs = vmapFlat(push, [0], 0, [basis(x)])
      outs.forEach((o, j) => {
        const outShape = o.aval.shape.slice(1)
        ;(blocks[j] ??= [])[i] = reshape(moveAxis(o, 0, o.ndim - 1), [...outShape, ...x.aval.shape])
      })
    })
  } else {
    const [outs, pullback] = vjpFlat(call, leaves)
    outs.forEach((o, j) => {
      const pull = ([c]: Tensor[]) => pullback(outs.map((p, k) => (k === j ? c : zerosLike(p))))
      const cts = vmapFlat(pull, [0], 0, [basis(o)])
      blocks[j] = cts.map((c, i) => reshape(c, [...o.aval.shape, ...leaves[i].aval.shape]))
    })
  }
  const outDef = g.outDef()
  return unflatten(
    outDef,
    blocks.map((row) => unflatten(def, row)),
  )
}

/** The Jacobian by forward mode (one jvp per input element, vectorised by vmap): shape out.shape + in.shape. */
export function jacfwd<F extends Fn>(f: F, options: { argnums?: number } = {}): (...args: Parameters<F>) => any {
  return (...args) => jacobianBlocks('jacfwd', f, options.argnums ?? 0, args, 'fwd')
}

/** The Jacobian by reverse mode (one vjp per output element, vectorised by vmap): shape out.shape + in.shape. */
export function jacrev<F extends Fn>(f: F, options: { argnums?: number } = {}): (...args: Parameters<F>) => any {
  return (...args) => jacobianBlocks('jacrev', f, options.argnums ?? 0, args, 'rev')
}

/** The Hessian, as jacfwd(jacrev(f)): shape in.shape + in.shape for a scalar f. */
export function hessian<F extends Fn>(f: F, options: { argnums?: number } = {}): (...args: Parameters<F>) => any {
  return jacfwd(jacrev(f, options), options)
}

/** Hessian-vector product H(primals)·tangents, as jvp(grad(f)): never forms H. */
export function hvp<F extends Fn>(f: F, primals: Parameters<F>, tangents: Parameters<F>): Parameters<F>[0] {
  return jvp(grad(f), primals, tangents)[1]
}

// ---------------------------------------------------------------- vectorisation

export type InAxes = number | null | readonly (number | null)[]

/**
 * Vectorises `f` over axis `inAxes` of its arguments (a number for all, or
 * one entry per argument; null: not mapped). Outputs get the mapped axis at
 * `outAxes`.
 */
export function vmap<F extends Fn>(f: F, inAxes: InAxes = 0, outAxes = 0): (...args: any[]) => any {
  return (...args) => {
    if (Array.isArray(inAxes) && inAxes.length !== args.length)
      throw new Error(`vmap: inAxes has ${inAxes.length} entries but the function got ${args.length} arguments`)
    const perArg = args.map((_, i) => (Array.isArray(inAxes) ? inAxes[i] : inAxes) as BatchDim)
    const [leaves, def] = flatten(args, 'args')
    const owner: number[] = []
    args.forEach((a, i) => flatten(a)[0].forEach(() => owner.push(i)))
    const axes = leaves.map((x, k) => {
      const a = perArg[owner[k]]
      return a === null ? null : a < 0 ? a + x.ndim : a
    })
    const paths = leafPaths(def, 'args')
    const g = flatFunction(f, def, 'vmap')
    const outs = vmapFlat(g.call, axes, outAxes, leaves, (k) => paths[k])
    return unflatten(g.outDef(), outs)
  }
}

// ---------------------------------------------------------------- staging

/**
 * `makeProgram(f)(...args)`: the Program that f computes, traced with the
 * shapes and dtypes of `args` (their values are not used). Print it with
 * `toString()`; transforms of f give the Programs of the transforms.
 */
export function makeProgram<F extends Fn>(f: F): (...args: Parameters<F>) => Program {
  return (...args) => {
    const [leaves, def] = flattenArgs(args, 'makeProgram')
    const g = flatFunction(f, def, 'makeProgram')
    return stage(
      'makeProgram',
      leaves.map((x) => x.aval),
      (inputs) => ({ outputs: g.call(inputs), result: null }),
    ).program
  }
}
