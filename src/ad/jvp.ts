/**
 * Forward mode. A JVP tracer carries a primal and a tangent; each primitive's
 * `jvp` rule maps input (primal, tangent) pairs to output pairs. Values from
 * outside the transform enter with a zero tangent.
 */
import type { Params, Primitive } from '../core/primitive.ts'
import { fullRaise, withMain } from '../core/trace.ts'
import { Trace, Tracer } from '../core/trace.ts'
import { ruleOf } from '../core/registry.ts'
import { zerosLike, type Aval, type Tensor } from '../tensor.ts'

export class JvpTracer extends Tracer {
  readonly aval: Aval
  constructor(
    readonly trace: JvpTrace,
    readonly primal: Tensor,
    readonly tangent: Tensor,
  ) {
    super()
    this.aval = primal.aval
  }
}

export class JvpTrace extends Trace {
  pure(x: Tensor): JvpTracer {
    return new JvpTracer(this, x, zerosLike(x))
  }
  process<P extends Primitive>(prim: P, inputs: readonly JvpTracer[], params: Params<P>): Tensor[] {
    const [primals, tangents] = ruleOf(prim).jvp(
      inputs.map((x) => x.primal),
      inputs.map((x) => x.tangent),
      params,
    )
    return primals.map((p, i) => new JvpTracer(this, p, tangents[i]))
  }
}

/** Pushes tangents through `f` on flat lists of tensors. */
export function jvpFlat(
  f: (xs: Tensor[]) => Tensor[],
  primals: readonly Tensor[],
  tangents: readonly Tensor[],
): [Tensor[], Tensor[]] {
  return withMain(
    'jvp',
    (main) => new JvpTrace(main),
    (trace) => {
      const ins = primals.map((p, i) => new JvpTracer(trace as JvpTrace, p, tangents[i]))
      const outs = f(ins).map((o) => fullRaise(trace, o) as JvpTracer)
      return [outs.map((o) => o.primal), outs.map((o) => o.tangent)]
    },
  )
}
