/**
 * How a reduction runs: one invocation per output element with a serial loop
 * over the reduced elements (rendered in gpu/wgsl/render.ts), or one
 * workgroup per output element (the template gpu/kernels/reduce.wgsl), and
 * whether it is split in two kernels: the first reduces `parts` contiguous
 * chunks of each output's elements into a temporary [..., parts], the second
 * reduces those.
 *
 * A bound every choice respects: llvmpipe stops an invocation, silently,
 * once it has run 65535 loop iterations in all (gallivm's loop limiter, one
 * counter shared by all loops of the invocation), so a serial loop over more
 * elements than that returns a partial result there (SwiftShader has no such
 * limit). Serial reductions stay within SERIAL_LIMIT elements; a workgroup
 * reduces at most CHUNK_LIMIT, which is CHUNK_LIMIT / (4 · REDUCE_WORKGROUP)
 * = 4096 iterations of its unrolled loop per invocation.
 *
 * The thresholds, measured with bench/reduce.ts on llvmpipe (2-core EPYC
 * shared with other jobs, so ±30%; GB/s of input read, one call each):
 * - Few outputs: the serial form runs one SIMD lane per output. 60000
 *   elements into 1 output: serial 0.33, workgroup 0.8–1.0; into 2 outputs:
 *   0.5 → 0.7–0.8. From 8 outputs (one 8-lane SIMD register of the serial
 *   kernel) the two are even within noise up to 256 outputs at 16384–60000
 *   elements (8×60000: 1.3 → 1.2 and 1.3 → 1.7 in two runs; 128×32768:
 *   1.9 → 2.1 and 2.3 → 2.2), and for more outputs or fewer elements the
 *   serial form wins ([16384, 256]: 2.4–2.9 against 0.1–0.4), so the
 *   workgroup form is used below 8 outputs.
 * - Fewer than 16384 elements per output: a workgroup's fixed cost (its
 *   barriers, a dispatch) is not repaid; 1 output of 16384: 0.1 → 0.1–0.2.
 * - Past SERIAL_LIMIT the workgroup form is the correct one: [64, 65536] →
 *   [64] at 2.2–2.8 (the serial kernel, missing an element per row there,
 *   2.0–2.5).
 * - Splitting few outputs over SPLIT_WORKGROUPS workgroups lets every core
 *   work: sum of 2²² into 1 output, one workgroup 2.25–2.45, 16 parts
 *   2.2–2.7 (the second core was mostly busy with other jobs), for one more
 *   dispatch (about 60 µs, 1% of that call); on SwiftShader, where the serial
 *   kernel is right, serial 0.06, 16 parts 0.32. Chunks under MIN_CHUNK
 *   elements would not repay the second dispatch.
 * - Workgroups of 64, 128 and 256 invocations measured within noise of each
 *   other (2²²: 2.4, 2.4, 2.3; [64, 65536]: 2.4–2.9, 2.2–2.8, 2.2–2.5); 128
 *   fits the lowest default of any WebGPU device (compatibility mode: 128).
 * - Two serial kernels (chunks of 32768 elements, then the chunks) measured
 *   as fast as the split workgroup form here (2²²: 2.55–2.67 against
 *   2.2–2.7), but a GPU runs such long serial loops on few threads, so they
 *   are not chosen.
 */

export interface ReductionStrategy {
  /**
   * Invocations per output element: one workgroup of this many (a power of
   * two, 8 to 256); absent, one invocation, serially.
   */
  readonly workgroup?: number
  /**
   * Chunks each output's elements are split into (absent or 1: no split).
   * The first kernel reduces each chunk as `workgroup` says; the second
   * kernel, a reduction of `parts` elements per output, gets a strategy of
   * its own.
   */
  readonly parts?: number
}

/** Invocations per workgroup of the parallel form. */
export const REDUCE_WORKGROUP = 128
/** The most elements a serial reduction loops over (llvmpipe's limit is 65535 iterations). */
export const SERIAL_LIMIT = 60000
/** The most elements one workgroup reduces. */
export const CHUNK_LIMIT = 2 ** 21
/** Elements per output from which the parallel form is used (within SERIAL_LIMIT). */
export const MIN_PARALLEL_COUNT = 16384
/** Output elements below which the parallel form is used (within SERIAL_LIMIT). */
export const PARALLEL_OUTPUTS = 8
/** Workgroups a split of few outputs aims for: enough for every core of a CPU adapter. */
export const SPLIT_WORKGROUPS = 16
/** The fewest elements per chunk of a split. */
export const MIN_CHUNK = 32768

/** The strategy for reducing `count` elements into each of `outputs` output elements. */
export function chooseReduction(outputs: number, count: number): ReductionStrategy {
  if (count <= SERIAL_LIMIT && (count < MIN_PARALLEL_COUNT || outputs >= PARALLEL_OUTPUTS)) return {}
  const spread =
    outputs >= SPLIT_WORKGROUPS ? 1 : Math.min(Math.ceil(SPLIT_WORKGROUPS / outputs), Math.floor(count / MIN_CHUNK))
  const parts = Math.max(1, spread, Math.ceil(count / CHUNK_LIMIT))
  return parts > 1 ? { workgroup: REDUCE_WORKGROUP, parts } : { workgroup: REDUCE_WORKGROUP }
}
