/**
 * The interface a backend implements: compile a Program once, then run it
 * many times. The CPU interpreter implements it here; the WebGPU compiler in
 * `gpu/` implements it there (src/ never imports gpu/).
 */
import type { Program } from '../ir/program.ts'
import type { ConcreteTensor, Tensor } from '../tensor.ts'

export interface ExecutableStats {
  /** Kernel launches in the last call. */
  readonly dispatches: number
  /** Queue submissions in the last call. */
  readonly submissions: number
  /** Bytes copied back to the host in the last call. */
  readonly bytesRead: number
}

export interface Executable {
  readonly program: Program
  run(inputs: readonly Tensor[]): Promise<ConcreteTensor[]>
  stats(): ExecutableStats
}

export interface Backend {
  readonly name: string
  compile(program: Program): Executable
}
