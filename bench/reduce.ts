/**
 * Reduction throughput on WebGPU, in GB/s of input read: the serial reduce
 * kernel (one invocation per output element: the kernel used before the
 * workgroup form existed) against the workgroup reduction of
 * gpu/kernels/reduce.wgsl (one workgroup per output element), with and
 * without a split into two kernels, and the strategy the compiler chooses.
 *
 *   npx tsx bench/reduce.ts [--reps N] [--sweep]
 *
 * Workloads: sum and max of 2²² elements to a scalar, sum and max of
 * [64, 65536] over its rows, [16384, 256] over its rows (many outputs,
 * where the serial form is kept), and 60000 elements to a scalar (within
 * the serial kernel's reach on llvmpipe). Each workload is lowered as the compiler
 * does it, with the variant's strategy for its reduction, run through the
 * executable (one submission per call, input already on the device) and
 * checked against the CPU interpreter: ✗ marks a wrong result, such as the
 * serial kernel's on llvmpipe past 65535 elements per output, where the
 * adapter stops its loop (its time is then that of a partial reduction).
 * Each figure is the median of `reps` calls, the variants taking turns.
 * --sweep times serial against workgroup (128) over a grid of output counts
 * and elements per output instead: the measurements behind the thresholds in
 * gpu/kernels/reduce.ts. ADJOINT_WEBGPU_BACKEND picks the Dawn backend
 * (default opengles, i.e. Mesa llvmpipe; `vulkan` with SwiftShader's ICD).
 */
import { jit, makeProgram, ops, random, type Tensor } from '../src/index.ts'
import { WebGpuExecutable } from '../gpu/executable.ts'
import { webgpuBackend } from '../gpu/index.ts'
import type { DeviceTensor } from '../gpu/tensor.ts'
import { chooseReduction, type ReductionStrategy } from '../gpu/kernels/reduce.ts'
import { lower } from '../gpu/lower/index.ts'
import { renderKernel } from '../gpu/wgsl/render.ts'

const args = process.argv.slice(2)
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const reps = option('--reps', 7)
const sweep = args.includes('--sweep')

const backend = await webgpuBackend({ backend: process.env.ADJOINT_WEBGPU_BACKEND ?? 'opengles' })
const { device, limits } = backend.context
const maxBuffers = limits.maxStorageBuffersPerShaderStage

interface Workload {
  name: string
  shape: number[]
  f: (x: Tensor) => Tensor
}

/** A way to run the workload's reduction (of `count` elements into each of `outputs`); absent, the compiler's own choice. */
interface Variant {
  name: string
  strategy?: (outputs: number, count: number) => ReductionStrategy
}

interface Prepared {
  workload: string
  variant: Variant
  bytes: number
  kernels: number
  run: () => Promise<void>
  times: number[]
  /** Largest error relative to max(1, |expected|), against the CPU interpreter. */
  error: number
  /** What the compiler chooses for this workload. */
  choice: ReductionStrategy
}

/** The workload compiled with the variant's strategy for its reduction, checked against the CPU. */
async function prepare(
  w: Workload,
  x: DeviceTensor,
  host: Tensor,
  variant: Variant,
  expected: ArrayLike<number>,
): Promise<Prepared> {
  const program = makeProgram(w.f)(host)
  const count = w.shape.reduce((a, d) => a * d, 1)
  const outputs = expected.length
  const choice = chooseReduction(outputs, count / outputs)
  const strategy = variant.strategy?.(outputs, count / outputs) ?? choice
  // The variant's strategy for the workload's reduction; the compiler's for the second kernel of a split.
  const lowered = lower(program, {
    maxBuffers,
    reduction: (o, c) => (o === outputs && c === count / outputs ? strategy : chooseReduction(o, c)),
  })
  const compiled = lowered.kernels.map((k, i) => ({ ...renderKernel(k, lowered.buffers), label: `#${i} (${k.kind})` }))
  const exe = new WebGpuExecutable(program, lowered, compiled, backend.context, backend.pool)
  const run = async () => {
    const [out] = await exe.run([x])
    await device.queue.onSubmittedWorkDone()
    ;(out as DeviceTensor).dispose()
  }
  const [out] = await exe.run([x])
  const actual = await out.data()
  let error = 0
  for (let i = 0; i < expected.length; i++)
    error = Math.max(error, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])))
  if (Number.isNaN(actual[0])) error = Infinity
  return { workload: w.name, variant, bytes: count * 4, kernels: lowered.kernels.length, run, times: [], error, choice }
}

async function measure(workloads: readonly Workload[], variants: readonly Variant[]): Promise<Prepared[]> {
  const prepared: Prepared[] = []
  for (const [i, w] of workloads.entries()) {
    const host = random.normal(random.key(i), w.shape)
    // A copy made on the device, so that the timed calls upload nothing.
    const x = (await jit((v: Tensor) => ops.mul(v, 1), { backend })(host)) as DeviceTensor
    const expected = w.f(host).dataSync()
    for (const v of variants) prepared.push(await prepare(w, x, host, v, expected))
  }
  // Round-robin, so that load from other processes falls on every variant alike.
  for (let r = 0; r < reps; r++)
    for (const p of prepared) {
      const t = performance.now()
      await p.run()
      p.times.push(performance.now() - t)
    }
  return prepared
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const gbps = (p: Prepared) => p.bytes / (median(p.times) * 1e6)
/** Allowed error relative to max(1, |expected|): f32 sums of 2²² normal values in any of these orders are within 1e-5. */
const TOLERANCE = 1e-4

if (!sweep) {
  const n = 2 ** 22
  const workloads: Workload[] = [
    { name: 'sum 2^22 → []', shape: [n], f: (x) => ops.sum(x) },
    { name: 'max 2^22 → []', shape: [n], f: (x) => ops.max(x) },
    { name: 'sum [64, 65536] → [64]', shape: [64, 65536], f: (x) => ops.sum(x, 1) },
    { name: 'max [64, 65536] → [64]', shape: [64, 65536], f: (x) => ops.max(x, 1) },
    { name: 'sum [16384, 256] → [16384]', shape: [16384, 256], f: (x) => ops.sum(x, 1) },
    { name: 'sum 60000 → []', shape: [60000], f: (x) => ops.sum(x) },
  ]
  // Splits: serial chunks of 32768 elements; workgroups of 128 over 16 chunks in all.
  const variants: Variant[] = [
    { name: 'serial', strategy: () => ({}) },
    { name: 'wg64', strategy: () => ({ workgroup: 64 }) },
    { name: 'wg128', strategy: () => ({ workgroup: 128 }) },
    { name: 'wg256', strategy: () => ({ workgroup: 256 }) },
    { name: 'ser/32K', strategy: (_, c) => ({ parts: Math.ceil(c / 32768) }) },
    { name: 'wg128/16', strategy: (o) => ({ workgroup: 128, parts: Math.max(1, Math.ceil(16 / o)) }) },
    { name: 'chosen' },
  ]
  const prepared = await measure(workloads, variants)
  console.log(`reductions on ${backend.name}: GB/s of input read, median of ${reps} calls (one submission each)`)
  console.log(`✗ = wrong result (error > ${TOLERANCE}); chosen = the compiler's strategy\n`)
  console.log(
    `${'workload'.padEnd(28)} ${variants.map((v) => v.name.padStart(9)).join(' ')}   chosen/serial   chosen strategy`,
  )
  for (const w of workloads) {
    const row = prepared.filter((p) => p.workload === w.name)
    const cells = row.map((p) => `${gbps(p).toFixed(2)}${p.error > TOLERANCE ? '✗' : ' '}`.padStart(9))
    const chosen = row[row.length - 1]
    const strategy = chosen.choice
    const split = (strategy.parts ?? 1) > 1 ? `, ${strategy.parts} parts (${chosen.kernels} kernels)` : ''
    const described = `${strategy.workgroup === undefined ? 'serial' : `workgroup ${strategy.workgroup}`}${split}`
    const ratio = row[0].error > TOLERANCE ? 'serial wrong' : `${(gbps(chosen) / gbps(row[0])).toFixed(1)}×`
    console.log(`${w.name.padEnd(28)} ${cells.join(' ')}   ${ratio.padStart(13)}   ${described}`)
  }
  console.log(`
serial: one invocation per output element (the only form before the workgroup reduction); wgN: one workgroup
of N invocations per output element; ser/32K: serial chunks of 32768 elements, then a second kernel over the
chunks; wg128/16: workgroups of 128 over 16 chunks in all, then a second kernel; chosen: chooseReduction.`)
} else {
  // Serial against workgroup (128, no split) over outputs × reduced extent; counts within the serial limit.
  const outputs = [1, 2, 8, 16, 32, 64, 128, 256, 1024, 4096]
  const counts = [1024, 4096, 16384, 32768, 60000]
  const workloads: Workload[] = []
  for (const o of outputs)
    for (const c of counts)
      if (o * c >= 2 ** 14 && o * c <= 2 ** 23)
        workloads.push({ name: `${o}×${c}`, shape: [o, c], f: (x) => ops.sum(x, 1) })
  const pair: Variant[] = [
    { name: 'serial', strategy: () => ({}) },
    { name: 'wg128', strategy: () => ({ workgroup: 128 }) },
  ]
  const prepared = await measure(workloads, pair)
  console.log(
    `sum over the rows of [outputs, count] on ${backend.name}: GB/s serial → workgroup (128); * = the compiler uses a workgroup\n`,
  )
  console.log(`${'outputs \\ count'.padEnd(16)} ${counts.map((c) => String(c).padStart(16)).join('')}`)
  for (const o of outputs) {
    const cells = counts.map((c) => {
      const [serial, wg] = pair.map((v) => prepared.find((p) => p.workload === `${o}×${c}` && p.variant === v))
      if (serial === undefined || wg === undefined) return '-'.padStart(16)
      const mark = chooseReduction(o, c).workgroup !== undefined ? '*' : ' '
      return `${gbps(serial).toFixed(1)} → ${gbps(wg).toFixed(1)}${mark}`.padStart(16)
    })
    console.log(`${String(o).padEnd(16)} ${cells.join('')}`)
  }
}
device.destroy()
process.exit(0)
