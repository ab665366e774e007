/**
 * The trace stack and `bind`. Every operation on tensors ends in
 * `bind(primitive, inputs, params)`, which hands it to the innermost active
 * transform among the inputs (the trace with the highest level), after
 * lifting the other inputs into that trace. The bottom of the stack is the
 * evaluating trace, which runs the CPU reference kernels.
 */
import { type Aval, formatAval, Tensor } from '../tensor.ts'
import type { Params, Primitive } from './primitive.ts'
import { ruleOf } from './registry.ts'

/** One active transform on the trace stack: its level orders it among the others. */
export interface MainTrace {
  readonly level: number
  readonly name: string
  readonly make: (main: MainTrace) => Trace
  active: boolean
}

/** A transform's interpreter of the primitives; its tracers are the tensors it owns. */
export abstract class Trace {
  constructor(readonly main: MainTrace) {}
  /** Wraps a value from outside every trace. */
  abstract pure(x: Tensor): Tracer
  /** Wraps a tracer of a lower trace. */
  lift(x: Tensor): Tracer {
    return this.pure(x)
  }
  abstract process<P extends Primitive>(prim: P, inputs: readonly Tracer[], params: Params<P>): Tensor[]
}

export abstract class Tracer extends Tensor {
  abstract readonly trace: Trace
  dataSync(): never {
    throw new Error(
      `cannot read the values of a tensor ${formatAval(this.aval)} that is being traced by ${this.trace.main.name}; ` +
        `return it from the transformed function instead`,
    )
  }
  override toString(): string {
    return `Tracer<${this.trace.main.name}>(${formatAval(this.aval)})`
  }
}

class EvalTrace extends Trace {
  pure(): Tracer {
    throw new Error('the evaluating trace has no tracers')
  }
  process<P extends Primitive>(prim: P, inputs: readonly Tensor[], params: Params<P>): Tensor[] {
    const rule = ruleOf(prim)
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
  ruleOf(prim).abstractEval(inputs, params)
