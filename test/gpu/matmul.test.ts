/**
 * The GEMM kernel generator against a plain f64 reference: every size
 * (including ones the tile does not divide, and 1), batches, all four
 * transpose combinations, broadcast batch strides, both load paths (f32 and
 * vec4), the linear workgroup numbering past the dispatch limit, and a fused
 * epilogue. Tolerance per element: 1e-5 relative plus k·1e-6 absolute.
 *
 * Without a WebGPU adapter the suite is skipped with the reason in its name,
 * except under CI, where it fails. ADJOINT_WEBGPU_BACKEND picks the Dawn
 * backend (e.g. `vulkan` with SwiftShader's ICD).
 */
import { afterAll, describe, expect, it } from 'vitest'
import { createContext } from '../../gpu/device.ts'
import {
  bufferBinding,
  chooseMatmulTile,
  matmulTile,
  renderMatmul,
  type Digit,
  type MatmulSpec,
  type MatmulTile,
  type OperandWindow,
} from '../../gpu/kernels/matmul.ts'
import { firstFar } from '../lib/close.ts'
import { place } from '../lib/digits.ts'

interface Context {
  device: GPUDevice
  description: string
}

// The GPU object from `create` must stay reachable while its devices live:
// once it is garbage-collected, Dawn's event processing uses a freed instance
// (a crash), hence a global rather than a local.

/** The same device set-up as the library's (adapter limits; ADJOINT_WEBGPU_BACKEND picks Dawn's backend). */
async function createDevice(): Promise<Context> {
  const { device, description } = await createContext({ backend: process.env.ADJOINT_WEBGPU_BACKEND ?? 'opengles' })
  return { device, description }
}

let context: Context | null = null
let reason = ''
try {
  context = await createDevice()
} catch (e) {
  reason = (e as Error).message
  if (process.env.CI) throw new Error(`CI needs a WebGPU adapter for the GEMM kernel tests and found none: ${reason}`)
  console.warn(`GEMM kernel tests skipped: ${reason}`)
}

/** Deterministic values in [-1, 1) (a 32-bit LCG), exactly representable in f32. */
function values(count: number, seed: number): Float32Array {
  const out = new Float32Array(count)
  let s = seed >>> 0
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = (s >>> 8) / 2 ** 23 - 1
  }
  return out
}

interface Case {
  name: string
  spec: MatmulSpec
}

const through = (w: OperandWindow, t: number, mn: number, l: number) =>
  place(t, w.batch) + place(mn, w.mn) + place(l, w.k)

/** Elements an operand's buffer needs: its stored matrices, or every element its window reads. */
function lengthOf(spec: MatmulSpec, side: 'A' | 'B'): number {
  const { batch, m, n, k } = spec
  const w = side === 'A' ? spec.windowA : spec.windowB
  if (w !== undefined)
    return 1 + [...w.batch, ...w.mn, ...w.k].reduce((e, [size, stride]) => e + (size - 1) * stride, 0)
  return side === 'A'
    ? (batch - 1) * (spec.batchStrideA ?? m * k) + m * k
    : (batch - 1) * (spec.batchStrideB ?? k * n) + k * n
}

function reference(spec: MatmulSpec, a: Float32Array, b: Float32Array, bias: Float32Array | null): Float64Array {
  const { batch, m, n, k, transA, transB, windowA, windowB } = spec
  const sA = spec.batchStrideA ?? m * k
  const sB = spec.batchStrideB ?? k * n
  const c = new Float64Array(batch * m * n)
  for (let t = 0; t < batch; t++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let acc = 0
        for (let l = 0; l < k; l++) {
          const x = a[windowA ? through(windowA, t, i, l) : t * sA + (transA ? l * m + i : i * k + l)]
          const y = b[windowB ? through(windowB, t, j, l) : t * sB + (transB ? j * k + l : l * n + j)]
          acc += x * y
        }
        c[(t * m + i) * n + j] = bias ? Math.max(acc + bias[j], 0) : acc
      }
  return c
}

const RELU_BIAS = {
  bindings: '@group(0) @binding(3) var<storage, read> bias: array<f32>;',
  body: 'return max(acc + bias[col], 0.0);',
}

async function run(ctx: Context, spec: MatmulSpec): Promise<{ actual: Float32Array; expected: Float64Array }> {
  const { device } = ctx
  const { batch, m, n, k } = spec
  const a = values(lengthOf(spec, 'A'), 1 + m * 31 + k)
  const b = values(lengthOf(spec, 'B'), 7 + n * 17 + k)
  const bias = spec.epilogue ? values(n, 99) : null
  // (Sizes rounded up to 16 bytes and UNIFORM usage, as the library's buffers have: B may be bound as a uniform.)
  const input = (data: Float32Array) => {
    const buffer = device.createBuffer({
      size: Math.ceil(data.byteLength / 16) * 16,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM,
      mappedAtCreation: true,
    })
    new Float32Array(buffer.getMappedRange()).set(data)
    buffer.unmap()
    return buffer
  }
  const bufA = input(a)
  const bufB = input(b)
  const bufBias = bias ? input(bias) : null
  const bytesC = batch * m * n * 4
  const bufC = device.createBuffer({ size: bytesC, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC })
  const readback = device.createBuffer({ size: bytesC, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })

  const kernel = renderMatmul(spec)
  device.pushErrorScope('validation')
  const module = device.createShaderModule({ code: kernel.code })
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: kernel.entryPoint } })
  const entries = [bufA, bufB, bufC, ...(bufBias ? [bufBias] : [])].map((buffer, binding) => ({
    binding,
    resource: bufferBinding(kernel, binding, buffer),
  }))
  const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries })
  const encoder = device.createCommandEncoder()
  const pass = encoder.beginComputePass()
  pass.setPipeline(pipeline)
  pass.setBindGroup(0, bindGroup)
  pass.dispatchWorkgroups(...kernel.workgroups)
  pass.end()
  encoder.copyBufferToBuffer(bufC, 0, readback, 0, bytesC)
  device.queue.submit([encoder.finish()])
  const error = await device.popErrorScope()
  if (error) {
    const info = await module.getCompilationInfo()
    throw new Error(
      `${error.message}\n${info.messages.map((msg) => `${msg.lineNum}:${msg.linePos} ${msg.message}`).join('\n')}\n${kernel.code}`,
    )
  }
  await readback.mapAsync(GPUMapMode.READ)
  const actual = new Float32Array(readback.getMappedRange().slice(0))
  readback.unmap()
  for (const buffer of [bufA, bufB, bufC, readback, ...(bufBias ? [bufBias] : [])]) buffer.destroy()
  return { actual, expected: reference(spec, a, b, bias) }
}

/** Each element of C within 1e-5 relative plus k·1e-6 absolute; a failure names the element by its place in C. */
function expectProduct(spec: MatmulSpec, actual: Float32Array, expected: Float64Array): void {
  expect(actual.length).toBe(expected.length)
  const far = firstFar(actual, expected, { rtol: 1e-5, atol: spec.k * 1e-6 })
  if (far === undefined) return
  const { m, n } = spec
  const [b, row, col] = [Math.floor(far.index / (m * n)), Math.floor(far.index / n) % m, far.index % n]
  expect.fail(`C[${b}, ${row}, ${col}] = ${far.actual}, expected ${far.expected} (spec ${JSON.stringify(spec)})`)
}

const shape = (batch: number, m: number, n: number, k: number, transA = false, transB = false) =>
  ({ batch, m, n, k, transA, transB }) satisfies MatmulSpec
const label = (s: MatmulSpec) =>
  `${s.batch > 1 ? `${s.batch}×` : ''}${s.m}×${s.n}×${s.k}${s.transA ? ' Aᵀ' : ''}${s.transB ? ' Bᵀ' : ''}`
const transposes = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const
const small: MatmulTile = { rows: 2, cols: 2, workgroup: [4, 2] }
const wide: MatmulTile = { rows: 4, cols: 8, workgroup: [4, 2] }

const cases: Case[] = [
  ...[
    shape(1, 1, 1, 1),
    shape(1, 7, 5, 3),
    shape(1, 65, 33, 17),
    shape(1, 1, 9, 5),
    shape(1, 9, 1, 5),
    shape(1, 3, 4, 1),
  ].map((spec) => ({ name: label(spec), spec })),
  ...transposes.flatMap(([ta, tb]) => [
    // odd sizes: every load one f32 at a time, partial tiles everywhere
    { name: label(shape(3, 13, 11, 9, ta, tb)), spec: shape(3, 13, 11, 9, ta, tb) },
    // multiples of 4: the vec4 loads along k, rows or columns, with a partial last tile
    { name: `${label(shape(2, 36, 44, 20, ta, tb))} vec4`, spec: { ...shape(2, 36, 44, 20, ta, tb), tile: wide } },
    // vec4 along rows/columns with k not a multiple of 4 (the k tail loop)
    {
      name: `${label(shape(1, 12, 16, 7, ta, tb))} vec4, k tail`,
      spec: { ...shape(1, 12, 16, 7, ta, tb), tile: wide },
    },
    {
      name: `${label(shape(2, 24, 20, 12, ta, tb))} f32 only`,
      spec: { ...shape(2, 24, 20, 12, ta, tb), tile: { ...wide, vectorize: false } },
    },
  ]),
  { name: 'default tile, 2×130×70×50', spec: shape(2, 130, 70, 50) },
  { name: 'default tile, 96×200×64', spec: shape(1, 96, 200, 64) },
  { name: 'broadcast A (batch stride 0)', spec: { ...shape(3, 10, 12, 8), batchStrideA: 0 } },
  { name: 'broadcast B (batch stride 0), Bᵀ', spec: { ...shape(3, 10, 12, 8, false, true), batchStrideB: 0 } },
  { name: 'broadcast B, odd sizes', spec: { ...shape(4, 5, 7, 3), batchStrideB: 0, tile: small } },
  { name: 'strided batches (stride > m·k)', spec: { ...shape(2, 4, 8, 4), batchStrideA: 20, batchStrideB: 36 } },
  { name: 'epilogue: bias + relu', spec: { ...shape(2, 33, 17, 9), epilogue: RELU_BIAS } },
  {
    name: 'epilogue: bias + relu, vec4, Bᵀ',
    spec: { ...shape(1, 16, 24, 8, false, true), epilogue: RELU_BIAS, tile: wide },
  },
  // llvmpipe stops an invocation after 65535 loop iterations in all: a 16×16 block over k = 1024
  // is right only if the shader compiler unrolls the block's loops, as the template expects.
  {
    name: 'long k with a 16×16 block: 64×64×1024',
    spec: { ...shape(1, 64, 64, 1024), tile: { rows: 16, cols: 16, workgroup: [4, 4] } },
  },
  // The blocks of huge products (HUGE_PRODUCT), over a long k.
  {
    name: 'long k with a 32×16 block, Aᵀ: 128×64×2000',
    spec: { ...shape(1, 128, 64, 2000, true, false), tile: { rows: 32, cols: 16, workgroup: [4, 4] } },
  },
  {
    name: 'long k with a 16×32 block: 64×128×2000',
    spec: { ...shape(1, 64, 128, 2000), tile: { rows: 16, cols: 32, workgroup: [4, 4] } },
  },
  {
    name: 'long k, f32 loads, Aᵀ: 32×48×1000',
    spec: { ...shape(1, 32, 48, 1000, true, false), tile: { rows: 16, cols: 16, workgroup: [2, 2], vectorize: false } },
  },
  { name: 'batch 70000 (linear workgroup numbering)', spec: shape(70000, 1, 1, 2) },
  // Several batch entries to a workgroup, the last workgroup's entries past the batch idle.
  {
    name: '5×9×16×40, Aᵀ, 2 batch entries a workgroup',
    spec: { ...shape(5, 9, 16, 40, true, false), tile: { rows: 9, cols: 16, workgroup: [1, 1], batches: 2 } },
  },
  {
    name: '11×6×12×7, 4 batch entries a workgroup of 2×3 invocations, with an epilogue',
    spec: {
      ...shape(11, 6, 12, 7),
      epilogue: RELU_BIAS,
      tile: { rows: 3, cols: 2, workgroup: [2, 3], batches: 4 },
    },
  },
  { name: 'the default tile of 19×9×16×24, Aᵀ (batch entries a workgroup)', spec: shape(19, 9, 16, 24, true, false) },
  // Windows (a convolution's windows of its padded input, read in place), in each read mode.
  ...windowCases(),
  {
    name: 'n = 66000 with 1×1 tiles (linear workgroup numbering)',
    spec: { ...shape(1, 2, 66000, 1), tile: { rows: 1, cols: 1, workgroup: [1, 1] } },
  },
]

/**
 * Products that read an operand through a window of a padded image [2, 6, 6, c]: the 3×3 windows of its 4×4
 * positions, as A (rows: the positions, k: the taps), as Aᵀ (rows: the taps) and as B; batches that split the
 * images, and a batch that reads the same window for each of its entries (stride 0).
 */
function windowCases(): Case[] {
  const image = (c: number) => ({
    positions: [
      [2, 36 * c],
      [4, 6 * c],
      [4, c],
    ] as Digit[],
    taps: [
      [3, 6 * c],
      [3, c],
      [c, 1],
    ] as Digit[],
  })
  const conv = (c: number, tile?: MatmulTile): Case => {
    const { positions, taps } = image(c)
    const spec = { ...shape(1, 32, 8, 9 * c), windowA: { batch: [], mn: positions, k: taps }, tile }
    return { name: `A a window, c = ${c}${tile === undefined ? '' : `, ${tile.rows}×${tile.cols} blocks`}`, spec }
  }
  const c4 = image(4)
  return [
    conv(1),
    conv(4),
    conv(4, wide),
    conv(3, small),
    {
      name: 'A a window read as rows (taps × positions), split into 2 batches',
      spec: {
        ...shape(2, 36, 8, 16),
        windowA: { batch: [[2, 144]], mn: c4.taps, k: c4.positions.slice(1) },
        tile: { rows: 4, cols: 4, workgroup: [2, 4] },
      },
    },
    {
      name: 'B a window (taps × filters), the same for 3 batches',
      spec: { ...shape(3, 5, 36, 32), windowB: { batch: [[3, 0]], mn: c4.taps, k: c4.positions }, tile: wide },
    },
    {
      name: 'B a window along k, f32 loads',
      spec: { ...shape(1, 6, 32, 36), windowB: { batch: [], mn: c4.positions, k: c4.taps }, tile: small },
    },
  ]
}

/** One invocation across the columns: every invocation of a workgroup reads the same elements of B. */
const oneAcross: MatmulTile = { rows: 8, cols: 16, workgroup: [1, 32] }
/** Products whose small B may be bound as a uniform (`uniformB`). */
const uniformCases: { name: string; spec: MatmulSpec }[] = (
  [
    // The first convolution's shape, smaller: its windows of a one-channel input's taps, and its kernel.
    {
      name: 'a window of taps times a 9×16 kernel',
      spec: {
        ...shape(1, 2 * 8 * 8, 16, 9),
        windowA: {
          batch: [],
          mn: [
            [2, 240],
            [8, 24],
            [8, 1],
          ],
          k: [[9, 8]],
        },
        tile: oneAcross,
      },
    },
    { name: 'B stored transposed, read along k', spec: { ...shape(1, 40, 8, 12, false, true), tile: oneAcross } },
    { name: 'a batch of 3, one entry a workgroup', spec: { ...shape(3, 24, 8, 5), tile: oneAcross } },
    { name: 'with an epilogue', spec: { ...shape(1, 33, 16, 7), tile: oneAcross, epilogue: RELU_BIAS } },
    // Many outputs in 32 columns: every column in one invocation (matmulTile), as the CNN's second convolution.
    { name: 'many rows of 32 columns, the tile chosen', spec: shape(1, 2056, 32, 20) },
  ] satisfies { name: string; spec: MatmulSpec }[]
).map(({ name, spec }) => ({ name, spec: { ...spec, uniformB: true } }))

/** One invocation across the rows: every invocation of a workgroup reads the same rows of A. */
const oneDown: MatmulTile = { rows: 8, cols: 8, workgroup: [8, 1] }
/** Products whose small A may be bound as a uniform (`uniformA`), within the device's limit. */
const uniformACases: { name: string; spec: MatmulSpec }[] = (
  [
    // A recurrent step's product h·W in four gate blocks, its A 32 KiB: over compatibility mode's default 16 KiB.
    { name: 'h·W in four gate blocks, the tile chosen', spec: { ...shape(1, 32, 1024, 256), groups: 4 } },
    { name: 'B stored transposed, read along k', spec: { ...shape(1, 20, 16, 12, false, true), tile: oneDown } },
    { name: 'a batch of 3, one entry a workgroup', spec: { ...shape(3, 12, 16, 8), tile: oneDown } },
    { name: 'with an epilogue', spec: { ...shape(1, 17, 24, 8), tile: oneDown, epilogue: RELU_BIAS } },
  ] satisfies { name: string; spec: MatmulSpec }[]
).map(({ name, spec }) => ({
  name,
  spec: { ...spec, uniformA: true, uniformBytes: context?.device.limits.maxUniformBufferBindingSize },
}))

describe.skipIf(context === null)(
  `renderMatmul on ${context?.description ?? `no adapter (skipped: ${reason})`}`,
  () => {
    afterAll(() => context?.device.destroy())
    for (const { name, spec } of cases) {
      it(name, async () => {
        const { actual, expected } = await run(context as Context, spec)
        expectProduct(spec, actual, expected)
      })
    }
    for (const { name, spec } of uniformCases)
      it(`B bound as a uniform: ${name}`, async () => {
        expect(renderMatmul(spec).uniformB).toBeGreaterThan(0)
        const { actual, expected } = await run(context as Context, spec)
        expectProduct(spec, actual, expected)
      })
    for (const { name, spec } of uniformACases)
      it(`A bound as a uniform: ${name}`, async () => {
        // (The library asks for the adapter's limit: 64 KiB on llvmpipe and SwiftShader.)
        expect(renderMatmul(spec).uniformA).toBeGreaterThan(0)
        const { actual, expected } = await run(context as Context, spec)
        expectProduct(spec, actual, expected)
      })
  },
)

describe('renderMatmul without a device', () => {
  it('keeps every dispatch dimension within the limit', () => {
    for (const spec of [
      shape(70000, 1, 1, 1),
      { ...shape(1, 1, 3_000_000, 1), tile: { rows: 1, cols: 1, workgroup: [1, 1] as [number, number] } },
      shape(5, 4096, 4096, 8),
    ])
      for (const d of renderMatmul(spec).workgroups) expect(d).toBeLessThanOrEqual(65535)
  })
  it('reads a window in vec4s only where its stride-1 digit and every other stride allow', () => {
    const summary = (spec: MatmulSpec) => renderMatmul(spec).code.split('\n')[0]
    const taps = (c: number): Digit[] => [
      [3, 6 * c],
      [3, c],
      [c, 1],
    ]
    const positions = (c: number): Digit[] => [
      [2, 36 * c],
      [4, 6 * c],
      [4, c],
    ]
    const a = (c: number) => ({ ...shape(1, 32, 8, 9 * c), windowA: { batch: [], mn: positions(c), k: taps(c) } })
    expect(summary(a(4))).toMatch(/A ALONG_K/)
    expect(summary(a(1))).toMatch(/A SCALAR/)
    // Four channels at a stride of 6 (not a multiple of 4): one f32 at a time.
    expect(
      summary({
        ...a(4),
        windowA: {
          ...a(4).windowA,
          k: [
            [3, 24],
            [3, 6],
            [4, 1],
          ] as Digit[],
        },
      }),
    ).toMatch(/A SCALAR/)
    expect(
      summary({
        ...shape(1, 36, 8, 32),
        windowA: { batch: [], mn: taps(4), k: positions(4) },
        tile: { rows: 4, cols: 4, workgroup: [2, 2] },
      }),
    ).toMatch(/A ALONG_MN/)
  })
  it('binds B as a uniform only where every invocation reads the same elements of a small B, as vec4s from a fixed start', () => {
    const uniform = (spec: MatmulSpec) => renderMatmul({ ...spec, uniformB: true })
    for (const { spec } of uniformCases) expect(renderMatmul(spec).code.split('\n')[0]).toMatch(/B \w+ \(a uniform\)/)
    const spec = { ...shape(1, 64, 16, 9), tile: oneAcross }
    expect(uniform(spec).uniformB).toBe(576)
    expect(renderMatmul(spec).uniformB).toBeUndefined()
    // Two invocations across the columns, several batch entries a workgroup, a B over 16 KiB, f32 reads.
    expect(uniform({ ...spec, tile: { rows: 8, cols: 8, workgroup: [2, 16] } }).uniformB).toBeUndefined()
    expect(
      uniform({ ...shape(4, 8, 16, 9), tile: { ...oneAcross, workgroup: [1, 1], batches: 4 } }).uniformB,
    ).toBeUndefined()
    expect(uniform({ ...shape(1, 64, 16, 257), tile: oneAcross }).uniformB).toBeUndefined()
    expect(uniform({ ...spec, tile: { ...oneAcross, vectorize: false } }).uniformB).toBeUndefined()
  })
  it('binds A as a uniform only where every invocation reads the same rows of a small A, as vec4s from a fixed start', () => {
    const uniform = (spec: MatmulSpec) => renderMatmul({ ...spec, uniformA: true })
    const spec = { ...shape(1, 16, 64, 8), tile: oneDown }
    expect(uniform(spec).uniformA).toBe(512)
    expect(uniform(spec).code.split('\n')[0]).toMatch(/A ALONG_K \(a uniform\)/)
    expect(renderMatmul(spec).uniformA).toBeUndefined()
    // A starting inside its buffer binds through its last element.
    expect(uniform({ ...spec, start: { a: 12 } }).uniformA).toBe(560)
    // Two invocations across the rows, several batch entries a workgroup, A stored transposed and read one f32 at
    // a time, f32 reads, a start that moves with a loop's steps, a window, an A over the limit.
    expect(uniform({ ...spec, tile: { ...oneDown, workgroup: [8, 2] } }).uniformA).toBeUndefined()
    expect(uniform({ ...shape(4, 16, 8, 8), tile: { ...oneDown, workgroup: [1, 1], batches: 4 } }).uniformA).toBe(
      undefined,
    )
    expect(uniform({ ...shape(1, 16, 64, 8, true), tile: { rows: 1, cols: 8, workgroup: [8, 1] } }).uniformA).toBe(
      undefined,
    )
    expect(uniform({ ...spec, tile: { ...oneDown, vectorize: false } }).uniformA).toBeUndefined()
    const step = { binding: 3, vectors: 1, a: { at: 'step[0][0]', aligned: true } }
    expect(uniform({ ...spec, step }).uniformA).toBeUndefined()
    expect(uniform({ ...spec, windowA: { batch: [], mn: [[16, 8]], k: [[8, 1]] } }).uniformA).toBeUndefined()
    expect(uniform({ ...spec, m: 1024 }).uniformA).toBeUndefined()
    expect(uniform({ ...spec, m: 1024, uniformBytes: 65536 }).uniformA).toBe(32768)
  })
  it('keeps one invocation across the rows where A may be a uniform and the lanes stay full, and across the columns where B may be', () => {
    const step = { ...shape(1, 32, 1024, 256), groups: 4 }
    expect(matmulTile(step).workgroup).toEqual([8, 2])
    // Over compatibility mode's default 16 KiB, so only where the device's limit is given.
    expect(matmulTile({ ...step, uniformA: true }).workgroup).toEqual([8, 2])
    expect(matmulTile({ ...step, uniformA: true, uniformBytes: 65536 })).toEqual({
      ...matmulTile(step),
      workgroup: [8, 1],
    })
    expect(renderMatmul({ ...step, uniformA: true, uniformBytes: 65536 }).uniformA).toBe(32768)
    // Many rows of at most 32 columns: one invocation across the columns, where B may be a uniform (B as stored,
    // within the limit).
    const wide = shape(1, 25088, 32, 144)
    const across = { rows: 8, cols: 32, workgroup: [1, 32] }
    expect(matmulTile(wide).workgroup[0]).toBeGreaterThan(1)
    expect(matmulTile({ ...wide, uniformB: true, uniformBytes: 65536 })).toEqual(across)
    expect(renderMatmul({ ...wide, uniformB: true, uniformBytes: 65536 }).uniformB).toBe(144 * 32 * 4)
    expect(matmulTile({ ...wide, uniformB: true })).toEqual(matmulTile(wide))
    expect(matmulTile({ ...wide, transB: true, uniformB: true, uniformBytes: 65536 })).toEqual(
      matmulTile({ ...wide, transB: true }),
    )
    expect(matmulTile({ ...shape(1, 25088, 36, 144), uniformB: true, uniformBytes: 65536 })).toEqual(
      matmulTile(shape(1, 25088, 36, 144)),
    )
    expect(matmulTile({ ...shape(1, 1024, 32, 144), uniformB: true, uniformBytes: 65536 })).toEqual(
      matmulTile(shape(1, 1024, 32, 144)),
    )
    // A given tile is kept; A stored transposed keeps the chosen tile.
    expect(matmulTile({ ...step, uniformA: true, uniformBytes: 65536, tile: oneDown })).toBe(oneDown)
    expect(matmulTile({ ...step, transA: true, uniformA: true, uniformBytes: 65536 }).workgroup).toEqual(
      matmulTile({ ...step, transA: true }).workgroup,
    )
  })
  it('rejects a window whose digits do not match the sizes', () => {
    const spec = { ...shape(1, 32, 8, 36), windowA: { batch: [], mn: [[32, 4]] as Digit[], k: [[9, 1]] as Digit[] } }
    expect(() => renderMatmul(spec)).toThrow(/windowA's digits take 1, 32 and 9 values, expected 1, 32 and 36/)
    expect(() => renderMatmul({ ...spec, windowA: { ...spec.windowA, k: [[36, -1]] } })).toThrow(/stride -1/)
  })
  it('rejects sizes that are not positive integers, and workgroups of more than 256 invocations', () => {
    expect(() => renderMatmul(shape(1, 0, 1, 1))).toThrow(/m must be/)
    expect(() => renderMatmul(shape(1, 2.5, 1, 1))).toThrow(/m must be/)
    const tile = { rows: 4, cols: 4, workgroup: [8, 8] as [number, number] }
    expect(() => renderMatmul({ ...shape(8, 4, 4, 4), tile: { ...tile, batches: 0 } })).toThrow(/tile.batches must be/)
    expect(() => renderMatmul({ ...shape(8, 4, 4, 4), tile: { ...tile, batches: 8 } })).toThrow(
      /a workgroup of 8×8×8 invocations is over 256/,
    )
  })
  it('chooses 16×16 blocks in 8×4 workgroups for large problems, wider for huge ones, smaller for small ones', () => {
    expect(chooseMatmulTile(shape(1, 512, 512, 512))).toEqual({ rows: 16, cols: 16, workgroup: [8, 4] })
    // From 2²⁸ multiply-adds, 32 along one side: the columns, or the rows where A is stored transposed.
    expect(chooseMatmulTile(shape(1, 1024, 1024, 1024))).toEqual({ rows: 16, cols: 32, workgroup: [8, 4] })
    expect(chooseMatmulTile(shape(1, 256, 1024, 1984, true))).toEqual({ rows: 32, cols: 16, workgroup: [8, 4] })
    // Not where the wider block would pad more than a quarter, or leave too few workgroups.
    expect(chooseMatmulTile(shape(1, 1024, 1000, 1024, true)).rows).toBe(32)
    expect(chooseMatmulTile(shape(1, 16, 1024 * 1024, 16)).cols).toBe(32)
    expect(chooseMatmulTile(shape(1, 4096, 48, 4096))).toMatchObject({ rows: 16, cols: 16 })
    // Few outputs: 8×8 blocks in fewer rows of invocations over a short k, big blocks in one row over a long one.
    expect(chooseMatmulTile(shape(1, 32, 128, 128))).toEqual({ rows: 8, cols: 8, workgroup: [8, 2] })
    expect(chooseMatmulTile(shape(1, 16, 128, 128))).toEqual({ rows: 8, cols: 8, workgroup: [8, 1] })
    expect(chooseMatmulTile(shape(1, 128, 128, 1600))).toEqual({ rows: 16, cols: 16, workgroup: [8, 1] })
    // Not with B stored transposed (an LSTM step's backward product h·Whᵀ): the blocks shrink instead.
    expect(chooseMatmulTile(shape(1, 32, 256, 1024, false, true))).toEqual({ rows: 8, cols: 8, workgroup: [8, 4] })
    // Under 2²⁶ multiply-adds over a short k, 8×8 blocks: they compile in a fraction of the time, and run as fast
    // there (the MLP step's weight gradient 784×256×128); over a long k (its first layer, k = 784) 16×16 still.
    expect(chooseMatmulTile(shape(1, 784, 256, 128))).toEqual({ rows: 8, cols: 8, workgroup: [8, 4] })
    expect(chooseMatmulTile(shape(1, 128, 256, 784))).toEqual({ rows: 16, cols: 16, workgroup: [8, 4] })
    expect(chooseMatmulTile(shape(1, 512, 512, 512)).rows).toBe(16)
    // Except a recurrent step's product of column blocks taken together (an LSTM step's four gates, run at every
    // step): 16×16, four columns of each block.
    expect(chooseMatmulTile({ ...shape(1, 32, 1024, 256), groups: 4 })).toEqual({
      rows: 16,
      cols: 16,
      workgroup: [8, 2],
    })
    expect(chooseMatmulTile(shape(1, 32, 1024, 256))).toMatchObject({ rows: 8, cols: 8 })
    // Narrow products of many outputs (a convolution's windows times its kernel, and the windows' gradient): 8×8,
    // or 16×4 across a row of invocations where there are few columns over more than a short k; likewise a
    // convolution's kernel gradient after split-K, with one row of invocations over its long k.
    expect(chooseMatmulTile(shape(1, 25088, 32, 144))).toEqual({ rows: 16, cols: 4, workgroup: [8, 4] })
    expect(chooseMatmulTile(shape(16, 144, 32, 1568, true))).toEqual({ rows: 16, cols: 4, workgroup: [8, 1] })
    // Over a short k (one input channel's nine taps), every column in an invocation, 8 rows of 32 invocations.
    expect(chooseMatmulTile(shape(1, 100352, 16, 9))).toEqual({ rows: 8, cols: 16, workgroup: [1, 32] })
    // 144 columns as three tiles of 6 invocations of 8 columns, none past n; 76 as two of 5 (80), not of 8 (128).
    expect(chooseMatmulTile(shape(1, 2048, 76, 256))).toEqual({ rows: 8, cols: 8, workgroup: [5, 6] })
    expect(chooseMatmulTile(shape(1, 25088, 144, 32))).toEqual({ rows: 8, cols: 8, workgroup: [6, 5] })
    expect(chooseMatmulTile(shape(1, 2048, 32, 1024))).toEqual({ rows: 16, cols: 4, workgroup: [8, 4] })
    expect(chooseMatmulTile(shape(1, 2048, 32, 1024, false, true))).toEqual({ rows: 16, cols: 4, workgroup: [8, 4] })
    // Wide ones over a short k keep 16×16 above 2²⁶ multiply-adds.
    expect(chooseMatmulTile(shape(1, 8192, 1024, 32)).rows).toBe(16)
    // Rows that no block fits without padding (a 3×3 kernel's 9 taps): one block of all of them; batched, every
    // column too, eight batch entries to a workgroup.
    expect(chooseMatmulTile(shape(16, 9, 16, 6272))).toEqual({ rows: 9, cols: 16, workgroup: [1, 1], batches: 8 })
    const t = chooseMatmulTile(shape(1, 1, 1, 1))
    expect(t.rows * t.workgroup[1] * t.cols * t.workgroup[0]).toBe(1)
    for (const [m, n] of [
      [1, 1000],
      [1000, 1],
      [65, 33],
      [9, 1],
      [128, 128],
      [7, 300],
      [3000, 5],
    ]) {
      const {
        rows,
        cols,
        workgroup: [wx, wy],
      } = chooseMatmulTile(shape(1, m, n, 64))
      for (const size of [rows, cols, wx, wy])
        expect(Number.isInteger(size) && size >= 1, `${m}×${n}: ${size}`).toBe(true)
      expect(wx * wy, `${m}×${n}`).toBeLessThanOrEqual(32)
      expect(Math.ceil(m / rows) * rows, `${m}×${n}`).toBeLessThanOrEqual(1.25 * m)
      expect(Math.ceil(n / cols) * cols, `${m}×${n}`).toBeLessThanOrEqual(1.25 * n)
    }
  })
})
