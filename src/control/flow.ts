/**
 * Control flow on traced values, with JAX's names: `cond`, `switchCase`,
 * `whileLoop` and `foriLoop`. Each traces its functions once into the
 * Programs of one equation (`cond`, `whileLoop`, or a `scan` for a
 * `foriLoop` with static bounds), so a jitted step keeps its branches and
 * loops, and every transform handles them through the primitives' rules.
 * Operands and carries are pytrees of tensors; values the functions read
 * from their closure become extra operands.
 */
import { add, compare, convert, fullLike, scalarLike } from '../core/lax.ts'
import { bind } from '../core/trace.ts'
import { describeArg, scalarOf, Tensor } from '../tensor.ts'
import { describe, flatten, sameStructure, unflatten, type TreeDef } from '../tree.ts'
import { stageBranches, stageClosed } from './branches.ts'

const scalarInput = (name: string, what: string, x: unknown, dtype: 'bool' | 'i32'): Tensor => {
  if (typeof x === 'boolean' && dtype === 'bool') return scalarOf(x ? 1 : 0, 'bool')
  if (typeof x === 'number' && dtype === 'i32' && Number.isInteger(x)) return scalarOf(x, 'i32')
  if (x instanceof Tensor && x.aval.shape.length === 0 && x.aval.dtype === dtype) return x
  throw new TypeError(
    `${name}: the ${what} must be a ${dtype} scalar${dtype === 'i32' ? ' (or an integer)' : ' (or a boolean)'}, got ` +
      describeArg(x),
  )
}

function branchCall(
  name: string,
  index: Tensor,
  fns: readonly ((...operands: any[]) => unknown)[],
  operands: unknown[],
) {
  if (fns.length === 0) throw new Error(`${name}: expected at least one branch`)
  fns.forEach((f, i) => {
    if (typeof f !== 'function') throw new TypeError(`${name}: branch ${i} must be a function, got ${typeof f}`)
  })
  const [leaves, def] = flatten(operands, 'operands')
  let outDef: TreeDef | null = null
  const { branches, extra } = stageBranches(
    `${name} branch`,
    leaves.map((x) => x.aval),
    fns.map((fn, i) => (ins) => {
      const [outs, d] = flatten(fn(...(unflatten(def, ins) as unknown[])), 'output')
      if (outDef === null) outDef = d
      else if (!sameStructure(outDef, d))
        throw new Error(
          `${name}: every branch must return the same structure: branch 0 returns ${describe(outDef)}, branch ${i} returns ${describe(d)}`,
        )
      return outs
    }),
  )
  return unflatten(outDef as unknown as TreeDef, bind('cond', [index, ...extra, ...leaves], { branches }))
}

/**
 * `trueFn(...operands)` where `pred` holds, else `falseFn(...operands)`
 * (JAX's `lax.cond`): both are traced, and the one `pred` picks runs. They
 * must return the same structure, shapes and dtypes.
 */
export function cond<Ops extends unknown[], R>(
  pred: Tensor<[], 'bool'> | boolean,
  trueFn: (...operands: Ops) => R,
  falseFn: (...operands: NoInfer<Ops>) => R,
  ...operands: Ops
): R {
  const p = scalarInput('cond', 'predicate', pred, 'bool')
  return branchCall('cond', convert(p, 'i32'), [falseFn, trueFn], operands) as R
}

/**
 * `branches[index](...operands)` (JAX's `lax.switch`), the index clamped to
 * [0, branches.length − 1]; every branch is traced and must return the same
 * structure, shapes and dtypes.
 */
export function switchCase<Ops extends unknown[], R>(
  index: Tensor<[], 'i32'> | number,
  branches: readonly ((...operands: Ops) => R)[],
  ...operands: Ops
): R {
  if (!Array.isArray(branches)) throw new TypeError(`switchCase: expected an array of branches, got ${typeof branches}`)
  return branchCall('switchCase', scalarInput('switchCase', 'index', index, 'i32'), branches, operands) as R
}

/** Options of `whileLoop`. */
export interface WhileOptions {
  /**
   * Stop after this many iterations even if the predicate still holds. A
   * device backend needs such a bound to run the loop inside one submission;
   * the CPU honours it too, so both give the same values.
   */
  readonly maxIterations?: number
}

/**
 * carry = init; while condFn(carry): carry = bodyFn(carry); the final carry
 * (JAX's `lax.while_loop`). The carry keeps its structure, shapes and dtypes.
 * Forward-mode derivatives pass through it; reverse mode (grad) does not,
 * since the trip count is known only at run time: use `foriLoop` with static
 * bounds or `scan` there.
 */
export function whileLoop<C>(
  condFn: (carry: C) => Tensor<[], 'bool'>,
  bodyFn: (carry: C) => C,
  init: C,
  options: WhileOptions = {},
): C {
  if (typeof condFn !== 'function' || typeof bodyFn !== 'function')
    throw new TypeError('whileLoop: expected whileLoop(condFn, bodyFn, init)')
  const [leaves, def] = flatten(init, 'init')
  const avals = leaves.map((x) => x.aval)
  const { program: c, extra: condExtra } = stageClosed('whileLoop predicate', avals, (ins) => [
    scalarInput('whileLoop', 'predicate condFn returns', condFn(unflatten(def, ins) as C), 'bool'),
  ])
  const { program: b, extra: bodyExtra } = stageClosed('whileLoop body', avals, (ins) => {
    const [outs, d] = flatten(bodyFn(unflatten(def, ins) as C), 'carry')
    if (!sameStructure(def, d))
      throw new Error(`whileLoop: the body must return the carry's structure ${describe(def)}, got ${describe(d)}`)
    return outs
  })
  const outs = bind('whileLoop', [...condExtra, ...bodyExtra, ...leaves], {
    cond: c,
    body: b,
    condConsts: condExtra.length,
    bodyConsts: bodyExtra.length,
    maxIterations: options.maxIterations ?? null,
  })
  return unflatten(def, outs) as C
}

/**
 * for i in [lower, upper): carry = bodyFn(i, carry) (JAX's `lax.fori_loop`),
 * i an i32 scalar. With number bounds the loop is a `scan` of upper − lower
 * steps, differentiable in reverse mode; with traced bounds it is a
 * `whileLoop` (forward mode only).
 */
export function foriLoop<C>(
  lower: number | Tensor<[], 'i32'>,
  upper: number | Tensor<[], 'i32'>,
  bodyFn: (i: Tensor<[], 'i32'>, carry: C) => C,
  init: C,
  options: WhileOptions = {},
): C {
  if (typeof bodyFn !== 'function') throw new TypeError('foriLoop: expected foriLoop(lower, upper, bodyFn, init)')
  const lo = scalarInput('foriLoop', 'lower bound', lower, 'i32')
  const hi = scalarInput('foriLoop', 'upper bound', upper, 'i32')
  if (typeof lower === 'number' && typeof upper === 'number') {
    const length = Math.max(0, upper - lower)
    if (length === 0) return init
    const [leaves, def] = flatten(init, 'init')
    const { program: body, extra } = stageClosed(
      'foriLoop body',
      [lo.aval, ...leaves.map((x) => x.aval)],
      ([i, ...carry]) => {
        const [outs, d] = flatten(bodyFn(i as Tensor<[], 'i32'>, unflatten(def, carry) as C), 'carry')
        if (!sameStructure(def, d))
          throw new Error(`foriLoop: the body must return the carry's structure ${describe(def)}, got ${describe(d)}`)
        return [add(i, scalarLike(i, 1)), ...outs]
      },
    )
    const outs = bind('scan', [...extra, lo, ...leaves], {
      length,
      reverse: false,
      numConsts: extra.length,
      numCarry: 1 + leaves.length,
      body,
    })
    return unflatten(def, outs.slice(1)) as C
  }
  const [, carry] = whileLoop(
    ([i]: [Tensor, C]) => compare(i, hi, 'lt') as Tensor<[], 'bool'>,
    ([i, c]: [Tensor, C]) => [add(i, fullLike(i, 1)), bodyFn(i as Tensor<[], 'i32'>, c)] as [Tensor, C],
    [lo, init] as [Tensor, C],
    options,
  )
  return carry
}
