/**
 * ONNX control flow as adjoint's: `If` as `cond` (or the one branch its
 * condition picks, where that is known), `Loop` as `scan` where its trip
 * count is known and its condition stays true, else as `whileLoop`.
 *
 * A Loop's body sees the iteration number, its condition (true whenever the
 * body runs, so known to be true inside it) and the carried values, and
 * returns the condition, the carried values and the scan outputs, stacked
 * on a new leading axis. A body that reads slices of an outer tensor by the
 * iteration number (Gather(x, i) on axis 0, or Gather(x, T − 1 − i)), as
 * exported scans do, gets those slices as the scan's xs, so that reverse
 * mode through the loop is backpropagation through time rather than a
 * scatter into x at every step.
 */
import { whileLoop, cond } from '../control/flow.ts'
import * as lax from '../core/lax.ts'
import { scan } from '../recurrent/scan.ts'
import { scalarOf, type Tensor } from '../tensor.ts'
import { type GraphProto, type NodeProto, TensorDataType, attributeValue } from './proto.ts'
import { type NodeContext, protoNumbers, type Rule, Value } from './import-values.ts'

const { BOOL, INT64 } = TensorDataType

/** Thrown inside a scan's body whose condition is not known to stay true: the loop is retried as a whileLoop. */
class ConditionNotConstant extends Error {}

const knownTrue = () => Value.known(BOOL, 'bool', [], [1])
const asScalar = (t: Tensor): Tensor => lax.reshape(t, [])

const ifRule: Rule = (cx, ins) => {
  const c = cx.input(ins, 0, 'cond')
  const branches = [cx.graph('else_branch'), cx.graph('then_branch')]
  if (c.known !== undefined) return cx.run(branches[c.known[0] !== 0 ? 1 : 0], [])
  let types: number[] = []
  const branch = (g: GraphProto) => () => {
    const outs = cx.run(g, [])
    types = outs.map((v) => v.type)
    return outs.map((v) => v.tensor)
  }
  const outs = cond(asScalar(lax.convert(c.tensor, 'bool')) as never, branch(branches[1]), branch(branches[0]))
  return outs.map((t, i) => Value.of(types[i], t))
}

/** The scalar that `name` holds inside `body`: a scalar Constant node of the body, or a known outer value. */
function scalarIn(cx: NodeContext, body: GraphProto, name: string): number | undefined {
  const node = body.node.find((n) => n.output.includes(name))
  if (node === undefined) {
    const v = cx.lookup(name)
    return v?.known?.length === 1 ? v.known[0] : undefined
  }
  if (node.opType !== 'Constant') return undefined
  const a = node.attribute.find((x) => x.name === 'value' || x.name === 'value_int')
  if (a === undefined) return undefined
  const v = attributeValue(a)
  if (typeof v === 'number') return v
  if (typeof v !== 'object' || !('dataType' in v)) return undefined
  const xs = protoNumbers(v)
  return xs.length === 1 ? xs[0] : undefined
}

/** The body's Gathers of outer tensors by the iteration number (or T − 1 − it), each with its tensor. */
function slicedByIteration(cx: NodeContext, body: GraphProto, trips: number) {
  const iteration = body.input[0]?.name ?? ''
  const inside = new Set([...body.input.map((v) => v.name), ...body.node.flatMap((n) => n.output)])
  const found = new Map<NodeProto, { value: Value; reverse: boolean }>()
  for (const node of body.node) {
    if (node.opType !== 'Gather' || node.domain !== '') continue
    const axis = node.attribute.find((a) => a.name === 'axis')
    if (axis !== undefined && attributeValue(axis) !== 0) continue
    const [data, index] = node.input
    const value = inside.has(data) ? undefined : cx.lookup(data)
    if (value === undefined || value.shape[0] !== trips) continue
    if (index === iteration) {
      found.set(node, { value, reverse: false })
      continue
    }
    const sub = body.node.find((n) => n.output.includes(index))
    if (sub?.opType === 'Sub' && sub.input[1] === iteration && scalarIn(cx, body, sub.input[0]) === trips - 1)
      found.set(node, { value, reverse: true })
  }
  return found
}

/** A Loop of a known trip count whose condition stays true, as a scan (with the iteration number carried). */
function loopAsScan(cx: NodeContext, body: GraphProto, trips: number, init: readonly Value[]): Value[] {
  const sliced = slicedByIteration(cx, body, trips)
  const xs = [...sliced.values()].map((s) => (s.reverse ? lax.rev(s.value.tensor, [0]) : s.value.tensor))
  const nCarry = init.length
  let types: number[] = []
  const step = ([i, ...carry]: Tensor[], slices: Tensor[]) => {
    const overrides = new Map([...sliced].map(([node, s], k) => [node, [Value.of(s.value.type, slices[k])]]))
    const outs = cx.run(
      body,
      [Value.of(INT64, i), knownTrue(), ...carry.map((t, k) => Value.of(init[k].type, t))],
      overrides,
    )
    const go = outs[0]
    if (go.known === undefined || go.known[0] === 0) throw new ConditionNotConstant()
    types = outs.slice(1).map((v) => v.type)
    const next = outs.slice(1, 1 + nCarry).map((v, k) => lax.convert(v.tensor, init[k].dtype))
    return [[lax.add(i, scalarOf(1, 'i32')), ...next], outs.slice(1 + nCarry).map((v) => v.tensor)] as const
  }
  const [carry, ys] = scan(step as never, [scalarOf(0, 'i32'), ...init.map((v) => v.tensor)], xs, {
    length: trips,
  }) as unknown as [Tensor[], Tensor[]]
  return [...carry.slice(1).map((t, k) => Value.of(types[k], t)), ...ys.map((t, k) => Value.of(types[nCarry + k], t))]
}

/** A Loop whose condition is computed from the data (or whose trip count is), as a whileLoop. */
function loopAsWhile(
  cx: NodeContext,
  body: GraphProto,
  trips: Value | undefined,
  first: Value | undefined,
  init: readonly Value[],
): Value[] {
  const known = trips?.known?.[0]
  // A known trip count past i32's range (INT64's maximum, say) is no limit.
  const bounded = trips !== undefined && (known === undefined || known < 2 ** 31)
  const limit = bounded ? asScalar(lax.convert(trips.tensor, 'i32')) : undefined
  const go0 = first === undefined ? scalarOf(1, 'bool') : asScalar(lax.convert(first.tensor, 'bool'))
  let types = init.map((v) => v.type)
  const out = whileLoop(
    ([i, go]: Tensor[]) =>
      (limit === undefined ? go : lax.select(go, lax.compare(i, limit, 'lt'), scalarOf(0, 'bool'))) as never,
    ([i, , ...carry]: Tensor[]) => {
      const outs = cx.run(body, [Value.of(INT64, i), knownTrue(), ...carry.map((t, k) => Value.of(init[k].type, t))])
      types = outs.slice(1).map((v) => v.type)
      return [
        lax.add(i, scalarOf(1, 'i32')),
        asScalar(lax.convert(outs[0].tensor, 'bool')),
        ...outs.slice(1).map((v, k) => lax.convert(v.tensor, init[k].dtype)),
      ]
    },
    [scalarOf(0, 'i32'), go0, ...init.map((v) => v.tensor)],
    bounded && known !== undefined ? { maxIterations: known } : {},
  )
  return out.slice(2).map((t, k) => Value.of(types[k], t))
}

const loopRule: Rule = (cx, ins) => {
  const body = cx.graph('body')
  const [trips, first] = [ins[0], ins[1]]
  const init = ins.slice(2).map((_, k) => cx.input(ins, k + 2, `the initial value of carried value ${k}`))
  const nScan = body.output.length - 1 - init.length
  if (body.input.length !== 2 + init.length)
    cx.fail(`the body takes ${body.input.length} inputs, expected 2 + ${init.length} carried values`)
  const goes = first === undefined ? true : first.known === undefined ? undefined : first.known[0] !== 0
  const count = trips === undefined ? undefined : trips.known?.[0]
  if (count !== undefined && goes !== undefined && count < 2 ** 31)
    try {
      return loopAsScan(cx, body, goes ? count : 0, init)
    } catch (e) {
      if (!(e instanceof ConditionNotConstant)) throw e
    }
  if (nScan > 0)
    cx.fail(
      'scan outputs of a Loop whose condition (or trip count) is computed from the data are not supported: ' +
        'their length is known only when the loop runs',
    )
  return loopAsWhile(cx, body, trips, first, init)
}

export const controlRules: Record<string, Rule> = { If: ifRule, Loop: loopRule }
