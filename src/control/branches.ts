/**
 * Staging for the primitives that hold Programs: a function traced into a
 * closed Program (its captured values returned as extra leading operands),
 * and several functions of the same operands traced into branches that take
 * the same extra operands (the union of what each captured), as `cond`
 * needs.
 */
import { stage } from '../core/staging.ts'
import { closeProgram, Program, Var } from '../ir/program.ts'
import type { Aval, Tensor } from '../tensor.ts'

/** Stages `fn` as a closed Program; constants it captured come back as values for extra leading inputs. */
export function stageClosed(
  name: string,
  avals: readonly Aval[],
  fn: (inputs: Tensor[]) => Tensor[],
): { program: Program; extra: Tensor[] } {
  const { program } = stage(name, avals, (inputs) => ({ outputs: fn(inputs), result: null }))
  const closed = closeProgram(program)
  return { program: closed.program, extra: closed.consts }
}

/**
 * Stages each function over the same operand avals into closed branches
 * that all take [...extra, ...operands], `extra` being every branch's
 * captured values (a branch ignores the others').
 */
export function stageBranches(
  name: string,
  avals: readonly Aval[],
  fns: readonly ((inputs: Tensor[]) => Tensor[])[],
): { branches: Program[]; extra: Tensor[] } {
  const staged = fns.map((fn, i) => stageClosed(`${name} ${i}`, avals, fn))
  const extra = staged.flatMap((s) => s.extra)
  let at = 0
  const branches = staged.map(({ program, extra: own }) => {
    const before = at
    at += own.length
    const inputs = extra.map((x, j) =>
      j >= before && j < before + own.length ? program.inputs[j - before] : new Var(x.aval),
    )
    return new Program([...inputs, ...program.inputs.slice(own.length)], [], [], program.eqns, program.outputs)
  })
  return { branches, extra }
}
