/**
 * Staging for the primitives that hold Programs: a function traced into a
 * closed Program (its captured values returned as extra leading operands),
 * and several functions of the same operands traced into branches that take
 * the same extra operands (the union of what each captured), as `cond`
 * needs.
 */
import { moveAxis } from '../core/lax.ts'
import { evalProgram } from '../core/interpret.ts'
import { stage } from '../core/staging.ts'
import { fullRaise, withMain } from '../core/trace.ts'
import { BatchTrace, BatchTracer, moveBatchAxis } from '../batch/vmap.ts'
import { jvpFlat } from '../ad/jvp.ts'
import { transposeProgram } from '../ad/transpose.ts'
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

/**
 * `program` applied to inputs batched on axis 0 where `mask` says: its
 * outputs batched on axis 0, broadcast where the data flow leaves one
 * unbatched (or, with `keepUnbatched`, left as they are).
 */
export function evalBatched(
  program: Program,
  inputs: readonly Tensor[],
  mask: readonly boolean[],
  size: number,
  keepUnbatched = false,
): Tensor[] {
  return withMain(
    'vmap',
    (m) => new BatchTrace(m),
    (trace) => {
      const args = inputs.map((x, i) => (mask[i] ? new BatchTracer(trace as BatchTrace, x, 0) : x))
      return evalProgram(program, args).map((o) => {
        const y = fullRaise(trace, o) as BatchTracer
        return keepUnbatched && y.dim === null ? y.value : moveBatchAxis(y.value, y.dim, 0, size)
      })
    },
  )
}

/**
 * `program` batched: its inputs batched on axis 0 where `mask` says, every
 * output batched on axis 0 (broadcast where the data flow leaves it
 * unbatched), staged as a closed Program that takes [...extra, ...inputs].
 */
export function batchedProgram(
  name: string,
  program: Program,
  inputs: readonly Tensor[],
  mask: readonly boolean[],
  size: number,
): { program: Program; extra: Tensor[] } {
  return stageClosed(
    name,
    inputs.map((x) => x.aval),
    (ins) => evalBatched(program, ins, mask, size),
  )
}

/** The inputs of a batch rule with their batch axes at 0 (unbatched ones as they are), and which are batched. */
export function batchedInputs(
  inputs: readonly Tensor[],
  dims: readonly (number | null)[],
): {
  moved: Tensor[]
  mask: boolean[]
} {
  return {
    moved: inputs.map((x, i) => (dims[i] === null ? x : moveAxis(x, dims[i] as number, 0))),
    mask: dims.map((d) => d !== null),
  }
}

/**
 * The part of `program` that is linear in its inputs marked `linear`, the
 * others fixed at `residuals`: the program is evaluated by partial
 * evaluation, so what depends on the residuals alone runs now (a loop inside
 * splits into its known and unknown parts) and the linear rest is staged, a
 * Program that transposeProgram can transpose.
 */
export function linearPart(program: Program, linear: readonly boolean[], residuals: readonly Tensor[]): Program {
  const linearAvals = program.inputs.filter((_, i) => linear[i]).map((v) => v.aval)
  const { program: part } = stage('linear part', linearAvals, (ts) => {
    let r = 0
    let t = 0
    const all = linear.map((l) => (l ? ts[t++] : residuals[r++]))
    return { outputs: evalProgram(program, all), result: null }
  })
  return part
}

/**
 * jvp of `program` at `primals` with tangents for the inputs at `active`
 * alone (the others held constant): its outputs and their tangents.
 */
export function jvpOfProgram(
  program: Program,
  primals: readonly Tensor[],
  active: readonly number[],
  tangents: readonly Tensor[],
): [Tensor[], Tensor[]] {
  return jvpFlat(
    (moved) => {
      const all = [...primals]
      active.forEach((i, j) => (all[i] = moved[j]))
      return evalProgram(program, all)
    },
    active.map((i) => primals[i]),
    tangents,
  )
}

/**
 * The transpose of `program` in its inputs marked `linear` (the others fixed
 * at `residuals`) for the outputs marked `live`: the cotangents of the linear
 * inputs from those of the live outputs.
 */
export function transposeOf(
  program: Program,
  linear: readonly boolean[],
  live: readonly boolean[],
  residuals: readonly Tensor[],
  cts: readonly Tensor[],
): Tensor[] {
  const outputs = new Program(
    program.inputs,
    [],
    [],
    program.eqns,
    program.outputs.filter((_, i) => live[i]),
  )
  return transposeProgram(linearPart(outputs, linear, residuals), cts)
}
