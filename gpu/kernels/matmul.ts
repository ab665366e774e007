/**
 * GEMM kernel generator: C[b] = op(A[b]) · op(B[b]) in f32 WGSL, one shader
 * per shape. The kernel is the hand-written template gpu/kernels/matmul.wgsl
 * (its header explains the tiling: register blocks, vec4 loads, no workgroup
 * memory); this module chooses the block, the read modes and the dispatch grid
 * and fills the template's placeholders (sizes and strides become constants,
 * so the shader compiler unrolls the block; callers cache the pipelines).
 *
 * Measured with bench/gemm.ts on 1024³ (2-core EPYC, llvmpipe, median
 * GFLOP/s; the machine was shared, so ±15%): naive one-invocation-per-element
 * 1.5; f32 loads: 4×4 5.3, 8×8 10.0, 16×16 15.7; vec4 loads: 4×4 8.1,
 * 8×8 16.7, 8×16 19.4, 16×8 19.4, 16×16 in 8×4 workgroups 23.4 (with Aᵀ 21.0,
 * Bᵀ 19.4, both 23.1), 16×16 in 8×8 23.2, 24×16 24.2. The default for large
 * problems is 16×16 blocks in 8×4 workgroups (vec4 where the shape allows):
 * within noise of the best, and it compiles in under half the time of 24×16
 * (about 2 s vs 2.5–3.5 s on a cold Mesa shader cache; 32-wide blocks take
 * 5–6 s). Small problems get smaller blocks (`chooseMatmulTile`). On
 * SwiftShader (core Vulkan, 256 invocations per workgroup) the same kernels run
 * and 16×16 vec4 is also the fastest of these variants, at about 1.9 GFLOP/s.
 * These figures were taken with the kernel generated as straight-line code;
 * the template (loops of constant trip count that Mesa unrolls) measured the
 * same, the two interleaved in one process on 1024³ (best of 9: 23.2 against
 * 22.8 GFLOP/s; medians, with the machine loaded, 8.4–12.9 against
 * 9.0–13.4 over five runs), and compiles no slower on a cold shader cache
 * (1.2 against 1.6 s).
 *
 * Compile time on a cold cache. llvmpipe compiles a kernel at its first
 * dispatch, on the calling thread, and its time grows with the unrolled
 * store of the block, not with the WGSL's size. Measured per kernel of the
 * benchmark's MLP step (first dispatch on a cold cache, each in a fresh process):
 *
 * - A 16×16 block with a fused epilogue that reads two buffers took 4.9 s.
 *   The epilogue's loads were repeated in each of the 256 unrolled stores.
 *   With the epilogue in a loop of its own that is not unrolled, the same
 *   kernel takes 1 s or less.
 * - A block stored one f32 at a time took 0.7–1.5 s. Stored four columns at
 *   a time, vec4 by vec4, it takes 0.3–0.6 s.
 * - A 16×16 block still compiles in 0.3–0.6 s, against 0.1–0.2 s for 8×8.
 *   Small products over a short k therefore take 8×8 blocks
 *   (`SMALL_PRODUCT`, below); at those sizes they run as fast.
 *
 * The MLP step's first call fell from 18 s to 1.9–2.0 s, and the RNN
 * step's from 14 s to 1.9 s. TF.js webgpu takes 1.6 and 1.5 s
 * (`npx tsx bench/peers/run.ts --cold`).
 *
 * Steady-state speed is unchanged within the noise (one run each, on a
 * shared machine):
 * - 1024³: 21.0 against 15.5 GFLOP/s;
 * - MLP: 8,756–10,583 against 6,276–9,524 samples/s;
 * - RNN: 44–63 against 43–76 steps/s.
 */

import { MATMUL_WGSL } from './sources.ts'
import { fillTemplate } from './template.ts'

/** Which block of C one invocation computes, and how invocations are grouped. */
export interface MatmulTile {
  /** Rows of C per invocation (kept in registers). */
  rows: number
  /** Columns of C per invocation (kept in registers). */
  cols: number
  /** Invocations per workgroup along columns (x) and rows (y). */
  workgroup: [number, number]
  /** Batch entries one workgroup takes, each with its own invocations (default 1). */
  batches?: number
  /**
   * Read A and B as `array<vec4<f32>>` along their contiguous dimension when
   * the shape allows it (default true). The buffers and bind group are the
   * same either way.
   */
  vectorize?: boolean
}

/** One digit of an index: how many values it takes, and the stride between them in the buffer, in elements. */
export type Digit = readonly [size: number, stride: number]

/** How many values digits take together: the product of their sizes. */
export const sizeOfDigits = (digits: readonly Digit[]) => digits.reduce((p, [size]) => p * size, 1)

/**
 * An operand read through strides: element (b, i, k) of op(A) (or (b, k, j) of op(B)) is at the operand's start
 * plus, for each of b, i (or j) and k written in its digits (outermost first, sizes multiplying to batch, m or n
 * and k), each digit times its stride. A convolution's windows of its padded input, read in place.
 */
export interface OperandWindow {
  readonly batch: readonly Digit[]
  readonly mn: readonly Digit[]
  readonly k: readonly Digit[]
}

export interface MatmulSpec {
  /** C[b] = op(A[b]) · op(B[b]); C is [batch, m, n] row-major. */
  batch: number
  m: number
  n: number
  k: number
  /** A stored as [batch, k, m] instead of [batch, m, k]. */
  transA: boolean
  /** B stored as [batch, n, k] instead of [batch, k, n]. */
  transB: boolean
  /** Elements between consecutive batch entries of A; 0 broadcasts A. Default m*k. */
  batchStrideA?: number
  /** Elements between consecutive batch entries of B; 0 broadcasts B. Default k*n. */
  batchStrideB?: number
  /** A read through a window (transA and batchStrideA then say nothing); likewise B. */
  windowA?: OperandWindow
  windowB?: OperandWindow
  /** Variant selection; default chosen by `chooseMatmulTile`. */
  tile?: MatmulTile
  /**
   * Fused epilogue: extra binding declarations (from binding 3 on) and the
   * body of `fn epilogue(acc: f32, b: u32, row: u32, col: u32) -> f32`.
   */
  epilogue?: { bindings: string; body: string }
  /**
   * Column blocks taken together (default 1): C's n columns are `groups` blocks of n / groups, and an invocation
   * computes the same columns of each (the template's Stores).
   */
  groups?: number
  /**
   * Further outputs: binding declarations (after ALSO) and the body of `fn stores(b: u32, row: u32, j: u32)`,
   * which may read `product(b, row, j, g)`.
   */
  stores?: { bindings: string; body: string }
  /**
   * Inside a loop: the binding of the step uniform (`step`, an array of
   * `vectors` vec4<u32>), and for each of A, B and C that starts elsewhere
   * at each step (one step's slice of a stacked buffer), where it starts.
   */
  step?: { binding: number; vectors: number; a?: StepSlice; b?: StepSlice; c?: StepSlice }
  /**
   * Where A, B, C and ALSO start in their buffers, in elements (default 0):
   * an operand that is part of a larger buffer.
   */
  start?: { a?: number; b?: number; c?: number; also?: number }
  /** A second output laid out as C, at this binding (and where it starts, if it is one step's slice). */
  also?: { binding: number; slice?: StepSlice }
  /**
   * B may be bound as a uniform (default false): the caller's buffer for it has UNIFORM usage, and no other
   * input shares its binding. The product binds it so where B is within `uniformBytes`, read as vec4s from
   * a fixed start, and every invocation of a workgroup reads the same elements of it (`RenderedMatmul.uniformB`).
   */
  uniformB?: boolean
  /**
   * Likewise A (binding 0), where every invocation of a workgroup reads the same rows of it: one invocation across
   * the rows. Where the tile is not given and A is small enough, the chosen tile then keeps one invocation across the
   * rows (`matmulTile`).
   */
  uniformA?: boolean
  /** The largest operand bound as a uniform, in bytes: the device's maxUniformBufferBindingSize (default `UNIFORM_BYTES`). */
  uniformBytes?: number
}

/**
 * Where an operand starts at this step: a u32 WGSL expression over the step
 * uniform, and whether it is a multiple of 4 at every step.
 */
export interface StepSlice {
  at: string
  aligned: boolean
}

export interface RenderedMatmul {
  code: string
  workgroups: [number, number, number]
  entryPoint: string
  /** Where B is bound as a uniform: the bytes to bind from its buffer's start (a multiple of 16). */
  uniformB?: number
  /** Likewise A. */
  uniformA?: number
}

/**
 * The largest operand bound as a uniform where the device's limit is not given: WebGPU's default
 * maxUniformBufferBindingSize in compatibility mode (16 KiB; 64 KiB in core, and llvmpipe's adapter offers 64 KiB
 * in compatibility mode too).
 */
export const UNIFORM_BYTES = 16384

/** Whether blocks of `block` cover `size` with at most a quarter more. */
const fits = (size: number, block: number) => Math.ceil(size / block) * block <= 1.25 * size

/** The bytes of an operand bound as a uniform from its buffer's start: through its last element, in whole vec4s. */
const uniformSize = (start: number, extent: number) => Math.ceil((start + extent) / 4) * 16

/**
 * The resource of a kernel's binding `binding`: a product's A or B bound as a uniform (binding 0 or 1) takes its
 * bytes only. (Generic in the buffer, so that the package's declarations name no WebGPU type: see
 * test/package.test.ts.)
 */
export const bufferBinding = <Buffer>(
  kernel: { readonly uniformA?: number; readonly uniformB?: number },
  binding: number,
  buffer: Buffer,
): { buffer: Buffer; size?: number } => {
  const size = binding === 0 ? kernel.uniformA : binding === 1 ? kernel.uniformB : undefined
  return size === undefined ? { buffer } : { buffer, size }
}

/** WebGPU's limit on workgroups per dispatch dimension. */
export const MAX_WORKGROUPS_PER_DIMENSION = 65535

function checkSize(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min || v >= 2 ** 31)
    throw new RangeError(`renderMatmul: ${name} must be an integer >= ${min}, got ${v}`)
}

/**
 * How an operand is read (the template's read modes): one f32 at a time, or a
 * vec4 of four consecutive elements along k or along the rows/columns of C.
 */
type Read = 'SCALAR' | 'ALONG_K' | 'ALONG_MN'

/**
 * Whether a tile could bind the operand as a uniform, whatever the tile: asked for (`MatmulSpec.uniformA`/`uniformB`),
 * as stored (no window, no transpose), from a fixed start, in vec4s along its rows, within the limit. `renderMatmul`
 * decides for the tile it has.
 */
function mayBeUniform(spec: MatmulSpec, operand: 'a' | 'b'): boolean {
  const a = operand === 'a'
  const { batch, m, n, k } = spec
  const size = a ? m * k : k * n
  const start = spec.start?.[operand] ?? 0
  const stride = (a ? spec.batchStrideA : spec.batchStrideB) ?? size
  return (
    (a ? spec.uniformA : spec.uniformB) === true &&
    (a ? spec.windowA : spec.windowB) === undefined &&
    spec.step?.[operand] === undefined &&
    !(a ? spec.transA : spec.transB) &&
    (a ? k : n) % 4 === 0 &&
    stride % 4 === 0 &&
    start % 4 === 0 &&
    uniformSize(start, (batch - 1) * stride + size) <= (spec.uniformBytes ?? UNIFORM_BYTES)
  )
}

/**
 * The tile a product is rendered with: its own, or the one `chooseMatmulTile` picks for its shape. Where B may be
 * bound as a uniform (`MatmulSpec.uniformB`: B as stored, read along the columns as vec4s from a fixed start, within
 * the device's limit) and has at most 32 columns, over many outputs, one invocation takes all of them (blocks of 8
 * rows, 32 invocations along the rows), so that B is a uniform. Measured on llvmpipe (the CNN's second convolution,
 * 25088×32×144 with A a window, and the same product with 8 and 16 columns from a plain A, best of 9 submissions of
 * 3 dispatches, GFLOP/s): 16×4 blocks in 8×4 19.3, 8×32 in 1×32 with B a uniform 29.1; 8 columns 16.2 against 19.0,
 * 16 columns 16.9 against 22.7 (in a slower spell). Where A may be
 * bound as a uniform (`MatmulSpec.uniformA`: A as stored, read along k as vec4s from a fixed start, within the
 * device's limit) and the chosen tile fills a SIMD batch's lanes along the columns, the tile keeps one invocation
 * across the rows, so that A is a uniform. Measured on llvmpipe (an LSTM step's product h·Wh, 32×1024×256 in four
 * gate blocks, best of 9 submissions of 16 dispatches, GFLOP/s, in a slow spell): 16×16 blocks in 8×2 with A in
 * storage 14.2, in 8×1 15.3, in 8×1 with A a uniform 18.1; without gate blocks 15.3, 15.3 and 19.7.
 */
export function matmulTile(spec: MatmulSpec): MatmulTile {
  if (spec.tile !== undefined) return spec.tile
  const { windowA, windowB } = spec
  // (A window tells the tile which way its operand lies by where its stride-1 digit is.)
  const chosen = chooseMatmulTile({
    ...spec,
    groups: spec.groups ?? 1,
    transA: windowA === undefined ? spec.transA : innerStride(windowA.k) !== 1,
    transB: windowB === undefined ? spec.transB : innerStride(windowB.k) === 1,
  })
  const { m, n } = spec
  if (mayBeUniform(spec, 'b') && (spec.groups ?? 1) === 1 && n >= 4 && n <= 32 && m * n >= MANY_OUTPUTS && fits(m, 8))
    return { rows: 8, cols: n, workgroup: [1, WORKGROUP_INVOCATIONS] }
  const [wx, wy] = chosen.workgroup
  const uniformA = mayBeUniform(spec, 'a') && chosen.vectorize !== false && (chosen.batches ?? 1) === 1
  return uniformA && wy > 1 && wx >= 8 ? { ...chosen, workgroup: [wx, 1] } : chosen
}

export function renderMatmul(spec: MatmulSpec): RenderedMatmul {
  const { batch, m, n, k, transA, transB } = spec
  checkSize('batch', batch, 1)
  checkSize('m', m, 1)
  checkSize('n', n, 1)
  checkSize('k', k, 1)
  const strideA = spec.batchStrideA ?? m * k
  const strideB = spec.batchStrideB ?? k * n
  checkSize('batchStrideA', strideA, 0)
  checkSize('batchStrideB', strideB, 0)
  const startA = spec.start?.a ?? 0
  const startB = spec.start?.b ?? 0
  checkSize('start.a', startA, 0)
  checkSize('start.b', startB, 0)
  const { windowA, windowB } = spec
  if (windowA !== undefined) checkWindow('windowA', windowA, batch, m, k)
  if (windowB !== undefined) checkWindow('windowB', windowB, batch, n, k)
  const extentA = windowA === undefined ? (batch - 1) * strideA + m * k : extentOf(windowA)
  const extentB = windowB === undefined ? (batch - 1) * strideB + k * n : extentOf(windowB)
  if (startA + extentA > 2 ** 32 || startB + extentB > 2 ** 32 || batch * m * n > 2 ** 32)
    throw new RangeError('renderMatmul: operands too large for u32 indexing')
  const groups = spec.groups ?? 1
  checkSize('groups', groups, 1)
  if (n % groups !== 0) throw new RangeError(`renderMatmul: ${groups} column blocks do not divide n = ${n}`)
  const units = n / groups
  const tile = matmulTile(spec)
  const R = tile.rows
  const Cn = tile.cols
  if (Cn % groups !== 0)
    throw new RangeError(`renderMatmul: a block of ${Cn} columns does not take ${groups} column blocks evenly`)
  // Columns of each block per invocation.
  const unitCols = Cn / groups
  const [wx, wy] = tile.workgroup
  const wb = tile.batches ?? 1
  checkSize('tile.rows', R, 1)
  checkSize('tile.cols', Cn, 1)
  checkSize('tile.workgroup[0]', wx, 1)
  checkSize('tile.workgroup[1]', wy, 1)
  checkSize('tile.batches', wb, 1)
  if (wx * wy * wb > 256)
    throw new RangeError(
      `renderMatmul: a workgroup of ${wx}×${wy}×${wb} invocations is over 256, WebGPU's default limit`,
    )
  if (R * Cn > 1024)
    throw new RangeError(`renderMatmul: a ${R}×${Cn} block is more accumulators than any register file holds`)

  // vec4 loads need the vec4 to lie within one row (or column) of one batch entry.
  // A slice's start (t times its elements per step) must keep that alignment too.
  const vectorize = tile.vectorize ?? true
  const step = spec.step
  const aligned = (s: StepSlice | undefined, start: number) => start % 4 === 0 && (s === undefined || s.aligned)
  const readA: Read =
    !vectorize || !aligned(step?.a, startA)
      ? 'SCALAR'
      : windowA !== undefined
        ? windowRead(windowA, R % 4 === 0)
        : strideA % 4 !== 0
          ? 'SCALAR'
          : !transA && k % 4 === 0
            ? 'ALONG_K'
            : transA && m % 4 === 0 && R % 4 === 0
              ? 'ALONG_MN'
              : 'SCALAR'
  const readB: Read =
    !vectorize || !aligned(step?.b, startB)
      ? 'SCALAR'
      : windowB !== undefined
        ? windowRead(windowB, units % 4 === 0 && unitCols % 4 === 0)
        : strideB % 4 !== 0
          ? 'SCALAR'
          : transB && k % 4 === 0
            ? 'ALONG_K'
            : !transB && units % 4 === 0 && unitCols % 4 === 0
              ? 'ALONG_MN'
              : 'SCALAR'

  // Dispatch: x = column tiles, y = row tiles, z = batch; when one of them is
  // over the per-dimension limit, the same workgroup numbering wraps.
  const tilesX = Math.ceil(units / (unitCols * wx))
  const tilesY = Math.ceil(m / (R * wy))
  const batchTiles = Math.ceil(batch / wb)
  const total = tilesX * tilesY * batchTiles
  const L = MAX_WORKGROUPS_PER_DIMENSION
  let workgroups: [number, number, number]
  if (tilesX <= L && tilesY <= L && batchTiles <= L) workgroups = [tilesX, tilesY, batchTiles]
  else {
    const x = Math.min(total, L)
    const y = Math.min(Math.ceil(total / x), L)
    const z = Math.ceil(total / (x * y))
    if (z > L) throw new RangeError(`renderMatmul: ${total} workgroups exceed the dispatch limit`)
    workgroups = [x, y, z]
  }

  // B as a uniform: every invocation of a workgroup reads the same elements of B (one invocation across the
  // columns, one batch entry a workgroup), from a start that does not move with a loop's steps, as vec4s. Likewise A,
  // with one invocation across the rows.
  const limit = spec.uniformBytes ?? UNIFORM_BYTES
  const bindsUniform = (
    asked: boolean | undefined,
    across: number,
    window: OperandWindow | undefined,
    moves: StepSlice | undefined,
    read: Read,
    bytes: number,
  ) =>
    asked === true &&
    across === 1 &&
    wb === 1 &&
    window === undefined &&
    moves === undefined &&
    read !== 'SCALAR' &&
    bytes <= limit
  const uniformBytes = uniformSize(startB, extentB)
  const uniformB = bindsUniform(spec.uniformB, wx, windowB, step?.b, readB, uniformBytes)
  const uniformABytes = uniformSize(startA, extentA)
  const uniformA = bindsUniform(spec.uniformA, wy, windowA, step?.a, readA, uniformABytes)
  const element = (read: Read) => (read === 'SCALAR' ? 'f32' : 'vec4<f32>')
  // C four columns at a time: the columns of an invocation come in groups of four, and
  // every group starts at a multiple of 4 (N, and where C starts at every step). Storing a whole block
  // takes a quarter of the store instructions, which is most of what the shader compiler spends its time on.
  const colGroup = unitCols % 4 === 0 ? 4 : 1
  const writeC4 = colGroup === 4 && units % 4 === 0 && aligned(step?.c, spec.start?.c ?? 0)
  const code = fillTemplate('gpu/kernels/matmul.wgsl', MATMUL_WGSL, {
    M: m,
    N: n,
    K: k,
    BATCH: batch,
    STRIDE_A: strideA,
    STRIDE_B: strideB,
    TRANS_A: transA,
    TRANS_B: transB,
    ROWS: R,
    COLS: Cn,
    WX: wx,
    WY: wy,
    WB: wb,
    BATCH_TILES: batchTiles,
    TILES_X: tilesX,
    TILES_Y: tilesY,
    GROUPS_X: workgroups[0],
    GROUPS_Y: workgroups[1],
    A_READ: readA,
    B_READ: readB,
    A_ELEMENT: element(readA),
    B_ELEMENT: element(readB),
    EPILOGUE_DECLARATIONS: spec.epilogue?.bindings.trim() ?? '',
    EPILOGUE_BODY: spec.epilogue?.body.trim() ?? 'return acc;',
    HAS_EPILOGUE: spec.epilogue !== undefined || spec.also !== undefined,
    C_VEC4: writeC4,
    COL_GROUP: colGroup,
    GROUPS: groups,
    STORE_DECLARATIONS: spec.stores?.bindings.trim() ?? '',
    STORES_BODY: spec.stores?.body.trim() ?? '',
    HAS_STORES: spec.stores !== undefined,
    C_ELEMENT: writeC4 ? 'vec4<f32>' : 'f32',
    C_FROM_QUAD: writeC4 ? 'q' : 'q.x',
    STEP_DECLARATION:
      step === undefined
        ? ''
        : `@group(0) @binding(${step.binding}) var<uniform> step: array<vec4<u32>, ${step.vectors}>;`,
    A_OFFSET:
      windowA === undefined
        ? `return ${offset(step?.a, startA)} + b * STRIDE_A + row * select(K, 1u, TRANS_A);`
        : `return ${offset(step?.a, startA)} + ${digits('b', windowA.batch)} + ${digits('row', windowA.mn)};`,
    A_STEP: windowA === undefined ? 'return k * A_K_STEP;' : `return ${digits('k', windowA.k)};`,
    B_OFFSET:
      windowB === undefined
        ? `return ${offset(step?.b, startB)} + b * STRIDE_B + col * select(1u, K, TRANS_B);`
        : `return ${offset(step?.b, startB)} + ${digits('b', windowB.batch)} + ${digits('col', windowB.mn)};`,
    B_STEP: windowB === undefined ? 'return k * B_K_STEP;' : `return ${digits('k', windowB.k)};`,
    A_DECLARATION: uniformA
      ? `@group(0) @binding(0) var<uniform> A: array<vec4<f32>, ${uniformABytes / 16}>;`
      : '@group(0) @binding(0) var<storage, read> A: array<AElement>;',
    B_DECLARATION: uniformB
      ? `@group(0) @binding(1) var<uniform> B: array<vec4<f32>, ${uniformBytes / 16}>;`
      : '@group(0) @binding(1) var<storage, read> B: array<BElement>;',
    OFFSET_C: offset(step?.c, spec.start?.c ?? 0),
    ALSO_DECLARATION:
      spec.also === undefined
        ? ''
        : `@group(0) @binding(${spec.also.binding}) var<storage, read_write> ALSO: array<f32>;`,
    ALSO_STORE: spec.also === undefined ? '' : `ALSO[${offset(spec.also.slice, spec.start?.also ?? 0)} + i] = v;`,
  })
  const operand = (name: string, window: OperandWindow | undefined, trans: boolean) =>
    window !== undefined ? `${name} (a window)` : trans ? `${name}ᵀ` : name
  const summary =
    `// C[b] = ${operand('A', windowA, transA)}[b] · ${operand('B', windowB, transB)}[b]; ` +
    `${R}×${Cn} block of C per invocation${groups > 1 ? ` (${unitCols} columns of each of ${groups} blocks)` : ''}, ` +
    `workgroup ${wx}×${wy}; A ${readA}${uniformA ? ' (a uniform)' : ''}, B ${readB}${uniformB ? ' (a uniform)' : ''}.`
  return {
    code: `${summary}\n${code}`,
    workgroups,
    entryPoint: 'main',
    ...(uniformA ? { uniformA: uniformABytes } : {}),
    ...(uniformB ? { uniformB: uniformBytes } : {}),
  }
}

/** The stride of a window's innermost digit (0 where it has none). */
const innerStride = (digits: readonly Digit[]) => digits[digits.length - 1]?.[1] ?? 0

/**
 * How a window is read: vec4s along k or along m (n), where that axis's innermost digit has stride 1 and a
 * multiple of 4 values and every other stride is a multiple of 4 (so the four lie in one run and start aligned).
 */
function windowRead(w: OperandWindow, mnAllowed: boolean): Read {
  const all = [...w.batch, ...w.mn, ...w.k]
  const quads = (digits: readonly Digit[]) => {
    const inner = digits[digits.length - 1]
    return (
      inner !== undefined && inner[1] === 1 && inner[0] % 4 === 0 && all.every((d) => d === inner || d[1] % 4 === 0)
    )
  }
  return quads(w.k) ? 'ALONG_K' : mnAllowed && quads(w.mn) ? 'ALONG_MN' : 'SCALAR'
}

/** The largest element a window reads, plus one. */
const extentOf = (w: OperandWindow) =>
  [...w.batch, ...w.mn, ...w.k].reduce((e, [size, stride]) => e + (size - 1) * stride, 1)

function checkWindow(name: string, w: OperandWindow, batch: number, mn: number, k: number): void {
  for (const [size, stride] of [...w.batch, ...w.mn, ...w.k])
    if (!Number.isInteger(size) || size < 1 || !Number.isInteger(stride) || stride < 0)
      throw new RangeError(`renderMatmul: ${name} has a digit of size ${size} and stride ${stride}`)
  const sizes = [w.batch, w.mn, w.k].map(sizeOfDigits)
  if (sizes[0] !== batch || sizes[1] !== mn || sizes[2] !== k)
    throw new RangeError(
      `renderMatmul: ${name}'s digits take ${sizes[0]}, ${sizes[1]} and ${sizes[2]} values, ` +
        `expected ${batch}, ${mn} and ${k}`,
    )
}

/**
 * A u32 WGSL expression of the offset of index `x` (below the product of the sizes) written in `digits`: each
 * digit's value times its stride.
 */
function digits(x: string, ds: readonly Digit[]): string {
  const terms: string[] = []
  let inner = 1
  for (let i = ds.length - 1; i >= 0; i--) {
    const [size, stride] = ds[i]
    const quotient = inner === 1 ? x : `${x} / ${inner}u`
    const value = i === 0 ? quotient : `(${quotient}) % ${size}u`
    if (stride !== 0) terms.unshift(stride === 1 ? `(${value})` : `(${value}) * ${stride}u`)
    inner *= size
  }
  return terms.length === 0 ? '0u' : terms.join(' + ')
}

/** Where an operand starts, in the template's u32 element indices. */
const offset = (slice: StepSlice | undefined, start = 0) =>
  slice === undefined ? `${start}u` : `${slice.at} + ${start}u`

/** Invocations per workgroup the default tiles aim for: four SIMD batches of 8 on llvmpipe. */
const WORKGROUP_INVOCATIONS = 32
/** Fewer workgroups than this leave cores idle; tiles shrink until there are enough. */
const MIN_WORKGROUPS = 4
const BLOCKS = [16, 8, 4, 2, 1]
/**
 * Below this many multiply-adds, over a short k, blocks are at most 8×8: a 16×16 block compiles in 2–3 times the
 * time on a cold cache (0.3–0.6 s against 0.1–0.2 s per kernel on llvmpipe) and ran no faster at these sizes.
 */
const SMALL_PRODUCT = 2 ** 26

/**
 * Products with at most this many columns, or this many steps of k, take blocks of at most 8×8 (k short of
 * LONG_K): a convolution's product of its windows with a narrow kernel. Measured on llvmpipe (sweeps of tiles,
 * best of 5 submissions of 3 dispatches, GFLOP/s; 1024³ with the default tile 22.5): 25088×32×144 16×16
 * in 2×16 workgroups 10.7 against 8×8 in 4×8 14.7; 25088×144×32 with Bᵀ 16×16 in 8×4 10.0 against 8×8 in 8×4
 * 14.6.
 */
const NARROW = 32
/** Outputs from which a narrow product has workgroups to spare for smaller blocks. */
const MANY_OUTPUTS = 65536

/**
 * From this many multiply-adds, blocks are 32 along one side: the rows where A is stored transposed (read as vec4s
 * of four rows), else the columns. Measured on llvmpipe (sweeps of tiles, best of 5 submissions of 3 dispatches,
 * GFLOP/s, two sweeps): 256×1024×1984 with Aᵀ (an LSTM's recurrent weight gradient over 62 steps)
 * 16×16 22.1, 23.2 against 32×16 31.0, 29.6 and 16×32 29.1, 28.3; 1024³ 16×16 27.1, 26.3 against 16×32 29.4,
 * 28.4 (32×16 25.7). A 32×16 block compiles in 118 ms against 90 for 16×16 on a cold cache.
 */
const HUGE_PRODUCT = 2 ** 28

/** From this many steps of k, an invocation's work outweighs the parallelism that smaller blocks would buy. */
const LONG_K = 512

/**
 * The default tile for a shape, tuned on llvmpipe (see the measurements at
 * the top of this file): 16×16 blocks in 8×4 workgroups for large problems;
 * smaller blocks where a dimension is small (at most a quarter of the rows or
 * columns computed are padding) or where the big tile would leave fewer than
 * four workgroups. A product of few outputs over a long k (a weight gradient
 * summed over all the rows of a batch or of a sequence) keeps its big blocks
 * and takes workgroups of one row of 8 invocations instead: measured with
 * the loop of bench/gemm.ts's kind, 50 dispatches a submission (µs per
 * dispatch), 128×128×1600 with Aᵀ 2,750 → 2,100 and 32×128×1600 with Aᵀ
 * 840 → 580 (8×8 blocks in 8×1 workgroups 710, 8×16 1,020); so do they
 * where the columns do not fill a row of 8 (a convolution's weight gradient,
 * 144×32×25,088 with Aᵀ: 26 ms in 4×8 blocks, 49 in 16×16 ones). Below 8×8,
 * fewer invocations per workgroup beat smaller blocks (same loop, µs per
 * dispatch): 32×128×128 145 in 4×8 blocks and 8×4 workgroups → 124 in 8×8 and
 * 8×2 (with Bᵀ 153 → 124), 16×128×128 168 → 108, 64×64×64 112 → 104,
 * 128×10×256 403 → 254, 32×32×32 95 → 86. Products under `SMALL_PRODUCT`
 * multiply-adds over a short k take blocks of at most 8×8, which compile
 * two to three times faster on a cold cache.
 */
export function chooseMatmulTile(
  spec: Pick<MatmulSpec, 'batch' | 'm' | 'n' | 'k' | 'groups'> & {
    readonly transA?: boolean
    readonly transB?: boolean
  },
): MatmulTile {
  const groups = spec.groups ?? 1
  // With column blocks taken together the tile is chosen over one block's columns (n below), and an invocation
  // takes its columns in every block: at least 4 of each (for vec4 reads of B), about `cap` columns in all.
  const { batch, m, k } = spec
  const n = spec.n / groups
  const narrow = spec.m * spec.n >= MANY_OUTPUTS && (spec.n <= NARROW || (k <= NARROW && spec.n < 8 * NARROW))
  // Column blocks taken together are a recurrent step's product, run at every step: its compile time buys T
  // dispatches, and its blocks are not capped for a small product. Measured on the LSTM benchmark's step
  // (32×1024×256 in 4 blocks; bench/ab.ts, 20 calls each way, interleaved): 8×16 blocks in 8×4 workgroups, min
  // 212.6 ms, 25th percentile 215.3, against 16×16 in 8×2, 199.4 and 206.8; its first call on a cold cache takes
  // 4.4 s against 4.1.
  const cap = (spec.m * spec.n * k <= SMALL_PRODUCT && k < LONG_K && groups === 1) || narrow ? 8 : 16
  const colCap = groups === 1 ? cap : Math.max(4, Math.floor(cap / groups))
  let cols = BLOCKS.find((b) => b <= colCap && b <= n && fits(n, b)) ?? 1
  let rows = BLOCKS.find((b) => b <= cap && b <= m && fits(m, b)) ?? 1
  let maxWy = WORKGROUP_INVOCATIONS
  // Invocations along the columns: at most 8, and of those the count that computes the fewest blocks of columns
  // past n (the largest such). A workgroup's invocations lie along x (see the template), so any count fills the
  // lanes. Measured (25088×144×32 with Bᵀ, the CNN's windows' gradient, best of 7, GFLOP/s): 8×8 blocks in 6×5
  // workgroups, three tiles of 48 columns, 11.0 against 9.3 in 8×4, three tiles of 64.
  const across = () => {
    const blocks = Math.ceil(n / cols)
    let best = Math.min(8, blocks)
    for (let w = best - 1; w >= 2; w--) if (Math.ceil(blocks / w) * w < Math.ceil(blocks / best) * best) best = w
    return best
  }
  const shape = (): MatmulTile => {
    const wx = across()
    const wy = Math.max(1, Math.min(Math.floor(WORKGROUP_INVOCATIONS / wx), Math.ceil(m / rows), maxWy))
    return { rows, cols: cols * groups, workgroup: [wx, wy] }
  }
  const count = (t: MatmulTile) =>
    Math.ceil((groups * n) / (t.cols * t.workgroup[0])) * Math.ceil(m / (t.rows * t.workgroup[1])) * batch
  const halveBlock = () => (rows >= cols ? (rows /= 2) : (cols /= 2))
  // Fewer rows than a block that no block size fits without padding (the 9 taps of a 3×3 kernel's gradient): one
  // block of all of them, with the columns that keep it near 8×8. Measured (9×16×6272 with Aᵀ, batch 16, the
  // kernel gradient of the CNN's first convolution after split-K): 2×16 blocks 3.0 GFLOP/s, 9×16 4.6, 9×8 7.7,
  // 9×4 in 4×1 workgroups 8.3. Batched, a workgroup takes eight batch entries, one invocation each with the whole
  // block (every column up to 16), so that its invocations fill the lanes: measured on the same product after the
  // template's workgroups lay their invocations along x (best of 7, GFLOP/s, the machine at about half its calm
  // speed), 9×16 with 8 entries a workgroup 10.0 (14.7, 11.0 with 32 and 64 parts) against 9×4 in 4×1 3.5.
  if (m < 16 && !BLOCKS.includes(m) && groups === 1 && batch > 1 && n <= 16 && BLOCKS.includes(n))
    return { rows: m, cols: n, workgroup: [1, 1], batches: Math.min(8, Math.ceil(batch / 2)) }
  if (m < 16 && !BLOCKS.includes(m) && groups === 1) {
    rows = m
    cols = BLOCKS.find((b) => b * m <= 64 && b <= n && fits(n, b)) ?? 1
    return shape()
  }
  // Few columns over a short k (a convolution over one input channel: 9 taps): each invocation takes every column,
  // in blocks of 8 rows, 32 invocations along the rows. Measured on llvmpipe (sweeps of tiles, interleaved,
  // best of 7 submissions of 3 dispatches, GFLOP/s, two sweeps): 100352×16×9 with A a window, 8×16 in 1×32 10.6,
  // 10.0 against 8×8 in 2×16 8.3, 7.6 (and 4.1 before the template's workgroups lay their invocations along x).
  if (groups === 1 && k <= 16 && n >= 4 && BLOCKS.includes(n) && spec.m * spec.n >= MANY_OUTPUTS && fits(m, 8))
    return { rows: 8, cols: n, workgroup: [1, WORKGROUP_INVOCATIONS] }
  // Few columns over more than a short k: blocks of 16 rows and 4 columns, a row of invocations across the columns
  // (only that row where the product is batched). Measured on llvmpipe (sweeps of tiles, interleaved,
  // best of 4 submissions of 3 dispatches, GFLOP/s, two sweeps): the CNN's second convolution, its windows
  // 25088×32×144, 16×4 in 8×4 workgroups 18.0, 10.8 against 8×8 in 4×8 15.6, 9.7; its kernel gradient after
  // split-K, 16×144×32×1568 with the windows as Aᵀ, 16×4 in 8×1 17.7, 12.1 against 16×16 in 2×9 11.2, 9.1 (in
  // 8×2 14.0). Unbatched, 2048×32×1024: 16×4 in 8×4 17.8, 19.6 against 8×8 in 4×8 16.3, 17.6 (in 8×1 11.0); with
  // B stored transposed (an LSTM's input gradient through its input weights) 19.9 against 17.0.
  if (
    groups === 1 &&
    n <= NARROW &&
    n >= 4 &&
    k > NARROW &&
    (spec.m * spec.n >= MANY_OUTPUTS || (batch > 1 && k >= LONG_K)) &&
    fits(m, 16)
  ) {
    const wx = Math.min(8, Math.ceil(n / 4))
    return { rows: 16, cols: 4, workgroup: [wx, batch > 1 ? 1 : Math.max(1, Math.floor(WORKGROUP_INVOCATIONS / wx))] }
  }
  let tile = shape()
  if (spec.m * spec.n * k * batch >= HUGE_PRODUCT && groups === 1 && rows === 16 && cols === 16) {
    const wide = spec.transA === true ? { rows: 32, cols } : { rows, cols: 32 }
    if (fits(m, wide.rows) && fits(n, wide.cols)) {
      ;[rows, cols] = [wide.rows, wide.cols]
      if (count(shape()) >= MIN_WORKGROUPS) return shape()
      ;[rows, cols] = [16, 16]
    }
  }
  // Not where B is read along k (stored transposed): there the blocks shrink as below. Measured (best of 5, GFLOP/s,
  // 16×16 in 8×1 against 8×8 in 8×4): 32×256×1024 with Bᵀ (an LSTM step's backward product) 16.3 against 21.0,
  // 64×256×1024 19.9 against 22.1, 128×128×1600 15.8 against 23.9, 32×128×1600 9.7 against 11.1; with Aᵀ,
  // 32×128×1600 12.5 against at most 10.4 for the others.
  if (count(tile) < MIN_WORKGROUPS && k >= LONG_K && tile.workgroup[0] === 8 && spec.transB !== true)
    return { rows, cols: cols * groups, workgroup: [8, 1] }
  // Blocks shrink to 8×8 first, then the workgroups lose rows of invocations, then the blocks shrink to 4.
  while (count(tile) < MIN_WORKGROUPS) {
    if (Math.max(rows, cols) > 8) halveBlock()
    else if (tile.workgroup[1] > 1) maxWy = Math.floor(tile.workgroup[1] / 2)
    else if (Math.max(rows, cols) > 4) halveBlock()
    else break
    tile = shape()
  }
  return tile
}
