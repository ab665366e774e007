/**
 * The IR: a Program is a list of equations over primitives, in SSA form.
 * It is pure data: nothing mutates a Program after it is built, and this
 * module knows nothing of tracing or of the primitives' rules. Transforms
 * turn functions into functions whose traced Programs can be printed
 * (`toString`, below), checked and interpreted (src/core/interpret.ts),
 * rewritten (src/passes) or compiled (the backends).
 */
import type { Params, Primitive } from '../core/primitive.ts'
import { type Aval, ConcreteTensor, formatAval, type Tensor } from '../tensor.ts'

/** A variable of a Program: an input or the output of an equation, with its shape and dtype. */
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

/** An operand of an equation: a variable or a literal constant. */
export type Atom = Var | Literal

/** One equation of a Program: a primitive applied to operands, with its parameters, binding its output variables. */
export interface Eqn<P extends Primitive = Primitive> {
  readonly prim: P
  readonly inputs: readonly Atom[]
  readonly params: Params<P>
  readonly outputs: readonly Var[]
}

/**
 * A traced computation: inputs, equations in order and outputs, the IR that the transforms,
 * passes and backends work on. `toString()` prints it.
 */
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

/** The Programs an equation holds in its parameters (the body of a scan). */
export const innerPrograms = (eqn: Eqn): Program[] =>
  Object.values(eqn.params as Record<string, unknown>)
    .flatMap((v) => (Array.isArray(v) ? v : [v]))
    .filter((v): v is Program => v instanceof Program)

/** A parameter's Programs under their names: `body`, or `branches[0]`, `branches[1]`, … for a list. */
const namedPrograms = ([k, v]: [string, unknown]): [string, Program][] =>
  v instanceof Program
    ? [[k, v]]
    : Array.isArray(v) && v.length > 0 && v.every((x) => x instanceof Program)
      ? v.map((x, i) => [`${k}[${i}]`, x as Program])
      : []

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

/*
 * The printer. A Program reads like this:
 *
 *   { lambda a:f32[3] ; b:f32[3] .
 *     let c:f32[3] = cos b
 *         d:f32[3] = mul c a
 *     in ( d ) }
 *
 * Constants (captured values) come before the `;`, arguments after it;
 * scalar constants are printed inline. A Program held by an equation (the
 * body of a scan) is printed under it, indented, with the same names:
 *
 *   let c:f64[] d:f64[4] = scan[length=4 reverse=false numConsts=0 numCarry=1] a b
 *         body={ lambda e:f64[] f:f64[] .
 *                let g:f64[] = add e f
 *                in ( g g ) }
 */
function names(): (v: Var) => string {
  const table = new Map<Var, string>()
  return (v) => {
    let name = table.get(v)
    if (name === undefined) {
      let n = table.size
      name = ''
      do {
        name = String.fromCharCode(97 + (n % 26)) + name
        n = Math.floor(n / 26) - 1
      } while (n >= 0)
      table.set(v, name)
    }
    return name
  }
}

const formatParam = (value: unknown): string => (Array.isArray(value) ? `[${value.join(',')}]` : String(value))

export function printProgram(program: Program): string {
  return programLines(program, names()).join('\n')
}

function programLines(program: Program, name: (v: Var) => string): string[] {
  const decl = (v: Var) => `${name(v)}:${formatAval(v.aval)}`
  const atom = (a: Atom): string => {
    if (a instanceof Literal) {
      const v = a.value instanceof ConcreteTensor ? a.value.values[0] : NaN
      return `${v}:${a.aval.dtype}`
    }
    return name(a)
  }
  const consts = program.constVars.map(decl).join(' ')
  const inputs = program.inputs.map(decl).join(' ')
  const eqns = program.eqns.map((e) => {
    const entries = Object.entries(e.params as Record<string, unknown>)
    const params = entries
      .filter((entry) => namedPrograms(entry).length === 0)
      .map(([k, v]) => `${k}=${formatParam(v)}`)
      .join(' ')
    const lhs = e.outputs.map(decl).join(' ')
    const line = `${lhs} = ${e.prim}${params ? `[${params}]` : ''} ${e.inputs.map(atom).join(' ')}`
    const inner = entries
      .flatMap(namedPrograms)
      .flatMap(([k, body]) =>
        programLines(body, name).map((l, i) => `  ${i === 0 ? `${k}=` : ' '.repeat(k.length + 1)}${l}`),
      )
    return [line, ...inner]
  })
  const head = `{ lambda ${consts ? `${consts} ; ` : ''}${inputs} .`
  const body = eqns.flatMap((lines, n) => lines.map((l, i) => `${n === 0 && i === 0 ? '  let ' : '      '}${l}`))
  return [head, ...body, `  in ( ${program.outputs.map(atom).join(' ')} ) }`]
}
