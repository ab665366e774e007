/**
 * The trace stack and `bind`. Every operation on tensors ends in
 * `bind(primitive, inputs, params)`, which hands it to the innermost active
 * transform among the inputs (the trace with the highest level), after
 * lifting the other inputs into that trace. The bottom of the stack is the
 * evaluating trace, which runs the CPU reference kernels.
 */
import { Tensor, formatAval, type Aval } from '../tensor.ts'
import type { Params, Primitive } from './primitive.ts'
// Before the rules: a rule module may load a transform (scan's rules use jvp,
// vmap and staging), whose tracer classes extend these while this module is
// still loading.
import { Trace, Tracer, type MainTrace } from './tracer.ts'
import { rules } from '../primitives/index.ts'

export { Trace, Tracer, type MainTrace }

class EvalTrace extends Trace {
  pure(): Tracer {
    throw new Error('the evaluating trace has no tracers')
  }
  process<P extends Primitive>(prim: P, inputs: readonly Tensor[], params: Params<P>): Tensor[] {
    const rule = rules[prim]
    const outs = rule.abstractEval(
      inputs.map((x) => x.aval),
      params,
    )
    return rule.cpu(
      inputs.map((x) => x.toConcrete()),
      params,
      outs,
    )
  }
}

const evalMain: MainTrace = { level: 0, name: 'eval', make: (m) => new EvalTrace(m), active: true }
const stack: MainTrace[] = [evalMain]

/** Runs `body` with a new transform on top of the trace stack. */
export function withMain<T>(name: string, make: (main: MainTrace) => Trace, body: (trace: Trace) => T): T {
  const main: MainTrace = { level: stack.length, name, make, active: true }
  stack.push(main)
  try {
    return body(make(main))
  } finally {
    stack.pop()
    main.active = false
  }
}

function topTrace(inputs: readonly Tensor[]): Trace {
  let top = evalMain
  for (const x of inputs) {
    if (!(x instanceof Tracer)) continue
    const main = x.trace.main
    if (!main.active)
      throw new Error(
        `a tensor ${formatAval(x.aval)} traced by a finished ${main.name} was used after it returned ` +
          `(it escaped, e.g. through a closure or a global); pass it as an argument instead`,
      )
    if (main.level > top.level) top = main
  }
  return top.make(top)
}

export function fullRaise(trace: Trace, x: Tensor): Tracer | Tensor {
  if (!(x instanceof Tracer)) {
    if (trace.main === evalMain) return x
    return trace.pure(x)
  }
  const level = x.trace.main.level
  if (x.trace.main === trace.main) return x
  if (level < trace.main.level) return trace.lift(x)
  throw new Error(
    `cannot lift a tracer of ${x.trace.main.name} (level ${level}) into ${trace.main.name} (level ${trace.main.level})`,
  )
}

export function bind<P extends Primitive>(prim: P, inputs: readonly Tensor[], params: Params<P>): Tensor[] {
  for (const x of inputs)
    if (!(x instanceof Tensor))
      throw new TypeError(
        `${prim}: expected Tensor inputs, got ${typeof x === 'object' ? JSON.stringify(x) : String(x)}`,
      )
  const trace = topTrace(inputs)
  const raised = inputs.map((x) => fullRaise(trace, x))
  return trace.process(prim, raised as Tracer[], params)
}

export const bind1 = <P extends Primitive>(prim: P, inputs: readonly Tensor[], params: Params<P>): Tensor<any, any> =>
  bind(prim, inputs, params)[0]

/** Abstract evaluation of one primitive, used by staging transforms. */
export const abstractEval = <P extends Primitive>(prim: P, inputs: readonly Aval[], params: Params<P>): Aval[] =>
  rules[prim].abstractEval(inputs, params)
