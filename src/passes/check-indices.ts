/**
 * Index checks as part of the program, for `jit(f, { checkIndices: true })`:
 * the Program rewritten to return, after its own outputs, three i32 scalars
 * that say whether any gather or scatter-add read an index out of range
 * (how many did), one such index, and which equation it was. Being ordinary
 * equations (a comparison, a sum and a maximum per check), they run on
 * every backend; the caller raises when the count is not zero.
 *
 * The checks reach into loop bodies (a scan's or a whileLoop's body carries
 * the first failure found so far), both branches of a cond (the taken one
 * reports), and the primal function of a call (customJvp, customVjp,
 * checkpoint, jitCall, inlined). Where several fail, the first in program
 * order (and in a loop, the first step) is reported.
 */
import { add, broadcast, compare, reduceMax, select, sum } from '../core/lax.ts'
import type { Params } from '../core/primitive.ts'
import { stage } from '../core/staging.ts'
import { bind } from '../core/trace.ts'
import { closeProgram, innerPrograms, Literal, Program, Var, type Atom, type Eqn } from '../ir/program.ts'
import { evalProgram } from '../core/interpret.ts'
import { scalarOf, sizeOf, type Tensor } from '../tensor.ts'

/** A checked gather or scatter-add: what the error names. */
export interface IndexCheck {
  readonly prim: 'gather' | 'scatterAdd'
  readonly axis: number
  readonly size: number
}

/** How many indices were out of range, one of them, and the check it failed (an index into `checks`). */
type Failure = readonly [count: Tensor, value: Tensor, check: Tensor]

const i32 = (v: number) => scalarOf(v, 'i32')
const none = (): Failure => [i32(0), i32(0), i32(0)]

/** The first of two failures in program order: a's where a has one. */
function first(a: Failure, b: Failure): Failure {
  const inA = compare(a[0], i32(0), 'gt')
  return [add(a[0], b[0]), select(inA, a[1], b[1]), select(inA, a[2], b[2])]
}

const usesIndices = (program: Program): boolean =>
  program.eqns.some((e) => e.prim === 'gather' || e.prim === 'scatterAdd' || innerPrograms(e).some(usesIndices))

/** The program with its index checks as three more outputs, or null when it reads no index. */
export function withIndexChecks(program: Program): { program: Program; checks: IndexCheck[] } | null {
  if (!usesIndices(program)) return null
  const checks: IndexCheck[] = []
  const { program: checked } = stage(
    'checkIndices',
    program.inputs.map((v) => v.aval),
    (inputs) => {
      const { outputs, failure } = evalChecked(program, inputs, checks)
      return { outputs: [...outputs, ...failure], result: null }
    },
  )
  return { program: checked, checks }
}

/** `program` applied to `args` (binding each equation under the staging trace), with its failure. */
function evalChecked(
  program: Program,
  args: readonly Tensor[],
  checks: IndexCheck[],
): { outputs: Tensor[]; failure: Failure } {
  const env = new Map<Var, Tensor>()
  const read = (a: Atom): Tensor => (a instanceof Literal ? a.value : (env.get(a) as Tensor))
  program.constVars.forEach((v, i) => env.set(v, program.constValues[i]))
  program.inputs.forEach((v, i) => env.set(v, args[i]))
  let failure = none()
  for (const eqn of program.eqns) {
    const inputs = eqn.inputs.map(read)
    const { outputs, failure: own } = checkedEqn(eqn, inputs, checks)
    if (own !== null) failure = first(failure, own)
    eqn.outputs.forEach((v, i) => env.set(v, outputs[i]))
  }
  return { outputs: program.outputs.map(read), failure }
}

/** A Program staged from `fn` and closed: its captured values come first among its inputs, as `extra`. */
function closedProgram(name: string, program: Program, extraAvals: number, fn: (inputs: Tensor[]) => Tensor[]) {
  const avals = [
    ...program.inputs.map((v) => v.aval),
    ...Array.from({ length: extraAvals }, () => ({ shape: [], dtype: 'i32' as const })),
  ]
  const { program: staged } = stage(name, avals, (inputs) => ({ outputs: fn(inputs), result: null }))
  const closed = closeProgram(staged)
  return { program: closed.program, extra: closed.consts }
}

function checkedEqn(
  eqn: Eqn,
  inputs: readonly Tensor[],
  checks: IndexCheck[],
): { outputs: Tensor[]; failure: Failure | null } {
  const plain = () => ({ outputs: bind(eqn.prim, inputs, eqn.params), failure: null })
  switch (eqn.prim) {
    case 'gather':
    case 'scatterAdd': {
      const { axis } = eqn.params as Params<'gather'>
      const [x, indices] = inputs
      const size = x.aval.shape[axis]
      if (sizeOf(indices.aval.shape) === 0) return plain()
      checks.push({ prim: eqn.prim, axis, size })
      const shape = indices.aval.shape
      const all = shape.map((_, i) => i)
      const full = (v: number) => broadcast(i32(v), shape)
      const below = compare(indices, full(0), 'lt')
      const above = compare(indices, full(size), 'ge')
      const count = sum(select(below, full(1), select(above, full(1), full(0))), all)
      // The largest index past the end where there is one, else the negative index nearest 0.
      const past = reduceMax(select(above, indices, full(-1)), all)
      const negative = reduceMax(select(below, indices, full(-(2 ** 31))), all)
      const value = select(compare(past, i32(size), 'ge'), past, negative)
      return { outputs: bind(eqn.prim, inputs, eqn.params), failure: [count, value, i32(checks.length - 1)] }
    }
    case 'jitCall':
    case 'checkpoint': {
      const { fun } = eqn.params as Params<'jitCall'>
      const { outputs, failure } = evalChecked(fun, inputs, checks)
      return { outputs, failure }
    }
    case 'customJvp': {
      const { fun, funConsts, ruleConsts } = eqn.params as Params<'customJvp'>
      const args = [...inputs.slice(0, funConsts), ...inputs.slice(funConsts + ruleConsts)]
      return evalChecked(fun, args, checks)
    }
    case 'customVjp': {
      const { fun, funConsts, fwdConsts, bwdConsts } = eqn.params as Params<'customVjp'>
      const args = [...inputs.slice(0, funConsts), ...inputs.slice(funConsts + fwdConsts + bwdConsts)]
      return evalChecked(fun, args, checks)
    }
    case 'scan': {
      const p = eqn.params as Params<'scan'>
      if (!usesIndices(p.body)) return plain()
      const { numConsts, numCarry } = p
      // The body's carry grows by the failure so far; the first found (the earliest step's) is kept.
      const split = numConsts + numCarry
      const { program: body, extra } = closedProgram('checked body', p.body, 3, (ins) => {
        const n = p.body.inputs.length
        const bodyArgs = ins.slice(0, n)
        const so = ins.slice(n) as unknown as Failure
        const { outputs, failure } = evalChecked(p.body, bodyArgs, checks)
        return [...outputs.slice(0, numCarry), ...first(so, failure), ...outputs.slice(numCarry)]
      })
      // closedProgram appended the failure after x; the body reads [...extra, ...consts, ...carry, ...x, ...f].
      const reordered = moveInputs(body, extra.length + split, p.body.inputs.length - split, 3)
      const outs = bind('scan', [...extra, ...inputs.slice(0, split), ...none(), ...inputs.slice(split)], {
        ...p,
        numConsts: extra.length + numConsts,
        numCarry: numCarry + 3,
        body: reordered,
      })
      return {
        outputs: [...outs.slice(0, numCarry), ...outs.slice(numCarry + 3)],
        failure: outs.slice(numCarry, numCarry + 3) as unknown as Failure,
      }
    }
    case 'whileLoop': {
      const p = eqn.params as Params<'whileLoop'>
      if (!usesIndices(p.body)) return plain()
      const { condConsts, bodyConsts } = p
      const body = closedProgram('checked body', p.body, 3, (ins) => {
        const n = p.body.inputs.length
        const { outputs, failure } = evalChecked(p.body, ins.slice(0, n), checks)
        return [...outputs, ...first(ins.slice(n) as unknown as Failure, failure)]
      })
      const cond = closedProgram('checked cond', p.cond, 3, (ins) =>
        evalProgram(p.cond, ins.slice(0, p.cond.inputs.length)),
      )
      const outs = bind(
        'whileLoop',
        [
          ...cond.extra,
          ...inputs.slice(0, condConsts),
          ...body.extra,
          ...inputs.slice(condConsts, condConsts + bodyConsts),
          ...inputs.slice(condConsts + bodyConsts),
          ...none(),
        ],
        {
          ...p,
          cond: cond.program,
          body: body.program,
          condConsts: cond.extra.length + condConsts,
          bodyConsts: body.extra.length + bodyConsts,
        },
      )
      const n = outs.length - 3
      return { outputs: outs.slice(0, n), failure: outs.slice(n) as unknown as Failure }
    }
    case 'cond': {
      const p = eqn.params as Params<'cond'>
      if (!p.branches.some(usesIndices)) return plain()
      const staged = p.branches.map((branch) =>
        closedProgram('checked branch', branch, 0, (ins) => {
          const { outputs, failure } = evalChecked(branch, ins, checks)
          return [...outputs, ...failure]
        }),
      )
      // Every branch takes every branch's captured values, then the operands.
      const extra = staged.flatMap((s) => s.extra)
      let at = 0
      const branches = staged.map(({ program, extra: own }) => {
        const before = at
        at += own.length
        return padInputs(program, own.length, extra.slice(0, before), extra.slice(at))
      })
      const [index, ...operands] = inputs
      const outs = bind('cond', [index, ...extra, ...operands], { branches })
      const n = outs.length - 3
      return { outputs: outs.slice(0, n), failure: outs.slice(n) as unknown as Failure }
    }
    default:
      return plain()
  }
}

/** `program` with its inputs [...a (at), ...b (n), ...c (m)] read in the order [...a, ...c, ...b]. */
function moveInputs(program: Program, at: number, n: number, m: number): Program {
  const ins = program.inputs
  const order = [...ins.slice(0, at), ...ins.slice(at + n, at + n + m), ...ins.slice(at, at + n)]
  return new Program(order, [], [], program.eqns, program.outputs)
}

/** `program` taking `before` unused inputs first and `after` after its own captured ones (the other branches'). */
function padInputs(program: Program, own: number, before: readonly Tensor[], after: readonly Tensor[]): Program {
  const unused = (xs: readonly Tensor[]) => xs.map((x) => new Var(x.aval))
  const ins = program.inputs
  return new Program(
    [...unused(before), ...ins.slice(0, own), ...unused(after), ...ins.slice(own)],
    [],
    [],
    program.eqns,
    program.outputs,
  )
}
