/**
 * Derivative rules written by the user, and rematerialisation, with JAX's
 * meanings: `customJvp(f, rule)`, `customVjp(f, fwd, bwd)` and
 * `checkpoint(f)` (also `remat`). Each traces f (and its rules) once per
 * call into one equation, so every transform, jit and the laws see them.
 * Arguments and results are pytrees of tensors.
 */
import { bind } from '../core/trace.ts'
import { type Aval, formatAval, sameShape, type Tensor } from '../tensor.ts'
import { describe, flatten, sameStructure, unflatten, type TreeDef } from '../tree.ts'
import { stageClosed } from './branches.ts'

type Fn = (...args: any[]) => any

const sameAval = (a: Aval, b: Aval) => a.dtype === b.dtype && sameShape(a.shape, b.shape)

/** f staged over its arguments' leaves; the result's structure. */
function stageFunction(name: string, f: Fn, def: TreeDef, avals: readonly Aval[]) {
  let outDef: TreeDef | null = null
  const staged = stageClosed(name, avals, (ins) => {
    const [outs, d] = flatten(f(...(unflatten(def, ins) as unknown[])), 'output')
    outDef = d
    return outs
  })
  return { ...staged, outDef: outDef as unknown as TreeDef, outAvals: staged.program.outputs.map((o) => o.aval) }
}

/** Leaves of `value` that must have the structure `def` and the avals `avals`. */
function matching(name: string, what: string, value: unknown, def: TreeDef, avals: readonly Aval[]): Tensor[] {
  const [leaves, d] = flatten(value, what)
  if (!sameStructure(def, d))
    throw new Error(`${name}: ${what} must have the structure ${describe(def)}, got ${describe(d)}`)
  leaves.forEach((x, i) => {
    if (!sameAval(x.aval, avals[i]))
      throw new Error(`${name}: leaf ${i} of ${what} is ${formatAval(x.aval)}, but it must be ${formatAval(avals[i])}`)
  })
  return leaves
}

/**
 * f with its forward-mode derivative given by `rule(primals, tangents)`,
 * which returns `[f(...primals), tangent of the result]` (JAX's
 * `custom_jvp`). Reverse mode transposes the rule's tangent, so it must be
 * linear in the tangents. f must not read a value being differentiated from
 * its closure (pass it as an argument).
 */
export function customJvp<F extends Fn>(
  f: F,
  rule: (primals: Parameters<F>, tangents: Parameters<F>) => readonly [ReturnType<F>, ReturnType<F>],
): F {
  if (typeof f !== 'function' || typeof rule !== 'function')
    throw new TypeError('customJvp: expected customJvp(f, rule)')
  return ((...args: unknown[]) => {
    const [leaves, def] = flatten(args, 'args')
    const avals = leaves.map((x) => x.aval)
    const fun = stageFunction('customJvp function', f, def, avals)
    const n = leaves.length
    const staged = stageClosed('customJvp rule', [...avals, ...avals], (ins) => {
      const primals = unflatten(def, ins.slice(0, n)) as Parameters<F>
      const tangents = unflatten(def, ins.slice(n)) as Parameters<F>
      const result = rule(primals, tangents)
      if (!Array.isArray(result) || result.length !== 2)
        throw new Error('customJvp: the rule must return [f(...primals), tangent of the result]')
      return [
        ...matching('customJvp', "the rule's primal result", result[0], fun.outDef, fun.outAvals),
        ...matching('customJvp', "the rule's tangent", result[1], fun.outDef, fun.outAvals),
      ]
    })
    const outs = bind('customJvp', [...fun.extra, ...staged.extra, ...leaves], {
      fun: fun.program,
      rule: staged.program,
      funConsts: fun.extra.length,
      ruleConsts: staged.extra.length,
    })
    return unflatten(fun.outDef, outs)
  }) as F
}

/**
 * f with its reverse-mode derivative given by `fwd(...args)`, which returns
 * `[f(...args), residuals]`, and `bwd(residuals, cotangent)`, which returns
 * one cotangent per argument, as an array (JAX's `custom_vjp`). Forward mode
 * through it is refused: it has no rule for it.
 */
export function customVjp<F extends Fn, R>(
  f: F,
  fwd: (...args: Parameters<F>) => readonly [ReturnType<F>, R],
  bwd: (residuals: R, cotangent: ReturnType<F>) => Parameters<F>,
): F {
  if (typeof f !== 'function' || typeof fwd !== 'function' || typeof bwd !== 'function')
    throw new TypeError('customVjp: expected customVjp(f, fwd, bwd)')
  return ((...args: unknown[]) => {
    const [leaves, def] = flatten(args, 'args')
    const avals = leaves.map((x) => x.aval)
    const fun = stageFunction('customVjp function', f, def, avals)
    let resDef: TreeDef | null = null
    const forward = stageClosed('customVjp forward rule', avals, (ins) => {
      const result = fwd(...(unflatten(def, ins) as Parameters<F>))
      if (!Array.isArray(result) || result.length !== 2)
        throw new Error('customVjp: fwd must return [f(...args), residuals]')
      const [res, d] = flatten(result[1], 'residuals')
      resDef = d
      return [...matching('customVjp', "fwd's result", result[0], fun.outDef, fun.outAvals), ...res]
    })
    const resAvals = forward.program.outputs.slice(fun.outAvals.length).map((o) => o.aval)
    const backward = stageClosed('customVjp backward rule', [...resAvals, ...fun.outAvals], (ins) => {
      const residuals = unflatten(resDef as unknown as TreeDef, ins.slice(0, resAvals.length)) as R
      const cotangent = unflatten(fun.outDef, ins.slice(resAvals.length)) as ReturnType<F>
      const cts = bwd(residuals, cotangent)
      if (!Array.isArray(cts) || cts.length !== args.length)
        throw new Error(
          `customVjp: bwd must return an array of ${args.length} cotangents, one per argument, got ${Array.isArray(cts) ? `${cts.length} entries` : typeof cts}`,
        )
      return matching('customVjp', "bwd's cotangents", cts, def, avals)
    })
    const outs = bind('customVjp', [...fun.extra, ...forward.extra, ...backward.extra, ...leaves], {
      fun: fun.program,
      fwd: forward.program,
      bwd: backward.program,
      funConsts: fun.extra.length,
      fwdConsts: forward.extra.length,
      bwdConsts: backward.extra.length,
    })
    return unflatten(fun.outDef, outs)
  }) as F
}

/**
 * f, rematerialised under reverse mode (JAX's `checkpoint`): grad keeps only
 * f's inputs and recomputes its forward pass when the backward pass needs
 * it, instead of storing its intermediate values. Values f reads from its
 * closure (weights) are differentiated as usual.
 */
export function checkpoint<F extends Fn>(f: F): F {
  if (typeof f !== 'function') throw new TypeError(`checkpoint: expected a function, got ${typeof f}`)
  return ((...args: unknown[]) => {
    const [leaves, def] = flatten(args, 'args')
    const fun = stageFunction(
      'checkpoint',
      f,
      def,
      leaves.map((x) => x.aval),
    )
    return unflatten(fun.outDef, bind('checkpoint', [...fun.extra, ...leaves], { fun: fun.program }))
  }) as F
}

/** Another name for `checkpoint`. */
export const remat = checkpoint
