/**
 * The base classes of the transforms: a `Trace` interprets the primitives
 * for one transform, a `Tracer` is a tensor owned by one. They live apart
 * from trace.ts (bind and the trace stack), which needs the rule table, so
 * that a transform's module can extend them whatever the order in which
 * modules load.
 */
import { Tensor, formatAval } from '../tensor.ts'
import type { Params, Primitive } from './primitive.ts'

export interface MainTrace {
  readonly level: number
  readonly name: string
  readonly make: (main: MainTrace) => Trace
  active: boolean
}

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
