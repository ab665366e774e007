/**
 * A Program read as a function: `evalProgram` binds its equations one by one
 * (under a transform they are transformed; at top level they run on the
 * CPU), and `typecheck` checks each equation's declared outputs against the
 * abstract evaluation of its inputs.
 */
import { innerPrograms, Literal, type Atom, type Program, Var } from '../ir/program.ts'
import { formatAval, sameShape, type Tensor } from '../tensor.ts'
import { abstractEval, bind } from './trace.ts'

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
