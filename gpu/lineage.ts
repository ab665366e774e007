/**
 * Lineage: how a device tensor's values can be had again without its device.
 *
 * A lost device takes every buffer with it, parameters included. So each
 * tensor a call returns remembers that call (the Program and its inputs), and
 * its values can be recomputed on the CPU from the inputs' values, which are
 * either host values or, recursively, other device tensors. To keep the
 * chains short (a training loop makes one link per step), the outputs of a
 * call whose chain has reached `checkpointEvery` links are copied back in the
 * same submission and, once the copy lands, the host copy replaces the chain.
 * Memory stays bounded whatever the caller keeps: each executable remembers
 * its last few calls only (four checkpoint intervals), and an older record
 * forgets its inputs.
 */
import type { Program } from '../src/ir/index.ts'
import { runProgram } from '../src/cpu/index.ts'
import type { ConcreteTensor, Tensor } from '../src/tensor.ts'

/** Outputs of a call whose chain reaches this many links are copied back (default of `RunOptions.checkpointEvery`). */
export const CHECKPOINT_EVERY = 16

export class CallRecord {
  private results: ConcreteTensor[] | null = null
  constructor(
    readonly program: Program,
    private inputs: readonly Tensor[] | null,
    /** Links to the nearest host values: 1 + the longest input chain. */
    readonly depth: number,
  ) {}

  /** Forgets the inputs: outputs not yet copied back can no longer be recomputed. */
  expire(): void {
    this.inputs = null
  }

  /** Output `index`, recomputed on the CPU (once for all outputs of the call). */
  recompute(index: number, host: (x: Tensor) => ConcreteTensor): ConcreteTensor {
    if (this.results === null) {
      if (this.inputs === null)
        throw new Error('it was computed too long ago to be recomputed (the call that made it is no longer remembered)')
      this.results = runProgram(this.program, this.inputs.map(host))
      this.inputs = null
    }
    return this.results[index]
  }
}

/** The last calls of one executable: remembering a new one forgets the oldest beyond `capacity`. */
export class RecentCalls {
  private readonly calls: CallRecord[] = []
  remember(call: CallRecord, capacity: number): void {
    this.calls.push(call)
    while (this.calls.length > capacity) this.calls.shift()?.expire()
  }
}
