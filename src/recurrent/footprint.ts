/**
 * The memory a program's loops hold, read off its shapes (no run needed).
 * A scan keeps its carry live for the whole loop, whatever its length T, and
 * writes each of its ys as T stacked slices. For the two gradient programs
 * of D. Barber, Neural Nets (lecture notes), "Computing the Gradient", this is
 * the difference between the two algorithms: BPTT's forward
 * scan stacks the residuals its backward scan reads (O(T·H)), RTRL's single
 * scan carries the sensitivities dh/dθ (O(H·|θ|)) and stacks nothing.
 */
import type { Program } from '../ir/program.ts'
import { sizeOf, type Aval } from '../tensor.ts'
import type { DType } from '../dtype.ts'

const BYTES: Record<DType, number> = { f32: 4, f64: 8, i32: 4, bool: 1 }

/** Bytes of a value of this aval (one byte per bool, as the CPU stores them). */
export const bytesOf = (aval: Aval): number => sizeOf(aval.shape) * BYTES[aval.dtype]

/** The memory a scan keeps, as `scanFootprint` reports it for each scan of a Program. */
export interface ScanFootprint {
  /** Steps. */
  readonly length: number
  readonly reverse: boolean
  /** 0 for a scan of the program itself, 1 inside a scan's body, and so on. */
  readonly depth: number
  /** Bytes of the carry (live for the whole loop). */
  readonly carryBytes: number
  /** Bytes of the stacked ys (length slices each). */
  readonly stackedBytes: number
  /** The avals of the carry and of the stacked ys. */
  readonly carry: readonly Aval[]
  readonly stacked: readonly Aval[]
}

/** Every scan of the program (those in scan bodies too, with their depth), in program order. */
export function scanFootprints(program: Program, depth = 0): ScanFootprint[] {
  const out: ScanFootprint[] = []
  for (const e of program.eqns) {
    if (e.prim !== 'scan') continue
    const p = e.params as { length: number; reverse: boolean; numCarry: number; body: Program }
    const carry = e.outputs.slice(0, p.numCarry).map((v) => v.aval)
    const stacked = e.outputs.slice(p.numCarry).map((v) => v.aval)
    out.push({
      length: p.length,
      reverse: p.reverse,
      depth,
      carryBytes: carry.reduce((s, a) => s + bytesOf(a), 0),
      stackedBytes: stacked.reduce((s, a) => s + bytesOf(a), 0),
      carry,
      stacked,
    })
    out.push(...scanFootprints(p.body, depth + 1))
  }
  return out
}
