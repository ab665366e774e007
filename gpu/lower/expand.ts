/**
 * Control flow rewritten into what the lowering compiles, before it runs:
 *
 * - a `cond` inside a loop body or a branch becomes every branch inlined and
 *   each output selected by the (clamped) index: the same values, in the
 *   same one submission, but every branch is computed (a top-level cond is
 *   kept: branches.ts dispatches only the branch its index names);
 * - a `whileLoop` with `maxIterations` inside a loop body or a branch
 *   becomes a `scan` of that many steps whose carry is kept once the
 *   predicate fails (select(pred, body(c), c)): the same values, one
 *   submission, every step computed (a top-level one is kept: branches.ts
 *   gates its steps). Without a bound the loop is left for the lowering to
 *   refuse (the CPU runs it).
 *
 * Calls (customJvp, customVjp, checkpoint) are inlined first
 * (src/passes/inline-calls.ts). Inside scan bodies the same rewrites apply.
 */
import type { Params, PrimitiveRule } from '../../src/core/index.ts'
import { rules } from '../../src/index.ts'
import { type Atom, type Eqn, Literal, Program, Var } from '../../src/ir/index.ts'
import { inlineCalls, inlineProgram as inlineInto } from '../../src/passes/index.ts'
import { scalarOf } from '../../src/tensor.ts'

const i32 = (v: number) => new Literal(scalarOf(v, 'i32'))

/** Appends `program`'s equations with its inputs bound to `inputs` and fresh variables; its outputs' atoms. */
const inlineProgram = (program: Program, inputs: readonly Atom[], out: Eqn[]): Atom[] =>
  inlineInto(program, inputs, (e) => out.push(e))

/** Emits `prim` and returns its one output, of the aval the primitive's rule gives. */
function emit<P extends Eqn['prim']>(out: Eqn[], prim: P, inputs: readonly Atom[], params: Params<P>): Var {
  const [aval] = (rules[prim] as PrimitiveRule<P>).abstractEval(
    inputs.map((a) => a.aval),
    params,
  )
  const v = new Var(aval)
  out.push({ prim, inputs, params, outputs: [v] } as Eqn)
  return v
}

/** select(pred, a, b) for a scalar bool pred, broadcast to a's shape. */
function selectScalar(out: Eqn[], pred: Atom, a: Atom, b: Atom): Atom {
  const shape = a.aval.shape
  const mask = shape.length === 0 ? pred : emit(out, 'broadcast', [pred], { shape })
  return emit(out, 'select', [mask, a, b], {})
}

function expandCond(eqn: Eqn<'cond'>, out: Eqn[]): Atom[] {
  const [index, ...operands] = eqn.inputs
  const { branches } = eqn.params
  const results = branches.map((b) => inlineProgram(expandControl(b, true), operands, out))
  if (branches.length === 1) return results[0]
  // The index clamped to [0, n − 1]: −max(−max(i, 0), −(n − 1)).
  const lo = emit(out, 'max', [index, i32(0)], {})
  const negLo = emit(out, 'neg', [lo], {})
  const capped = emit(out, 'max', [negLo, i32(-(branches.length - 1))], {})
  const clamped = emit(out, 'neg', [capped], {})
  return results[0].map((_, j) => {
    let result = results[0][j]
    for (let b = 1; b < branches.length; b++) {
      const hit = emit(out, 'compare', [clamped, i32(b)], { op: 'eq' })
      result = selectScalar(out, hit, results[b][j], result)
    }
    return result
  })
}

function expandWhile(eqn: Eqn<'whileLoop'>, out: Eqn[]): Atom[] | null {
  const p = eqn.params
  if (p.maxIterations === null) return null
  const carry = eqn.inputs.slice(p.condConsts + p.bodyConsts)
  if (p.maxIterations === 0) return carry
  const consts = eqn.inputs.slice(0, p.condConsts + p.bodyConsts)
  const constVars = consts.map((a) => new Var(a.aval))
  const carryVars = carry.map((a) => new Var(a.aval))
  const body: Eqn[] = []
  const [pred] = inlineProgram(expandControl(p.cond, true), [...constVars.slice(0, p.condConsts), ...carryVars], body)
  const next = inlineProgram(expandControl(p.body, true), [...constVars.slice(p.condConsts), ...carryVars], body)
  const kept = next.map((n, k) => selectScalar(body, pred, n, carryVars[k]))
  const outputs = carry.map((a) => new Var(a.aval))
  out.push({
    prim: 'scan',
    inputs: [...consts, ...carry],
    params: {
      length: p.maxIterations,
      reverse: false,
      numConsts: consts.length,
      numCarry: carry.length,
      body: new Program([...constVars, ...carryVars], [], [], body, kept),
    },
    outputs,
  } as Eqn)
  return outputs
}

/**
 * The Program with its calls inlined and its bounded whileLoops made scans;
 * its conds are selected where `nested` (inside a loop or a branch), and at
 * the top level kept for the lowering to dispatch indirectly, their branches
 * expanded.
 */
export function expandControl(program: Program, nested = false): Program {
  const inlined = inlineCalls(program)
  const rename = new Map<Var, Atom>()
  const at = (a: Atom): Atom => (a instanceof Var ? (rename.get(a) ?? a) : a)
  const eqns: Eqn[] = []
  let changed = inlined !== program
  for (const original of inlined.eqns) {
    const eqn = { ...original, inputs: original.inputs.map(at) } as Eqn
    let replaced: Atom[] | null = null
    if (eqn.prim === 'cond' && !nested) {
      const { branches } = eqn.params as Params<'cond'>
      eqns.push({ ...eqn, params: { branches: branches.map((b) => expandControl(b, true)) } } as Eqn)
      changed = true
      continue
    }
    if (eqn.prim === 'cond') replaced = expandCond(eqn as Eqn<'cond'>, eqns)
    else if (eqn.prim === 'whileLoop' && nested) replaced = expandWhile(eqn as Eqn<'whileLoop'>, eqns)
    else if (eqn.prim === 'scan') {
      const params = eqn.params as Params<'scan'>
      const body = expandControl(params.body, true)
      changed ||= body !== params.body
      eqns.push({ ...eqn, params: { ...params, body } } as Eqn)
      continue
    }
    if (replaced === null) {
      changed ||= eqn.inputs.some((a, i) => a !== original.inputs[i])
      eqns.push(eqn)
      continue
    }
    changed = true
    eqn.outputs.forEach((v, i) => rename.set(v, (replaced as Atom[])[i]))
  }
  if (!changed) return program
  return new Program(inlined.inputs, inlined.constVars, inlined.constValues, eqns, inlined.outputs.map(at))
}
