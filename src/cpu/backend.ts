/** The CPU interpreter as a backend: the reference every other backend is compared with. */
import type { Backend, Executable } from '../core/backend.ts'
import type { Program } from '../ir/program.ts'
import { ConcreteTensor } from '../tensor.ts'
import { runProgram, type RunOptions } from './interpreter.ts'

export function cpuBackend(options: RunOptions = {}): Backend {
  return {
    name: options.precision === undefined ? 'cpu' : `cpu-${options.precision}`,
    compile(program: Program): Executable {
      return {
        program,
        async run(inputs) {
          const concrete = inputs.map((x, i) => {
            if (!(x instanceof ConcreteTensor)) throw new Error(`cpu backend: input ${i} must be a concrete tensor`)
            return x
          })
          return runProgram(program, concrete, options)
        },
        stats: () => ({ dispatches: 0, submissions: 0, bytesRead: 0 }),
      }
    },
  }
}
