/**
 * The playground's transforms panel without the page: a learner's source
 * (TypeScript or JavaScript) compiled to a function `f` and its example
 * arguments, the Programs of f and of what the transforms make of it, their
 * values, and each primitive's rules as the library applies them.
 */
import { transform } from 'sucrase'
import * as adjoint from '../../index.ts'
import {
  type Eqn,
  evalProgram,
  grad,
  jvp,
  linearize,
  makeProgram,
  ops,
  Program,
  type Tensor,
  transposeProgram,
  tree,
  Var,
  vjp,
  vmap,
} from '../../index.ts'

/** What a learner's source defines: the function and the arguments to trace it at. */
export interface UserFunction {
  readonly f: (...args: any[]) => unknown
  readonly args: readonly unknown[]
}

/** The names a learner's source sees without importing them: every export of the package. */
const GLOBALS = Object.keys(adjoint).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k))

/**
 * Compiles and runs a learner's source. It defines `f` and `args` (top-level
 * `const`s, or exports of those names); the package's exports are in scope,
 * and `import … from 'adjoint'` works too. Type annotations are erased (the
 * page does not type-check: the editor of a project does).
 */
export function compileUser(source: string): UserFunction {
  let js: string
  try {
    js = transform(source, { transforms: ['typescript', 'imports'], production: true }).code
  } catch (e) {
    throw new Error(`the source does not parse: ${message(e)}`)
  }
  const require = (name: string) => {
    if (name === 'adjoint') return adjoint
    throw new Error(`only 'adjoint' can be imported here, not '${name}'`)
  }
  const body = `const { ${GLOBALS.join(', ')} } = adjoint;\n${js}\n;return {
    f: typeof f !== 'undefined' ? f : exports.f,
    args: typeof args !== 'undefined' ? args : exports.args,
  }`
  const exports: Record<string, unknown> = {}
  const run = new Function('adjoint', 'require', 'exports', 'module', body)
  const out = run(adjoint, require, exports, { exports }) as { f: unknown; args: unknown }
  if (typeof out.f !== 'function') throw new Error(`define a function f; got ${describe(out.f)}`)
  if (!Array.isArray(out.args))
    throw new Error(
      `define args, the array of f's example arguments (e.g. [tensor([1, 2, 3])]); got ${describe(out.args)}`,
    )
  return { f: out.f as UserFunction['f'], args: out.args }
}

/** One pane of the transforms panel: a Program (or why there is none) and the value it computes. */
export interface Pane {
  readonly name: string
  readonly title: string
  readonly program?: Program
  readonly value?: string
  readonly error?: string
}

const shapeOf = (t: Tensor) => t.aval.shape as readonly number[]

/** The tangents (and cotangents) the panes use: ones of each argument's shape and dtype. */
const onesLike = <T>(x: T): T => tree.treeMap(x as any, (t: Tensor) => ops.onesLike(t)) as T

/** A batch of three for vmap: each argument at 1, 2 and 3 times its value along a new leading axis. */
const batchOf = <T>(x: T): T => tree.treeMap(x as any, (t: Tensor) => ops.stack([t, ops.mul(t, 2), ops.mul(t, 3)])) as T

const leavesOf = (x: unknown): Tensor[] => tree.flatten(x)[0]

async function show(value: unknown): Promise<string> {
  const leaves = leavesOf(value)
  if (leaves.length === 1 && leaves[0] === value) return (value as Tensor).toString()
  const parts = await Promise.all(leaves.map(async (t) => t.toString()))
  return parts.join('\n')
}

async function pane(
  name: string,
  title: string,
  make: () => { program: Program; value: () => unknown },
): Promise<Pane> {
  try {
    const { program, value } = make()
    try {
      return { name, title, program, value: await show(value()) }
    } catch (e) {
      return { name, title, program, error: message(e) }
    }
  } catch (e) {
    return { name, title, error: message(e) }
  }
}

/**
 * The six panes: f; jvp(f) at tangents of ones; linearize(f), the linear
 * Program of the tangents alone; its transpose, at an output cotangent of
 * ones; grad(f) (for a scalar f); vmap(f) over a batch of three.
 */
export async function panes({ f, args }: UserFunction): Promise<Pane[]> {
  const tangents = onesLike(args)
  const primal = () => f(...args)
  return Promise.all([
    pane('f', 'f', () => ({ program: makeProgram(f)(...args), value: primal })),
    pane('jvp', 'jvp(f), tangents of ones', () => ({
      program: makeProgram((...xs: unknown[]) => jvp(f, xs.slice(0, args.length), xs.slice(args.length)))(
        ...args,
        ...tangents,
      ),
      value: () => jvp(f, args, tangents)[1],
    })),
    pane('linearize', 'linearize(f): the tangent map alone', () => {
      const [, lin] = linearize(f, ...args)
      return { program: lin.program, value: () => lin(...tangents) }
    }),
    pane('transpose', 'the transpose of the tangent map, at cotangents of ones', () => {
      const [y, lin] = linearize(f, ...args)
      const cts = leavesOf(onesLike(y))
      const transposed = (...c: Tensor[]) => transposeProgram(lin.program, c)
      return { program: makeProgram(transposed)(...cts), value: () => transposed(...cts) }
    }),
    pane('grad', 'grad(f), with respect to the first argument', () => {
      const y = primal() as Tensor
      if (!(y instanceof adjoint.Tensor) || shapeOf(y).length !== 0)
        throw new Error(
          `grad needs f to return a scalar; it returns ${y instanceof adjoint.Tensor ? `shape [${shapeOf(y)}]` : 'a tree'} (try ops.sum)`,
        )
      return { program: makeProgram(grad(f))(...args), value: () => grad(f)(...args) }
    }),
    pane('vmap', 'vmap(f) over a batch of 3 (the arguments × 1, 2, 3)', () => {
      const batch = batchOf(args)
      return { program: makeProgram(vmap(f))(...batch), value: () => vmap(f)(...batch) }
    }),
  ])
}

/** A primitive's two rules as the library applies them to one equation, printed as Programs. */
export interface Rule {
  readonly prim: string
  readonly equation: string
  readonly jvp?: string
  readonly transpose?: string
  readonly error?: string
}

/** Every equation of a Program, those of the Programs its equations hold (scan bodies, branches) included. */
export function equations(program: Program): Eqn[] {
  return program.eqns.flatMap((e) => [e, ...nested(e)])
}

const nested = (e: Eqn): Eqn[] =>
  Object.values(e.params as Record<string, unknown>)
    .flatMap((v) => (Array.isArray(v) ? v : [v]))
    .filter((v): v is Program => v instanceof Program)
    .flatMap(equations)

/**
 * The forward rule (the Program of jvp of this one equation, at its inputs'
 * shapes) and the reverse one (the Program of its pullback) of an equation's
 * primitive. Integer inputs are held at their values (no tangents).
 */
export function ruleOf(eqn: Eqn): Rule {
  const inputs = eqn.inputs.filter((a): a is Var => a instanceof Var)
  const single = new Program(inputs, [], [], [eqn], eqn.outputs)
  const equation = single.toString()
  const base = { prim: eqn.prim, equation }
  const isFloat = (v: Var) => v.aval.dtype === 'f32' || v.aval.dtype === 'f64'
  const examples = inputs.map((v) => ops.ones(v.aval.shape as number[], v.aval.dtype))
  const floats = inputs.map(isFloat)
  // The function of the float inputs, the others fixed at ones.
  const g = (...xs: Tensor[]) => {
    let k = 0
    const all = examples.map((x, i) => (floats[i] ? xs[k++] : x))
    const outs = evalProgram(single, all)
    return outs.length === 1 ? outs[0] : outs
  }
  const primals = examples.filter((_, i) => floats[i])
  if (primals.length === 0) return { ...base, error: `${eqn.prim} has no float inputs here, so no derivative` }
  try {
    const forward = makeProgram((...xs: Tensor[]) => jvp(g, xs.slice(0, primals.length), xs.slice(primals.length)))(
      ...primals,
      ...primals,
    )
    // The pullback traced with the primals as arguments, so that the residuals it uses show as equations.
    const n = primals.length
    const cts = leavesOf(g(...primals))
    const reverse = makeProgram((...xs: Tensor[]) => {
      const [, pullback] = vjp(g, ...xs.slice(0, n))
      const c = xs.slice(n)
      return pullback(c.length === 1 ? c[0] : c)
    })(...primals, ...cts)
    return { ...base, jvp: forward.toString(), transpose: reverse.toString() }
  } catch (e) {
    return { ...base, error: message(e) }
  }
}

export const message = (e: unknown): string => (e instanceof Error ? e.message : String(e))

const describe = (x: unknown): string =>
  x === undefined ? 'nothing' : Array.isArray(x) ? 'an array' : typeof x === 'function' ? 'a function' : typeof x
