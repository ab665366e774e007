/**
 * Vectorisation. A batch tracer carries a value and the axis that is mapped
 * over (or null where the value is the same for every batch element); each
 * primitive's `batch` rule computes the batched result and its batch axis.
 */
import type { BatchDim, Params, Primitive } from '../core/primitive.ts'
import { broadcast, moveAxis, reshape } from '../core/lax.ts'
import { bind, fullRaise, withMain } from '../core/trace.ts'
import { Trace, Tracer } from '../core/trace.ts'
import { ruleOf } from '../core/registry.ts'
import { formatAval, type Aval, type Tensor } from '../tensor.ts'

export class BatchTracer extends Tracer {
  readonly aval: Aval
  constructor(
    readonly trace: BatchTrace,
    readonly value: Tensor,
    readonly dim: BatchDim,
  ) {
    super()
    const shape = value.aval.shape
    this.aval = dim === null ? value.aval : { shape: shape.filter((_, i) => i !== dim), dtype: value.aval.dtype }
  }
}

export class BatchTrace extends Trace {
  pure(x: Tensor): BatchTracer {
    return new BatchTracer(this, x, null)
  }
  process<P extends Primitive>(prim: P, inputs: readonly BatchTracer[], params: Params<P>): Tensor[] {
    const values = inputs.map((x) => x.value)
    const dims = inputs.map((x) => x.dim)
    if (dims.every((d) => d === null)) return bind(prim, values, params).map((y) => this.pure(y))
    const [outs, outDims] = ruleOf(prim).batch(values, dims, params)
    return outs.map((y, i) => new BatchTracer(this, y, outDims[i]))
  }
}

/** Moves the batch axis of `x` to `to`, broadcasting an unbatched value. */
export function moveBatchAxis(x: Tensor, from: BatchDim, to: number, size: number): Tensor {
  if (from !== null) return moveAxis(x, from, to)
  const shape = [...x.aval.shape]
  shape.splice(to, 0, 1)
  const target = [...x.aval.shape]
  target.splice(to, 0, size)
  return broadcast(reshape(x, shape), target)
}

/** Maps `f` over axis `inAxes[i]` of each input (null: not mapped); outputs get the mapped axis at `outAxes[j]`. */
export function vmapFlat(
  f: (xs: Tensor[]) => Tensor[],
  inAxes: readonly BatchDim[],
  outAxes: readonly number[] | number,
  args: readonly Tensor[],
  describeInput: (i: number) => string = (i) => `input ${i}`,
): Tensor[] {
  let size: number | null = null
  let first = ''
  args.forEach((x, i) => {
    const a = inAxes[i]
    if (a === null) return
    if (!(Number.isInteger(a) && a >= 0 && a < x.ndim))
      throw new Error(`vmap: in_axes ${a} is out of range for ${describeInput(i)}, ${formatAval(x.aval)}`)
    const n = x.aval.shape[a]
    if (size === null) {
      size = n
      first = `${describeInput(i)} has size ${n} on axis ${a}`
    } else if (n !== size)
      throw new Error(
        `vmap: mapped axes must have one size: ${first}, but ${describeInput(i)} has size ${n} on axis ${a}`,
      )
  })
  if (size === null) throw new Error('vmap: no input is mapped (every in_axes entry is null); map at least one input')
  const batch = size
  return withMain(
    'vmap',
    (main) => new BatchTrace(main),
    (trace) => {
      const ins = args.map((x, i) => new BatchTracer(trace as BatchTrace, x, inAxes[i]))
      const outs = f(ins).map((o) => fullRaise(trace, o) as BatchTracer)
      return outs.map((o, j) => {
        const to = typeof outAxes === 'number' ? outAxes : outAxes[j]
        const axis = to < 0 ? to + o.value.ndim + (o.dim === null ? 1 : 0) : to
        return moveBatchAxis(o.value, o.dim, axis, batch)
      })
    },
  )
}
