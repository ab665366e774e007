/**
 * Tiles for one product of the benchmark steps, side by side in one process:
 * the tile `chooseMatmulTile` picks and the ones given, each compiled once and
 * timed as submissions of 3 dispatches, round by round (so that the machine's
 * slow spells fall on all of them alike). The figure is GFLOP/s at the best
 * and the median submission. Operands hold fixed values; the products' values
 * are not checked here (test/gpu/matmul.test.ts does that for every mode).
 *
 *   npx tsx bench/tiles.ts [--shape all|conv1|conv1-kernel|conv1-nhwc|…|gemm, or names joined by commas]
 *                          [--reps 9] [--parts 16] [--tiles '[{"rows":16,"cols":16,"workgroup":[1,16]}]']
 *
 * With --shape all (the default) every shape runs with its chosen tile, the
 * GEMM among them, and each line also gives its best as a share of the
 * GEMM's best in the same rounds.
 * The shapes are the CNN step's products (batch 128, 28×28, 3×3 kernels, 16
 * and 32 channels, the windows read in place: the first convolution's from
 * its one-channel input's horizontal taps, the second's from its padded
 * input; the kernel gradients after split-K; the dense layer's three), the
 * LSTM step's recurrent products (forward, and backward through Whᵀ stored
 * transposed before the loop) and its vocabulary's three (`vocab`: the logits
 * of every step, 2048×76×256, and its gradients), and the 1024³ GEMM. `conv1-nhwc` and
 * `conv1-nhwc-kernel` read the first convolution's windows from its padded
 * input instead, as the step did before (nn/conv.ts, planarWindows). A B
 * that the library would bind as a uniform is bound so here too, and so is an A.
 * `--parts` splits the first convolution's kernel gradient into that many
 * partial products (the split-K pass makes 16).
 */
import { createContext } from '../gpu/device.ts'
import { prepareKernel } from './dispatch.ts'
import { matmulTile, renderMatmul, type MatmulSpec, type MatmulTile } from '../gpu/kernels/matmul.ts'

const option = (name: string): string | undefined => {
  const at = process.argv.indexOf(name)
  return at >= 0 ? process.argv[at + 1] : undefined
}
const reps = Number(option('--reps') ?? 9)
if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps takes a whole number of at least 1, got ${reps}`)
const parts = Number(option('--parts') ?? 16)
if (![1, 2, 4, 8, 16, 32, 64, 128].includes(parts))
  throw new Error(`--parts takes a power of two that divides the batch of 128 images, got ${option('--parts')}`)

// The first convolution's taps of an image are [30, 3, 28] (padded rows, taps of a row, output columns); its padded
// image, 30×30 with one channel; the second's padded image, 16×16 with 16 channels.
const SHAPES: Record<string, MatmulSpec> = {
  conv1: {
    batch: 1,
    m: 100352,
    n: 16,
    k: 9,
    transA: false,
    transB: false,
    windowA: {
      batch: [[1, 0]],
      mn: [
        [128, 2520],
        [28, 84],
        [28, 1],
      ],
      k: [[9, 28]],
    },
  },
  'conv1-kernel': {
    batch: parts,
    m: 9,
    n: 16,
    k: 100352 / parts,
    transA: true,
    transB: false,
    batchStrideB: (100352 / parts) * 16,
    windowA: {
      batch: [[parts, (128 / parts) * 2520]],
      mn: [[9, 28]],
      k: [
        [128 / parts, 2520],
        [28, 84],
        [28, 1],
      ],
    },
  },
  'conv1-nhwc': {
    batch: 1,
    m: 100352,
    n: 16,
    k: 9,
    transA: false,
    transB: false,
    windowA: {
      batch: [[1, 0]],
      mn: [
        [128, 900],
        [28, 30],
        [28, 1],
      ],
      k: [
        [3, 30],
        [3, 1],
      ],
    },
  },

  'conv1-nhwc-kernel': {
    batch: parts,
    m: 9,
    n: 16,
    k: 100352 / parts,
    transA: true,
    transB: false,
    batchStrideB: (100352 / parts) * 16,
    windowA: {
      batch: [[parts, (128 / parts) * 900]],
      mn: [
        [3, 30],
        [3, 1],
      ],
      k: [
        [128 / parts, 900],
        [28, 30],
        [28, 1],
      ],
    },
  },

  conv2: {
    batch: 1,
    m: 25088,
    n: 32,
    k: 144,
    transA: false,
    transB: false,
    windowA: {
      batch: [[1, 0]],
      mn: [
        [128, 4096],
        [14, 256],
        [14, 16],
      ],
      k: [
        [3, 256],
        [3, 16],
        [16, 1],
      ],
    },
  },
  'conv2-kernel': {
    batch: 16,
    m: 144,
    n: 32,
    k: 1568,
    transA: true,
    transB: false,
    batchStrideB: 1568 * 32,
    windowA: {
      batch: [[16, 8 * 4096]],
      mn: [
        [3, 256],
        [3, 16],
        [16, 1],
      ],
      k: [
        [8, 4096],
        [14, 256],
        [14, 16],
      ],
    },
  },
  'windows-gradient': { batch: 1, m: 25088, n: 144, k: 32, transA: false, transB: true },
  dense: { batch: 1, m: 128, n: 128, k: 1568, transA: false, transB: false },
  'dense-input-gradient': { batch: 1, m: 128, n: 1568, k: 128, transA: false, transB: true },
  'dense-kernel': { batch: 1, m: 1568, n: 128, k: 128, transA: true, transB: false },
  'lstm-step': { batch: 1, m: 32, n: 1024, k: 256, transA: false, transB: false, groups: 4 },
  'lstm-step-gradient': { batch: 1, m: 32, n: 256, k: 1024, transA: false, transB: false },
  vocab: { batch: 1, m: 2048, n: 76, k: 256, transA: false, transB: false },
  'vocab-input-gradient': { batch: 1, m: 2048, n: 256, k: 76, transA: false, transB: true },
  'vocab-kernel': { batch: 1, m: 256, n: 76, k: 2048, transA: true, transB: false },
  gemm: { batch: 1, m: 1024, n: 1024, k: 1024, transA: false, transB: false },
}
const shape = option('--shape') ?? 'all'
const names = shape === 'all' ? Object.keys(SHAPES) : shape.split(',')
for (const name of names)
  if (!Object.hasOwn(SHAPES, name))
    throw new Error(`--shape takes all or names among ${Object.keys(SHAPES).join(', ')}, got ${shape}`)
const given = JSON.parse(option('--tiles') ?? '[]') as MatmulTile[]
if (!Array.isArray(given)) throw new Error('--tiles takes a JSON array of tiles')
if (names.length > 1 && given.length > 0) throw new Error('--tiles goes with one --shape')
const label = (t: MatmulTile) =>
  `${t.rows}×${t.cols} in ${t.workgroup.join('×')}${t.batches ? `, ${t.batches} entries` : ''}${t.vectorize === false ? ', f32' : ''}`

const { device, description } = await createContext({ backend: process.env.ADJOINT_WEBGPU_BACKEND ?? 'opengles' })
// Every shape with its chosen tile (the GEMM among them, as the measure), or one shape with the tiles given too; A
// and B bound as uniforms where the library would bind them so (its buffers have UNIFORM usage, as these do).
const runs = names.flatMap((name) => {
  const spec: MatmulSpec = {
    ...SHAPES[name],
    uniformA: true,
    uniformB: true,
    uniformBytes: device.limits.maxUniformBufferBindingSize,
  }
  const chosen = matmulTile(spec)
  return [chosen, ...given].map((tile) => ({ name, spec, tile, chosen: tile === chosen }))
})
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST
const filled = (elements: number) => {
  const buffer = device.createBuffer({ size: Math.ceil(elements / 4) * 16, usage })
  const data = new Float32Array(elements)
  for (let i = 0; i < elements; i++) data[i] = ((i * 7919) % 1000) / 1000 - 0.5
  device.queue.writeBuffer(buffer, 0, data)
  return buffer
}
// Large enough for every shape's operands and outputs (the first convolution's: 100352×16 floats).
const [A, B, C] = [filled(1 << 22), filled(1 << 22), filled(1 << 22)]

const timed: { label: string; flops: number; submit: (dispatches: number) => Promise<void>; ms: number[] }[] = []
for (const { name, spec, tile, chosen } of runs) {
  const submit = await prepareKernel(device, renderMatmul({ ...spec, tile }), [A, B, C], `${name}, ${label(tile)}`)
  const flops = 2 * spec.batch * spec.m * spec.n * spec.k
  const what = `${name} ${spec.batch > 1 ? `${spec.batch}×` : ''}${spec.m}×${spec.n}×${spec.k}`
  timed.push({ label: `${what}, ${label(tile)}${chosen ? ' (chosen)' : ''}`, flops, submit, ms: [] })
}
for (let r = 0; r < reps; r++)
  for (const t of timed) {
    const t0 = performance.now()
    await t.submit(3)
    t.ms.push((performance.now() - t0) / 3)
  }
const best = (t: (typeof timed)[number]) => t.flops / Math.min(...t.ms) / 1e6
const gemm = timed.find((t) => t.label.startsWith('gemm '))
console.log(`on ${description}, ${reps} rounds; GFLOP/s at the best and the median submission`)
for (const t of timed) {
  const sorted = [...t.ms].sort((a, b) => a - b)
  const rate = (ms: number) => (t.flops / ms / 1e6).toFixed(1).padStart(7)
  const share =
    gemm === undefined ? '' : `  ${((100 * best(t)) / best(gemm)).toFixed(0).padStart(3)} % of the GEMM's best`
  console.log(`${t.label.padEnd(56)} ${rate(sorted[0])} ${rate(sorted[sorted.length >> 1])}${share}`)
}
device.destroy()
process.exit(0)
