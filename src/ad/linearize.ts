/**
 * linearize = jvp with known primals and unknown tangents, staged: the primal
 * computation runs now, the tangent computation is recorded as a linear
 * Program whose constants are the primal residuals. vjp = transpose of that
 * Program, so reverse mode needs no second set of derivative rules.
 */
import { stage, StagingTracer } from '../core/staging.ts'
import { evalProgram } from '../core/interpret.ts'
import type { Program } from '../ir/program.ts'
import type { Tensor } from '../tensor.ts'
import { jvpFlat } from './jvp.ts'
import { transposeProgram } from './transpose.ts'

export interface Linearized {
  readonly primalsOut: Tensor[]
  /** The linear map from input tangents to output tangents. */
  readonly program: Program
}

export function linearizeFlat(f: (xs: Tensor[]) => Tensor[], primals: readonly Tensor[]): Linearized {
  const { program, result } = stage(
    'linearize',
    primals.map((p) => p.aval),
    (tangents) => {
      const main = (tangents[0] as StagingTracer | undefined)?.trace.main
      const [primalsOut, tangentsOut] = jvpFlat(f, primals, tangents)
      for (const p of primalsOut)
        if (p instanceof StagingTracer && p.trace.main === main)
          throw new Error('linearize: a primal output depends on the tangents; this is a bug in a jvp rule')
      return { outputs: tangentsOut, result: primalsOut }
    },
  )
  return { primalsOut: result, program }
}

export const applyLinear = (program: Program, tangents: readonly Tensor[]): Tensor[] => evalProgram(program, tangents)

export function vjpFlat(
  f: (xs: Tensor[]) => Tensor[],
  primals: readonly Tensor[],
): [Tensor[], (cts: readonly Tensor[]) => Tensor[]] {
  const { primalsOut, program } = linearizeFlat(f, primals)
  return [primalsOut, (cts) => transposeProgram(program, cts)]
}
