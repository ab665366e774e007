/**
 * Lowering: Program → kernels, for the WebGPU backend.
 *
 * Only a few values need a kernel and a buffer of their own (roots: what the
 * heavy primitives compute, the outputs, what a matmul or a loop must read
 * from memory); everything else is inlined into the kernels that read it.
 * The stages: analyse.ts finds the roots, inline.ts builds each root's
 * kernel through the per-primitive rules (rules.ts), reductions.ts splits
 * reductions, loops.ts lowers scans with their bodies, outputs.ts binds the
 * outputs, epilogues.ts fuses elementwise kernels into their producers,
 * stores.ts makes the maps that read a product further outputs of its
 * kernel, concats.ts writes concatenations in place, and program.ts runs
 * them over one Program. Here: the attempts, each making more
 * values roots until no kernel binds more buffers than the adapter allows.
 */
import { type Program, innerPrograms } from '../../src/ir/index.ts'
import { expandControl } from './expand.ts'
import { ExprBuilder, type LoweredProgram, bindingCount } from '../kernel.ts'
import { lowerProgram } from './program.ts'
import type { Analysis, LowerOptions, Lowering } from './state.ts'

export type { LowerOptions } from './state.ts'

export function lower(called: Program, options: LowerOptions): LoweredProgram {
  const program = expandControl(called)
  const analyses = new Map<Program, Analysis>()
  const eqnCount = (p: Program): number =>
    p.eqns.reduce((n, e) => n + 1 + innerPrograms(e).reduce((m, q) => m + eqnCount(q), 0), 0)
  // Split kernels that would bind more buffers than the adapter allows.
  for (let attempt = 0; ; attempt++) {
    const state: Lowering = {
      options,
      analyses,
      buffers: [],
      kernels: [],
      loops: [],
      conds: [],
      whiles: [],
      b: new ExprBuilder(),
      over: null,
    }
    const top = lowerProgram(state, program, null)
    if (state.over === null)
      return {
        buffers: state.buffers,
        kernels: state.kernels,
        schedule: top.schedule,
        loops: state.loops,
        conds: state.conds,
        whiles: state.whiles,
        outputs: top.outputs,
        outputShapes: program.outputs.map((a) => a.aval.shape),
      }
    const { analysis, kernel, candidate } = state.over
    if (candidate === undefined || attempt > eqnCount(program))
      throw new Error(
        `lowering: a kernel needs ${bindingCount(kernel, state.buffers)} storage buffers, ` +
          `more than the adapter's ${options.maxBuffers}`,
      )
    analysis.roots.add(candidate)
  }
}
