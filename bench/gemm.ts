/**
 * GEMM throughput of the kernel variants from gpu/kernels/matmul.ts on
 * 1024×1024×1024, against a naive one-invocation-per-element kernel.
 *
 *   npx tsx bench/gemm.ts [--json] [--reps N] [--batch N] [--size S] [--only SUBSTRING]
 *
 * Each variant: compile and one warm-up submission; then `reps` rounds in
 * which every variant, in turn, times one submission of `batch` dispatches
 * (`submit`, then `onSubmittedWorkDone`). The figure is the median submission
 * time divided by `batch` (the table also shows the best). Without --json a table is printed; with --json one JSON object per
 * line. ADJOINT_WEBGPU_BACKEND picks the Dawn backend (default opengles, i.e.
 * Mesa llvmpipe; `vulkan` with SwiftShader's ICD).
 */
import { createContext } from '../gpu/device.ts'
import { prepareKernel } from './dispatch.ts'
import { chooseMatmulTile, renderMatmul, type MatmulSpec, type MatmulTile } from '../gpu/kernels/matmul.ts'

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(name)
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const json = flag('--json')
const reps = option('--reps', 5)
const perSubmission = option('--batch', 3)
const S = option('--size', 1024)
const only = (() => {
  const i = args.indexOf('--only')
  return i >= 0 ? args[i + 1] : undefined
})()

const backend = process.env.ADJOINT_WEBGPU_BACKEND ?? 'opengles'
const { device } = await createContext({ backend })
const system = backend === 'opengles' ? 'webgpu-llvmpipe' : backend === 'vulkan' ? 'webgpu-vulkan' : `webgpu-${backend}`

/** The baseline: one invocation per element of C, reading A and B one f32 at a time. */
function naiveKernel(m: number, n: number, k: number): { code: string; workgroups: [number, number, number] } {
  const code = `
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let row = id.y;
  let col = id.x;
  if (row >= ${m}u || col >= ${n}u) { return; }
  var acc = 0.0;
  for (var k = 0u; k < ${k}u; k++) { acc += A[row * ${k}u + k] * B[k * ${n}u + col]; }
  C[row * ${n}u + col] = acc;
}
`
  return { code, workgroups: [Math.ceil(n / 8), Math.ceil(m / 8), 1] }
}

interface Variant {
  name: string
  render: () => { code: string; workgroups: [number, number, number]; entryPoint?: string }
}

const spec = (tile: MatmulTile, transA = false, transB = false): MatmulSpec => ({
  batch: 1,
  m: S,
  n: S,
  k: S,
  transA,
  transB,
  tile,
})
const tileName = (t: MatmulTile) =>
  `reg${t.rows}x${t.cols}-wg${t.workgroup[0]}x${t.workgroup[1]}-${t.vectorize === false ? 'f32' : 'vec4'}`
const defaultTile = chooseMatmulTile({ batch: 1, m: S, n: S, k: S })
const tiles: MatmulTile[] = [
  { rows: 4, cols: 4, workgroup: [8, 8], vectorize: false },
  { rows: 8, cols: 8, workgroup: [8, 8], vectorize: false },
  { rows: 16, cols: 16, workgroup: [8, 4], vectorize: false },
  { rows: 4, cols: 4, workgroup: [8, 8] },
  { rows: 8, cols: 8, workgroup: [8, 8] },
  { rows: 8, cols: 16, workgroup: [8, 4] },
  { rows: 16, cols: 8, workgroup: [8, 4] },
  { rows: 16, cols: 16, workgroup: [8, 4] },
  { rows: 16, cols: 16, workgroup: [8, 8] },
  { rows: 24, cols: 16, workgroup: [8, 4] },
]
if (!tiles.some((t) => tileName(t) === tileName(defaultTile))) tiles.push(defaultTile)
const variants: Variant[] = [
  { name: 'naive', render: () => naiveKernel(S, S, S) },
  ...tiles.map((t) => ({ name: tileName(t), render: () => renderMatmul(spec(t)) })),
  ...(
    [
      [true, false],
      [false, true],
      [true, true],
    ] as const
  ).map(([ta, tb]) => ({
    name: `${tileName(defaultTile)}${ta ? '-transA' : ''}${tb ? '-transB' : ''}`,
    render: () => renderMatmul(spec(defaultTile, ta, tb)),
  })),
].filter((v) => only === undefined || v.name.includes(only))

const bytes = S * S * 4
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST
const [A, B, C] = [0, 1, 2].map(() => device.createBuffer({ size: bytes, usage }))
const data = new Float32Array(S * S)
for (let i = 0; i < data.length; i++) data[i] = ((i * 7919) % 1000) / 1000 - 0.5
device.queue.writeBuffer(A, 0, data)
device.queue.writeBuffer(B, 0, data)

interface Prepared {
  variant: Variant
  compileMs: number
  submit: (dispatches: number) => Promise<void>
  times: number[]
}

async function prepare(variant: Variant): Promise<Prepared> {
  const kernel = variant.render()
  const t0 = performance.now()
  // (Its warm-up submission includes the driver's compilation.)
  const submit = await prepareKernel(device, kernel, [A, B, C], variant.name)
  return { variant, compileMs: performance.now() - t0, submit, times: [] }
}

const workload = `matmul-${S}`
if (!json)
  console.log(
    `${workload} on ${system}: median of ${reps} submissions of ${perSubmission} dispatches, variants interleaved\n`,
  )
const prepared: Prepared[] = []
for (const variant of variants) prepared.push(await prepare(variant))
// Round-robin over the variants, so that load from other processes on the
// machine falls on all of them alike rather than on whichever ran then.
for (let r = 0; r < reps; r++)
  for (const p of prepared) {
    const t = performance.now()
    await p.submit(perSubmission)
    p.times.push((performance.now() - t) / perSubmission)
  }
if (!json) console.log(`${'variant'.padEnd(40)} ${'GFLOP/s'.padStart(8)} ${'best'.padStart(8)}  first run (compile) ms`)
for (const p of prepared) {
  const sorted = [...p.times].sort((a, b) => a - b)
  const gflops = (ms: number) => (2 * S * S * S) / (ms * 1e6)
  const median = gflops(sorted[sorted.length >> 1])
  if (json)
    console.log(
      JSON.stringify({
        workload,
        system: 'adjoint',
        backend: system,
        variant: p.variant.name,
        value: Number(median.toFixed(3)),
        unit: 'GFLOP/s',
      }),
    )
  else {
    const mark = p.variant.name === tileName(defaultTile) ? ' (default)' : ''
    console.log(
      `${(p.variant.name + mark).padEnd(40)} ${median.toFixed(2).padStart(8)} ${gflops(sorted[0]).toFixed(2).padStart(8)}  ${p.compileMs.toFixed(0).padStart(6)}`,
    )
  }
}
device.destroy()
process.exit(0)
