/**
 * The CPU reference interpreter: runs any Program on typed arrays, either in
 * the dtypes it was traced with or with every floating-point value in f64
 * (or f32). It is the oracle for the laws and the fallback backend.
 */
import { convert } from '../core/lax.ts'
import { bind } from '../core/trace.ts'
import { isFloat, type FloatDType } from '../dtype.ts'
import { Literal, type Atom, type Program, type Var } from '../ir/program.ts'
import { ConcreteTensor, formatAval, sameShape, type Tensor } from '../tensor.ts'

export interface RunOptions {
  /** Run every floating-point value in this precision instead of the traced one. */
  readonly precision?: FloatDType
}

export function runProgram(program: Program, inputs: readonly Tensor[], options: RunOptions = {}): ConcreteTensor[] {
  const { precision } = options
  const cast = (x: Tensor): Tensor => (precision !== undefined && isFloat(x.aval.dtype) ? convert(x, precision) : x)
  if (inputs.length !== program.inputs.length)
    throw new Error(`runProgram: the program takes ${program.inputs.length} inputs, got ${inputs.length}`)
  const env = new Map<Var, Tensor>()
  program.inputs.forEach((v, i) => {
    const x = inputs[i]
    if (!(x instanceof ConcreteTensor)) throw new Error(`runProgram: input ${i} must be a concrete tensor`)
    if (!sameShape(x.aval.shape, v.aval.shape) || (x.aval.dtype !== v.aval.dtype && !(isFloat(x.aval.dtype) && isFloat(v.aval.dtype))))
      throw new Error(`runProgram: input ${i} must be ${formatAval(v.aval)}, got ${formatAval(x.aval)}`)
    env.set(v, cast(x))
  })
  program.constVars.forEach((v, i) => env.set(v, cast(program.constValues[i])))
  const read = (a: Atom): Tensor => (a instanceof Literal ? cast(a.value) : (env.get(a) as Tensor))
  for (const eqn of program.eqns) {
    let params = eqn.params
    if (eqn.prim === 'convert' && precision !== undefined && isFloat((params as { dtype: 'f32' }).dtype)) params = { dtype: precision }
    const outs = bind(eqn.prim, eqn.inputs.map(read), params)
    eqn.outputs.forEach((v, i) => env.set(v, outs[i]))
  }
  return program.outputs.map((a) => {
    const y = read(a)
    if (!(y instanceof ConcreteTensor)) throw new Error('runProgram: must be called outside of transforms')
    return y
  })
}
