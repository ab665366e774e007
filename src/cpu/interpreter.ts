/**
 * The CPU reference interpreter: runs any Program on typed arrays, either in
 * the dtypes it was traced with or with every floating-point value in f64
 * (or f32). It is the oracle for the laws and the fallback backend.
 */
import { convert } from '../core/lax.ts'
import { bind } from '../core/trace.ts'
import { isFloat, type FloatDType } from '../dtype.ts'
import { Literal, Program, Var, type Atom, type Eqn } from '../ir/program.ts'
import { ConcreteTensor, formatAval, sameShape, type Tensor } from '../tensor.ts'
import { withIndexMode, type IndexMode } from '../primitives/gather.ts'

/** Options of `runProgram`: the precision to run in and what an index out of range does. */
export interface RunOptions {
  /** Run every floating-point value in this precision instead of the traced one. */
  readonly precision?: FloatDType
  /**
   * What an index out of range does: clamped in a gather and dropped in a
   * scatter, as in every compiled program (the default), or `raise`.
   */
  readonly indices?: IndexMode
}

/**
 * Runs a Program on concrete inputs with the CPU reference interpreter, equation by equation, and
 * returns its outputs.
 */
export function runProgram(program: Program, inputs: readonly Tensor[], options: RunOptions = {}): ConcreteTensor[] {
  return withIndexMode(options.indices ?? 'clamp', () => run(program, inputs, options.precision))
}

function run(program: Program, inputs: readonly Tensor[], precision: FloatDType | undefined): ConcreteTensor[] {
  const cast = (x: Tensor): Tensor => (precision !== undefined && isFloat(x.aval.dtype) ? convert(x, precision) : x)
  if (inputs.length !== program.inputs.length)
    throw new Error(`runProgram: the program takes ${program.inputs.length} inputs, got ${inputs.length}`)
  const env = new Map<Var, Tensor>()
  program.inputs.forEach((v, i) => {
    const x = inputs[i]
    if (!(x instanceof ConcreteTensor)) throw new Error(`runProgram: input ${i} must be a concrete tensor`)
    if (
      !sameShape(x.aval.shape, v.aval.shape) ||
      (x.aval.dtype !== v.aval.dtype && !(isFloat(x.aval.dtype) && isFloat(v.aval.dtype)))
    )
      throw new Error(`runProgram: input ${i} must be ${formatAval(v.aval)}, got ${formatAval(x.aval)}`)
    env.set(v, cast(x))
  })
  program.constVars.forEach((v, i) => env.set(v, cast(program.constValues[i])))
  const read = (a: Atom): Tensor => (a instanceof Literal ? cast(a.value) : (env.get(a) as Tensor))
  for (const eqn of program.eqns) {
    const params = precision === undefined ? eqn.params : paramsAt(eqn, precision)
    const outs = bind(eqn.prim, eqn.inputs.map(read), params)
    eqn.outputs.forEach((v, i) => env.set(v, outs[i]))
  }
  return program.outputs.map((a) => {
    const y = read(a)
    if (!(y instanceof ConcreteTensor)) throw new Error('runProgram: must be called outside of transforms')
    return y
  })
}

/** An equation's parameters for a run in `precision`: float conversions and the bodies it holds follow it. */
function paramsAt(eqn: Eqn, precision: FloatDType): Eqn['params'] {
  const entries = Object.entries(eqn.params as Record<string, unknown>)
  if (eqn.prim === 'convert' && isFloat((eqn.params as { dtype: 'f32' }).dtype)) return { dtype: precision }
  if (!entries.some(([, v]) => v instanceof Program)) return eqn.params
  return Object.fromEntries(
    entries.map(([k, v]) => [k, v instanceof Program ? programAt(v, precision) : v]),
  ) as Eqn['params']
}

const recast = new WeakMap<Program, Map<FloatDType, Program>>()

/** The Program with every floating-point variable, literal and constant in `precision` (a loop body run in f64, say). */
function programAt(program: Program, precision: FloatDType): Program {
  const cached = recast.get(program)?.get(precision)
  if (cached !== undefined) return cached
  const vars = new Map<Var, Var>()
  const v = (x: Var): Var => {
    let y = vars.get(x)
    if (y === undefined) {
      y = isFloat(x.aval.dtype) ? new Var({ shape: x.aval.shape, dtype: precision }) : x
      vars.set(x, y)
    }
    return y
  }
  const cast = (x: Tensor): Tensor => (isFloat(x.aval.dtype) ? convert(x, precision) : x)
  const atom = (a: Atom): Atom => (a instanceof Literal ? new Literal(cast(a.value)) : v(a))
  const out = new Program(
    program.inputs.map(v),
    program.constVars.map(v),
    program.constValues.map(cast),
    program.eqns.map((e) => ({
      prim: e.prim,
      inputs: e.inputs.map(atom),
      params: paramsAt(e, precision),
      outputs: e.outputs.map(v),
    })),
    program.outputs.map(atom),
  )
  const byPrecision = recast.get(program) ?? new Map<FloatDType, Program>()
  byPrecision.set(precision, out)
  recast.set(program, byPrecision)
  return out
}
