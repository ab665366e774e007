/**
 * One forward step of the notes' GRU (the reset gate before the candidate's
 * product) as one dispatch, against the two products that the library runs
 * for it, on the LSTM benchmark's shapes (a batch of 32, 256 hidden units).
 *
 *   npx tsx bench/gru-step.ts [--rows 8] [--invocations 16] [--reps 9]
 *
 * The candidate's product reads r ⊙ h for every hidden unit of a row, and r
 * comes from the first product, so one dispatch needs a workgroup that owns
 * whole rows of the batch: it computes their [rows, 2H] product, keeps r ⊙ h
 * and u in workgroup memory, waits at a barrier, then computes their
 * [rows, H] product and h′. The batch then makes at most 32 / rows
 * workgroups, each reading all of Wh. The hand-written kernel here is that
 * design; its h′ is checked against an f64 reference before it is timed. The
 * two products are the library's (`renderMatmul`, default tiles, without
 * their gate maps, which the library computes in their epilogues and
 * stores, so they favour the one dispatch).
 *
 * Each round times one submission of 64 steps of each, in turn; the figure is
 * µs a step at the best and the median round. ADJOINT_WEBGPU_BACKEND picks
 * Dawn's backend (default opengles, i.e. Mesa llvmpipe).
 */
import { createContext } from '../gpu/device.ts'
import { renderMatmul } from '../gpu/kernels/matmul.ts'

const option = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name)
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} takes a whole number of at least 1, got ${value}`)
  return value
}
const [B, H, STEPS] = [32, 256, 64]
const R = option('--rows', 8)
const W = option('--invocations', 16)
const reps = option('--reps', 9)
if (B % R !== 0 || (2 * H) % (4 * W) !== 0 || H % (4 * W) !== 0)
  throw new Error(`--rows must divide ${B}, and 4 × --invocations must divide ${H}; got ${R} and ${W}`)
const [C1, C2] = [(2 * H) / (4 * W), H / (4 * W)]

// h [B, H], Wh [H, 3H] (blocks r, u, candidate), zx = x·Wx + b [B, 3H], h′ [B, H].
const fused = `
@group(0) @binding(0) var<storage, read> h: array<f32>;
@group(0) @binding(1) var<storage, read> wh: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> zx: array<f32>;
@group(0) @binding(3) var<storage, read_write> next: array<f32>;
const H = ${H}u;
const R = ${R}u;
const W = ${W}u;
var<workgroup> rh: array<f32, ${R * H}>;
var<workgroup> uu: array<f32, ${R * H}>;
@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row0 = wid.x * R;
  // [R, 2H] = h[rows] · Wh[:, 0:2H]: each invocation ${C1} vec4s of columns, W apart.
  var acc: array<array<vec4<f32>, ${C1}>, ${R}>;
  for (var k = 0u; k < H; k++) {
    var a: array<f32, ${R}>;
    for (var r = 0u; r < R; r++) { a[r] = h[(row0 + r) * H + k]; }
    for (var c = 0u; c < ${C1}u; c++) {
      let w = wh[(k * 3u * H) / 4u + lid.x + c * W];
      for (var r = 0u; r < R; r++) { acc[r][c] += a[r] * w; }
    }
  }
  for (var r = 0u; r < R; r++) {
    for (var c = 0u; c < ${C1}u; c++) {
      for (var l = 0u; l < 4u; l++) {
        let j = (lid.x + c * W) * 4u + l;
        let g = 1.0 / (1.0 + exp(-(acc[r][c][l] + zx[(row0 + r) * 3u * H + j])));
        if (j < H) { rh[r * H + j] = g * h[(row0 + r) * H + j]; } else { uu[r * H + j - H] = g; }
      }
    }
  }
  workgroupBarrier();
  // [R, H] = (r ⊙ h) · Wh[:, 2H:3H]; h′ = u ⊙ h̃ + (1 − u) ⊙ h.
  var acc2: array<array<vec4<f32>, ${C2}>, ${R}>;
  for (var k = 0u; k < H; k++) {
    var a: array<f32, ${R}>;
    for (var r = 0u; r < R; r++) { a[r] = rh[r * H + k]; }
    for (var c = 0u; c < ${C2}u; c++) {
      let w = wh[(k * 3u * H + 2u * H) / 4u + lid.x + c * W];
      for (var r = 0u; r < R; r++) { acc2[r][c] += a[r] * w; }
    }
  }
  for (var r = 0u; r < R; r++) {
    for (var c = 0u; c < ${C2}u; c++) {
      for (var l = 0u; l < 4u; l++) {
        let j = (lid.x + c * W) * 4u + l;
        let candidate = tanh(clamp(acc2[r][c][l] + zx[(row0 + r) * 3u * H + 2u * H + j], -15.0, 15.0));
        let u = uu[r * H + j];
        next[(row0 + r) * H + j] = u * candidate + (1.0 - u) * h[(row0 + r) * H + j];
      }
    }
  }
}`

/** Deterministic values in [-0.5, 0.5). */
const values = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => (((i + seed) * 7919) % 1000) / 1000 - 0.5)
const [h, wh, zx] = [values(B * H, 1), values(H * 3 * H, 2).map((v) => v / 8), values(B * 3 * H, 3)]

/** h′ in f64. */
function reference(): Float64Array {
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v))
  const out = new Float64Array(B * H)
  for (let b = 0; b < B; b++) {
    const gate = (j: number, a: ArrayLike<number>) => {
      let s = zx[b * 3 * H + j]
      for (let k = 0; k < H; k++) s += a[k] * wh[k * 3 * H + j]
      return s
    }
    const row = h.subarray(b * H, (b + 1) * H)
    const rh = Array.from(row, (v, j) => sigmoid(gate(j, row)) * v)
    for (let j = 0; j < H; j++) {
      const u = sigmoid(gate(H + j, row))
      out[b * H + j] = u * Math.tanh(gate(2 * H + j, rh)) + (1 - u) * row[j]
    }
  }
  return out
}

const { device, description } = await createContext({ backend: process.env.ADJOINT_WEBGPU_BACKEND ?? 'opengles' })
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC
const buffer = (data: Float32Array | number) => {
  const b = device.createBuffer({ size: (typeof data === 'number' ? data : data.length) * 4, usage })
  if (typeof data !== 'number') device.queue.writeBuffer(b, 0, data)
  return b
}
const [hB, whB, zxB, nextB] = [buffer(h), buffer(wh), buffer(zx), buffer(B * H)]

interface Step {
  readonly pipeline: GPUComputePipeline
  readonly group: GPUBindGroup
  readonly workgroups: readonly [number, number, number]
}
async function prepare(
  code: string,
  buffers: GPUBuffer[],
  workgroups: readonly [number, number, number],
  what: string,
) {
  device.pushErrorScope('validation')
  const pipeline = device.createComputePipeline({
    layout: 'auto',
    compute: { module: device.createShaderModule({ code }), entryPoint: 'main' },
  })
  const error = await device.popErrorScope()
  if (error) throw new Error(`${what}: ${error.message}`)
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((b, binding) => ({ binding, resource: { buffer: b } })),
  })
  return { pipeline, group, workgroups } satisfies Step
}
/** Runs `steps` times each of the kernels, in order, in one submission. */
async function submit(kernels: readonly Step[], steps: number): Promise<void> {
  const encoder = device.createCommandEncoder()
  const pass = encoder.beginComputePass()
  for (let s = 0; s < steps; s++)
    for (const k of kernels) {
      pass.setPipeline(k.pipeline)
      pass.setBindGroup(0, k.group)
      pass.dispatchWorkgroups(...k.workgroups)
    }
  pass.end()
  device.queue.submit([encoder.finish()])
  await device.queue.onSubmittedWorkDone()
}

const one = await prepare(fused, [hB, whB, zxB, nextB], [B / R, 1, 1], 'the one-dispatch step')
await submit([one], 1)
const readback = device.createBuffer({ size: B * H * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
const encoder = device.createCommandEncoder()
encoder.copyBufferToBuffer(nextB, 0, readback, 0, B * H * 4)
device.queue.submit([encoder.finish()])
await readback.mapAsync(GPUMapMode.READ)
const got = new Float32Array(readback.getMappedRange().slice(0))
readback.unmap()
const want = reference()
const worst = want.reduce((m, w, i) => Math.max(m, Math.abs(w - got[i])), 0)
if (!(worst <= 1e-4)) throw new Error(`the one-dispatch step is off by ${worst} from the f64 reference`)

// The library's two products for the step: h·Wh[:, 0:2H] in two column blocks, then (r ⊙ h)·Wh[:, 2H:3H].
const first = renderMatmul({ batch: 1, m: B, n: 2 * H, k: H, transA: false, transB: false, groups: 2 })
const second = renderMatmul({ batch: 1, m: B, n: H, k: H, transA: false, transB: false })
const two = [
  await prepare(first.code, [hB, buffer(H * 2 * H), buffer(B * 2 * H)], first.workgroups, 'the first product'),
  await prepare(second.code, [buffer(B * H), buffer(H * H), buffer(B * H)], second.workgroups, 'the second product'),
]
await submit(two, 1)

const timed = [
  {
    label: `one dispatch, ${R} rows in ${W} invocations a workgroup (${B / R} workgroups)`,
    kernels: [one],
    us: [] as number[],
  },
  { label: 'two products (the library: gate maps left out)', kernels: two, us: [] as number[] },
]
for (let r = 0; r < reps; r++)
  for (const t of timed) {
    const t0 = performance.now()
    await submit(t.kernels, STEPS)
    t.us.push(((performance.now() - t0) / STEPS) * 1000)
  }
console.log(
  `on ${description}; h′ of the one dispatch within ${worst.toExponential(1)} of f64; µs a step, best and median:`,
)
for (const t of timed) {
  const sorted = [...t.us].sort((a, b) => a - b)
  console.log(
    `${t.label.padEnd(66)} ${sorted[0].toFixed(0).padStart(6)} ${sorted[sorted.length >> 1].toFixed(0).padStart(6)}`,
  )
}
device.destroy()
process.exit(0)
