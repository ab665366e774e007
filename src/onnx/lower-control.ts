/**
 * Control flow as ONNX control flow: cond as nested `If`s, whileLoop and
 * scan as `Loop`s whose bodies are the Programs lowered as subgraphs, outer
 * values read from the enclosing scope.
 */
import type { Aval } from '../tensor.ts'
import { attr } from './proto.ts'
import { type Graph, type Rule, valueInfo } from './graph.ts'

// ---------------------------------------------------------------- control flow

/** Typed graph inputs for the avals, named freshly. */
export const graphInputs = (g: Graph, hint: string, avals: readonly Aval[]) =>
  avals.map((a, i) => valueInfo(g.names.fresh(`${hint}${i}`), a))

export const condRule: Rule<'cond'> = (l, [index, ...operands], eqn) => {
  const { branches } = eqn.params
  const avals = eqn.outputs.map((o) => o.aval)
  const branchGraph = (b: number) =>
    l.subgraph(`branch${b}`, (g) => ({ inputs: [], outputs: l.program(g, branches[b], operands), avals }))
  // Branch k where the clamped index is k: if i ≤ 0 then 0 else if i ≤ 1 then 1 … else n − 1.
  const chain = (g: Graph, k: number): string[] => {
    if (k === branches.length - 1) return l.program(g, branches[k], operands)
    const test = g.op1('LessOrEqual', [index, g.scalar('i32', k)])
    return g.op(
      'If',
      [test],
      [
        attr.graph('then_branch', branchGraph(k)),
        attr.graph(
          'else_branch',
          l.subgraph(`else${k}`, (h) => ({ inputs: [], outputs: chain(h, k + 1), avals })),
        ),
      ],
      avals.length,
    )
  }
  return chain(l.g, 0)
}

export const whileRule: Rule<'whileLoop'> = (l, ins, eqn) => {
  const { cond, body, condConsts, bodyConsts, maxIterations } = eqn.params
  const cc = ins.slice(0, condConsts)
  const bc = ins.slice(condConsts, condConsts + bodyConsts)
  const init = ins.slice(condConsts + bodyConsts)
  const avals = eqn.outputs.map((o) => o.aval)
  const first = l.program(l.g, cond, [...cc, ...init])[0]
  const loopBody = l.subgraph('while_body', (g) => {
    const iterInfo = valueInfo(g.names.fresh('iteration'), { shape: [], dtype: 'i64' })
    const goIn = valueInfo(g.names.fresh('go'), { shape: [], dtype: 'bool' })
    const carry = graphInputs(g, 'carry', avals)
    const next = l.program(g, body, [...bc, ...carry.map((c) => c.name)])
    const go = l.program(g, cond, [...cc, ...next])[0]
    return {
      inputs: [iterInfo, goIn, ...carry],
      outputs: [go, ...next],
      avals: [{ shape: [], dtype: 'bool' }, ...avals],
    }
  })
  const trips = maxIterations === null ? '' : l.g.scalar('i64', maxIterations)
  return l.g.op('Loop', [trips, first, ...init], [attr.graph('body', loopBody)], avals.length)
}

export const scanRule: Rule<'scan'> = (l, ins, eqn) => {
  const { length, reverse, numConsts, numCarry, body } = eqn.params
  const consts = ins.slice(0, numConsts)
  const init = ins.slice(numConsts, numConsts + numCarry)
  const xs = ins.slice(numConsts + numCarry)
  const carryAvals = eqn.outputs.slice(0, numCarry).map((o) => o.aval)
  const yAvals = body.outputs.slice(numCarry).map((o) => o.aval)
  const loopBody = l.subgraph('scan_body', (g) => {
    const iterInfo = valueInfo(g.names.fresh('step'), { shape: [], dtype: 'i64' })
    const goIn = valueInfo(g.names.fresh('go'), { shape: [], dtype: 'bool' })
    const carry = graphInputs(g, 'carry', carryAvals)
    const t = reverse ? g.op1('Sub', [g.scalar('i64', length - 1), iterInfo.name]) : iterInfo.name
    const slices = xs.map((x) => g.op1('Gather', [x, t], [attr.int('axis', 0)]))
    const outs = l.program(g, body, [...consts, ...carry.map((c) => c.name), ...slices])
    const go = g.op1('Identity', [goIn.name])
    return {
      inputs: [iterInfo, goIn, ...carry],
      outputs: [go, ...outs],
      avals: [{ shape: [], dtype: 'bool' }, ...carryAvals, ...yAvals],
    }
  })
  const g = l.g
  const results = g.op(
    'Loop',
    [g.scalar('i64', length), g.constant('bool', [], [1]), ...init],
    [attr.graph('body', loopBody)],
    numCarry + yAvals.length,
  )
  const ys = results.slice(numCarry).map((y, j) => {
    if (length === 0) return g.constant(yAvals[j].dtype, [0, ...yAvals[j].shape], [])
    return reverse ? g.op1('Slice', [y, g.i64([-1]), g.i64([-(2 ** 53)]), g.i64([0]), g.i64([-1])]) : y
  })
  return [...results.slice(0, numCarry), ...ys]
}
