/**
 * The IR: a Program is a list of equations over primitives, in SSA form.
 * It is pure data: nothing mutates a Program after it is built. Transforms
 * turn functions into functions whose traced Programs can be printed
 * (`toString`), checked (`typecheck`), interpreted (`evalProgram`) or compiled.
 */
import type { Params, Primitive } from '../core/primitive.ts'
import { abstractEval, bind } from '../core/trace.ts'
import { rules } from '../primitives/index.ts'
import { ConcreteTensor, formatAval, sameShape, type Aval, type Tensor } from '../tensor.ts'
import { printProgram } from './pprint.ts'

export class Var {
  constructor(readonly aval: Aval) {}
}

/** A constant operand small enough to print inline (a scalar). */
export class Literal {
  constructor(readonly value: Tensor) {}
  get aval(): Aval {
    return this.value.aval
  }
}

export type Atom = Var | Literal

export interface Eqn<P extends Primitive = Primitive> {
  readonly prim: P
  readonly inputs: readonly Atom[]
  readonly params: Params<P>
  readonly outputs: readonly Var[]
}

export class Program {
  constructor(
    /** Arguments, in order. */
    readonly inputs: readonly Var[],
    /** Values captured from outside (weights, primal residuals), with the variables that name them. */
    readonly constVars: readonly Var[],
    readonly constValues: readonly Tensor[],
    readonly eqns: readonly Eqn[],
    readonly outputs: readonly Atom[],
  ) {
    Object.freeze(this)
  }
  toString(): string {
    return printProgram(this)
  }
  /** Number of equations per primitive, e.g. to see what a transform produced. */
  counts(): Partial<Record<Primitive, number>> {
    const out: Partial<Record<Primitive, number>> = {}
    for (const e of this.eqns) out[e.prim] = (out[e.prim] ?? 0) + 1
    return out
  }
}

/** Runs a Program by binding each equation: under a transform it is transformed, at top level it runs on the CPU. */
export function evalProgram(program: Program, args: readonly Tensor[]): Tensor[] {
  if (args.length !== program.inputs.length)
    throw new Error(`program expects ${program.inputs.length} inputs, got ${args.length}`)
  const env = new Map<Var, Tensor>()
  const read = (a: Atom): Tensor => {
    if (a instanceof Literal) return a.value
    const v = env.get(a)
    if (v === undefined) throw new Error('program reads a variable before it is defined')
    return v
  }
  program.constVars.forEach((v, i) => env.set(v, program.constValues[i]))
  program.inputs.forEach((v, i) => {
    const x = args[i]
    if (!sameShape(x.aval.shape, v.aval.shape) || x.aval.dtype !== v.aval.dtype)
      throw new Error(`program input ${i}: expected ${formatAval(v.aval)}, got ${formatAval(x.aval)}`)
    env.set(v, x)
  })
  for (const eqn of program.eqns) {
    const outs = bind(eqn.prim, eqn.inputs.map(read), eqn.params)
    eqn.outputs.forEach((v, i) => env.set(v, outs[i]))
  }
  return program.outputs.map(read)
}

/** Checks that every equation's declared outputs are what abstract evaluation of its inputs gives. */
export function typecheck(program: Program): void {
  const defined = new Set<Var>([...program.inputs, ...program.constVars])
  const check = (a: Atom) => {
    if (a instanceof Var && !defined.has(a)) throw new Error('typecheck: a variable is used before it is defined')
  }
  program.eqns.forEach((eqn, n) => {
    eqn.inputs.forEach(check)
    for (const inner of innerPrograms(eqn)) typecheck(inner)
    const avals = abstractEval(
      eqn.prim,
      eqn.inputs.map((a) => a.aval),
      eqn.params,
    )
    eqn.outputs.forEach((v, i) => {
      const a = avals[i]
      if (!sameShape(a.shape, v.aval.shape) || a.dtype !== v.aval.dtype)
        throw new Error(
          `typecheck: equation ${n} (${eqn.prim}) declares ${formatAval(v.aval)} but computes ${formatAval(a)}`,
        )
      defined.add(v)
    })
  })
  program.outputs.forEach(check)
}

/** The Programs an equation holds in its parameters (the body of a scan). */
export const innerPrograms = (eqn: Eqn): Program[] =>
  Object.values(eqn.params as Record<string, unknown>).filter((v): v is Program => v instanceof Program)

/**
 * Drops equations whose outputs are not used (all primitives are pure). An
 * equation that holds a Program is pruned inside by its primitive's `dce`
 * rule, given which of its outputs are used.
 */
export function deadCodeElimination(program: Program): Program {
  const live = new Set<Var>(program.outputs.filter((a): a is Var => a instanceof Var))
  const kept: Eqn[] = []
  for (let i = program.eqns.length - 1; i >= 0; i--) {
    let eqn = program.eqns[i]
    const used = eqn.outputs.map((v) => live.has(v))
    if (!used.some(Boolean)) continue
    const prune = rules[eqn.prim].dce as
      | ((
          params: unknown,
          used: readonly boolean[],
        ) => { params: unknown; keepInputs: boolean[]; keepOutputs: boolean[] } | null)
      | undefined
    const smaller = prune?.(eqn.params, used)
    if (smaller) {
      eqn = {
        prim: eqn.prim,
        params: smaller.params as Params<Primitive>,
        inputs: eqn.inputs.filter((_, k) => smaller.keepInputs[k]),
        outputs: eqn.outputs.filter((_, k) => smaller.keepOutputs[k]),
      }
    }
    kept.push(eqn)
    for (const a of eqn.inputs) if (a instanceof Var) live.add(a)
  }
  kept.reverse()
  const keep = program.constVars.map((v) => live.has(v))
  return new Program(
    program.inputs,
    program.constVars.filter((_, i) => keep[i]),
    program.constValues.filter((_, i) => keep[i]),
    kept,
    program.outputs,
  )
}

/**
 * Which outputs depend on the marked inputs, following the data flow (an
 * equation's outputs depend on all of its inputs). Marked constants count as
 * marked inputs too when `constsMarked` is given.
 */
export function dependsOn(
  program: Program,
  marked: readonly boolean[],
  constsMarked: readonly boolean[] = [],
): boolean[] {
  const reach = new Set<Var>()
  program.inputs.forEach((v, i) => marked[i] && reach.add(v))
  program.constVars.forEach((v, i) => constsMarked[i] && reach.add(v))
  for (const e of program.eqns)
    if (e.inputs.some((a) => a instanceof Var && reach.has(a))) for (const v of e.outputs) reach.add(v)
  return program.outputs.map((a) => a instanceof Var && reach.has(a))
}

/** The Program with its captured constants made leading inputs, and their values: a closed Program. */
export function closeProgram(program: Program): { program: Program; consts: Tensor[] } {
  if (program.constVars.length === 0) return { program, consts: [] }
  return {
    program: new Program([...program.constVars, ...program.inputs], [], [], program.eqns, program.outputs),
    consts: [...program.constValues],
  }
}

// A Program in the parameters is compared by identity: two bodies that print alike may wire their variables differently.
const programIds = new WeakMap<Program, number>()
let programCount = 0
const paramsKey = (params: unknown): string =>
  JSON.stringify(params, (_k, v) => {
    if (!(v instanceof Program)) return v
    let id = programIds.get(v)
    if (id === undefined) programIds.set(v, (id = ++programCount))
    return `program#${id}`
  })

/**
 * Merges equations that apply the same primitive with the same parameters to
 * the same inputs (all primitives are pure), so that a value computed twice
 * by the traced code (a loss evaluated beside its gradient, say) is computed
 * once.
 */
export function commonSubexpressions(program: Program): Program {
  const replace = new Map<Var, Var>()
  const ids = new Map<Var, number>()
  const id = (v: Var) => {
    let n = ids.get(v)
    if (n === undefined) ids.set(v, (n = ids.size))
    return n
  }
  // Small captured constants (the zeros and ones that rules create) are compared by value.
  const constKey = new Map<Var, string>()
  program.constVars.forEach((v, i) => {
    const x = program.constValues[i]
    if (x.size <= 64 && x instanceof ConcreteTensor)
      constKey.set(v, `c${formatAval(x.aval)}:${Array.from(x.values).join(',')}`)
  })
  const atom = (a: Atom): Atom => (a instanceof Var ? (replace.get(a) ?? a) : a)
  const key = (a: Atom) => {
    if (a instanceof Var) return constKey.get(a) ?? `v${id(a)}`
    const x = a.value.toConcrete()
    return `l${x.aval.dtype}:${x.values[0]}`
  }
  const seen = new Map<string, Eqn>()
  const eqns: Eqn[] = []
  for (const e of program.eqns) {
    const inputs = e.inputs.map(atom)
    const k = `${e.prim}|${paramsKey(e.params)}|${inputs.map(key).join(',')}`
    const same = seen.get(k)
    if (same !== undefined) {
      e.outputs.forEach((v, i) => replace.set(v, same.outputs[i]))
      continue
    }
    const kept = { ...e, inputs }
    seen.set(k, kept)
    eqns.push(kept)
  }
  return new Program(program.inputs, program.constVars, program.constValues, eqns, program.outputs.map(atom))
}
