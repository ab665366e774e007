/** The CPU interpreter as a backend: the reference every other backend is compared with. */
import { registerBackend, type Backend, type Executable } from '../core/backend.ts'
import type { Program } from '../ir/program.ts'
import { runProgram, type RunOptions } from './interpreter.ts'

/**
 * The CPU interpreter as a `Backend`: the fallback of `jit` where no device backend is available,
 * and the reference the others are compared with.
 */
export function cpuBackend(options: RunOptions = {}): Backend {
  return {
    name: options.precision === undefined ? 'cpu' : `cpu-${options.precision}`,
    compile(program: Program): Executable {
      return {
        program,
        kernels: program.eqns.length,
        async run(inputs) {
          return runProgram(
            program,
            inputs.map((x) => x.toConcrete()),
            options,
          )
        },
        stats: () => ({ dispatches: 0, submissions: 0, bytesRead: 0, bytesWritten: 0, bytesCheckpointed: 0 }),
      }
    },
  }
}

registerBackend('cpu', async () => cpuBackend(), 0)
