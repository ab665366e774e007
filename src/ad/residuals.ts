/**
 * What reverse mode keeps from the forward pass: the residuals of the
 * linearized function (the constants of its linear Program), with their
 * sizes. `checkpoint` trades them for recomputation; this measures the
 * trade.
 */
import { formatAval, sizeOf, type Aval } from '../tensor.ts'
import { allocate } from '../dtype.ts'
import { flatten, unflatten } from '../tree.ts'
import { linearizeFlat } from './linearize.ts'

/** What the forward pass of a reverse-mode derivative keeps for the backward pass, as `savedResiduals` reports it. */
export interface SavedResiduals {
  /** Each residual: its shape and dtype, and its size in bytes. */
  readonly residuals: readonly { readonly aval: Aval; readonly text: string; readonly bytes: number }[]
  /** Their total size in bytes. */
  readonly bytes: number
}

/**
 * The values that grad or vjp of `f` at these arguments keeps from the
 * forward pass for the backward pass (JAX's `print_saved_residuals`, as data).
 */
export function savedResiduals(f: (...args: any[]) => unknown, ...args: unknown[]): SavedResiduals {
  const [leaves, def] = flatten(args, 'args')
  const { program } = linearizeFlat((xs) => flatten(f(...(unflatten(def, xs) as unknown[])), 'output')[0], leaves)
  const residuals = program.constValues.map((x) => ({
    aval: x.aval,
    text: formatAval(x.aval),
    // The bytes of the values as the CPU holds them (the typed array of the dtype).
    bytes: sizeOf(x.aval.shape) * allocate(x.aval.dtype, 0).BYTES_PER_ELEMENT,
  }))
  return { residuals, bytes: residuals.reduce((n, r) => n + r.bytes, 0) }
}
