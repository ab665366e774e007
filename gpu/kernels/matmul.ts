/**
 * GEMM kernel generator: C[b] = op(A[b]) · op(B[b]) in f32 WGSL, one shader
 * per shape (sizes and strides are baked in as constants; callers cache the
 * pipelines).
 *
 * Tiling. Each invocation computes a `rows × cols` block of C with one
 * accumulator per element in registers, reading A and B straight from storage
 * (no workgroup memory, no barriers). Per step of k it loads `rows` values of
 * A and `cols` values of B and does `rows · cols` multiply-adds. The main loop
 * takes k four at a time; an operand whose contiguous dimension is a multiple
 * of 4 is declared `array<vec4<f32>>` and read four elements per load (along
 * k for A and Bᵀ, along the rows for Aᵀ, along the columns for B); the others
 * are read one f32 at a time. The columns of one invocation are groups of
 * adjacent columns whose neighbouring invocations take the neighbouring
 * groups, so the invocations that run together read one contiguous run of B.
 * Loads use clamped rows and columns (always in bounds, so the inner loop has
 * no branches); only the stores are guarded. Workgroups: x = column tiles,
 * y = row tiles, z = batch, or a linear numbering when one of these is over
 * 65535.
 *
 * Why this suits llvmpipe (Mesa 22.3 through Dawn's GL ES backend): a
 * workgroup runs on one CPU thread, eight invocations at a time in the lanes
 * of a SIMD register, and every storage load that is not provably uniform
 * becomes a loop over the lanes with a bounds check per lane. Loads, not
 * arithmetic, set the speed, so the kernel maximises multiply-adds per load:
 * large register blocks (2·r·c / (r + c) flops per scalar load), and vec4
 * loads, which fetch four elements in one trip through that loop. Workgroup
 * memory is read through the same per-lane loop and adds barriers (coroutine
 * switches), which is why shared-memory tiles measured 0.4–6 GFLOP/s here;
 * no such variant is offered.
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
 */

/** Which block of C one invocation computes, and how invocations are grouped. */
export interface MatmulTile {
  /** Rows of C per invocation (kept in registers). */
  rows: number
  /** Columns of C per invocation (kept in registers). */
  cols: number
  /** Invocations per workgroup along columns (x) and rows (y). */
  workgroup: [number, number]
  /**
   * Read A and B as `array<vec4<f32>>` along their contiguous dimension when
   * the shape allows it (default true). The buffers and bind group are the
   * same either way.
   */
  vectorize?: boolean
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
  /** Variant selection; default chosen by `chooseMatmulTile`. */
  tile?: MatmulTile
  /**
   * Fused epilogue: extra binding declarations (from binding 3 on) and the
   * body of `fn epilogue(acc: f32, b: u32, row: u32, col: u32) -> f32`.
   */
  epilogue?: { bindings: string; body: string }
}

export interface RenderedMatmul {
  code: string
  workgroups: [number, number, number]
  entryPoint: string
}

/** WebGPU's limit on workgroups per dispatch dimension. */
export const MAX_WORKGROUPS_PER_DIMENSION = 65535

const u = (v: number) => `${v}u`
/** `base + offset` as WGSL, without the `+ 0u`. */
const plus = (base: string, offset: number) => (offset === 0 ? base : `${base} + ${u(offset)}`)
/** `expr * factor` as WGSL, parenthesising a sum. */
const times = (expr: string, factor: string) => `${expr.includes(' ') ? `(${expr})` : expr} * ${factor}`

function checkSize(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min || v >= 2 ** 31)
    throw new RangeError(`renderMatmul: ${name} must be an integer >= ${min}, got ${v}`)
}

/**
 * How an operand is read: one f32 at a time, or a vec4 of four consecutive
 * elements along its contiguous dimension (k, or the rows/columns of C).
 */
type ReadA = 'scalar' | 'vecK' | 'vecRows'
type ReadB = 'scalar' | 'vecK' | 'vecCols'

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
  if ((batch - 1) * strideA + m * k > 2 ** 32 || (batch - 1) * strideB + k * n > 2 ** 32 || batch * m * n > 2 ** 32)
    throw new RangeError('renderMatmul: operands too large for u32 indexing')
  const tile = spec.tile ?? chooseMatmulTile(spec)
  const R = tile.rows
  const Cn = tile.cols
  const [wx, wy] = tile.workgroup
  checkSize('tile.rows', R, 1)
  checkSize('tile.cols', Cn, 1)
  checkSize('tile.workgroup[0]', wx, 1)
  checkSize('tile.workgroup[1]', wy, 1)
  if (R * Cn > 1024) throw new RangeError(`renderMatmul: a ${R}×${Cn} block is more accumulators than any register file holds`)

  const vectorize = tile.vectorize ?? true
  const readA: ReadA = !vectorize || strideA % 4 !== 0 ? 'scalar'
    : !transA && k % 4 === 0 ? 'vecK'
    : transA && m % 4 === 0 && R % 4 === 0 ? 'vecRows'
    : 'scalar'
  const readB: ReadB = !vectorize || strideB % 4 !== 0 ? 'scalar'
    : transB && k % 4 === 0 ? 'vecK'
    : !transB && n % 4 === 0 && Cn % 4 === 0 ? 'vecCols'
    : 'scalar'

  // Dispatch: x = column tiles, y = row tiles, z = batch; when one of them is
  // over the per-dimension limit, number the workgroups linearly instead.
  const tilesX = Math.ceil(n / (Cn * wx))
  const tilesY = Math.ceil(m / (R * wy))
  const total = tilesX * tilesY * batch
  const L = MAX_WORKGROUPS_PER_DIMENSION
  let workgroups: [number, number, number]
  const linear = tilesX > L || tilesY > L || batch > L
  if (!linear) workgroups = [tilesX, tilesY, batch]
  else {
    const x = Math.min(total, L)
    const y = Math.min(Math.ceil(total / x), L)
    const z = Math.ceil(total / (x * y))
    if (z > L) throw new RangeError(`renderMatmul: ${total} workgroups exceed the dispatch limit`)
    workgroups = [x, y, z]
  }

  // Columns of one invocation: groups of g adjacent columns (g = 4 when B is
  // read as vec4 along n), the groups of neighbouring invocations adjacent,
  // so one SIMD batch of invocations reads one contiguous run of B.
  const g = readB === 'vecCols' ? 4 : 1
  const groupStride = wx * g
  const colExpr = (c: number) => plus('col0', Math.floor(c / g) * groupStride + (c % g))
  const rowExpr = (r: number) => plus('row0', r)
  const kMain = readA === 'vecK' || readB === 'vecK' ? k : Math.floor(k / 4) * 4

  const lines: string[] = []
  const emit = (s: string) => lines.push(s)
  const opA = transA ? `[batch, K, M]` : `[batch, M, K]`
  const opB = transB ? `[batch, N, K]` : `[batch, K, N]`
  const describe = (mode: string) =>
    mode === 'scalar' ? 'one f32 per element' : `vec4: 4 consecutive ${mode === 'vecK' ? 'k' : mode === 'vecRows' ? 'rows' : 'columns'}`
  emit(`// C[b] = ${transA ? 'Aᵀ' : 'A'}[b] · ${transB ? 'Bᵀ' : 'B'}[b]; ${R}×${Cn} block of C per invocation, workgroup ${wx}×${wy}.`)
  emit(`const M = ${u(m)};`)
  emit(`const N = ${u(n)};`)
  emit(`const K = ${u(k)};`)
  emit(``)
  emit(`// A is ${opA} (batch stride ${strideA}), read ${describe(readA)}.`)
  emit(`@group(0) @binding(0) var<storage, read> A: array<${readA === 'scalar' ? 'f32' : 'vec4<f32>'}>;`)
  emit(`// B is ${opB} (batch stride ${strideB}), read ${describe(readB)}.`)
  emit(`@group(0) @binding(1) var<storage, read> B: array<${readB === 'scalar' ? 'f32' : 'vec4<f32>'}>;`)
  emit(`// C is [batch, M, N].`)
  emit(`@group(0) @binding(2) var<storage, read_write> C: array<f32>;`)
  if (spec.epilogue) {
    emit(spec.epilogue.bindings.trim())
    emit(``)
    emit(`fn epilogue(acc: f32, b: u32, row: u32, col: u32) -> f32 {`)
    emit(`  ${spec.epilogue.body.trim()}`)
    emit(`}`)
  }
  emit(``)
  emit(`@compute @workgroup_size(${wx}, ${wy}, 1)`)
  emit(`fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`)
  if (linear) {
    emit(`  let flat = wid.x + ${u(workgroups[0])} * (wid.y + ${u(workgroups[1])} * wid.z);`)
    emit(`  if (flat >= ${u(total)}) { return; }`)
    emit(`  let tileCol = flat % ${u(tilesX)};`)
    emit(`  let tileRow = (flat / ${u(tilesX)}) % ${u(tilesY)};`)
    emit(`  let b = flat / ${u(tilesX * tilesY)};`)
  } else {
    emit(`  let tileCol = wid.x;`)
    emit(`  let tileRow = wid.y;`)
    emit(`  let b = wid.z;`)
  }
  emit(`  // Rows row0 .. row0 + ${R - 1}; columns ${g === 1 ? `col0 + ${wx}·j` : `col0 + ${groupStride}·j + i (i < 4)`}.`)
  emit(`  let row0 = (tileRow * ${u(wy)} + lid.y) * ${u(R)};`)
  emit(`  let col0 = tileCol * ${u(wx * Cn)} + lid.x * ${u(g)};`)
  emit(`  // Loads use clamped (always valid) rows and columns; only the stores are guarded.`)
  const aBatch = strideA === 0 ? '' : `b * ${u(strideA)} + `
  const bBatch = strideB === 0 ? '' : `b * ${u(strideB)} + `
  const clampRow = (r: number) => `min(${rowExpr(r)}, ${u(m - 1)})`
  const clampCol = (c: number) => `min(${colExpr(c)}, ${u(n - 1)})`

  // Per operand: the base index of each loaded stream and how to name an element.
  const aStreams = readA === 'vecRows' ? R / 4 : R
  for (let s = 0; s < aStreams; s++) {
    if (readA === 'scalar') emit(`  let a${s} = ${aBatch}${clampRow(s)}${transA ? '' : ` * K`};`)
    else if (readA === 'vecK') emit(`  let a${s} = (${aBatch}${clampRow(s)} * K) / 4u;`)
    else emit(`  let a${s} = (${aBatch}min(${rowExpr(4 * s)}, ${u(m - 4)})) / 4u;`)
  }
  const bStreams = readB === 'vecCols' ? Cn / 4 : Cn
  for (let s = 0; s < bStreams; s++) {
    if (readB === 'scalar') emit(`  let b${s} = ${bBatch}${clampCol(s)}${transB ? ` * K` : ''};`)
    else if (readB === 'vecK') emit(`  let b${s} = (${bBatch}${clampCol(s)} * K) / 4u;`)
    else emit(`  let b${s} = (${bBatch}min(${colExpr(4 * s)}, ${u(n - 4)})) / 4u;`)
  }
  for (let r = 0; r < R; r++) emit('  ' + Array.from({ length: Cn }, (_, c) => `var acc${r}_${c} = 0.0;`).join(' '))

  const comp = ['x', 'y', 'z', 'w']
  // One step of k (kExpr), with the vecK operands already loaded for this block
  // of 4 (component kv). Emits the loads for the other operands and the FMAs.
  const step = (kExpr: string, kv: number, indent: string) => {
    const aOf: string[] = []
    const bOf: string[] = []
    const suffix = kv >= 0 ? `_${kv}` : ''
    for (let s = 0; s < aStreams; s++) {
      if (readA === 'vecK') { aOf.push(`va${s}.${comp[kv]}`); continue }
      if (readA === 'scalar') {
        emit(`${indent}let x${s}${suffix} = A[a${s} + ${transA ? times(kExpr, 'M') : kExpr}];`)
        aOf.push(`x${s}${suffix}`)
      } else {
        emit(`${indent}let x${s}${suffix} = A[a${s} + ${times(kExpr, u(m / 4))}];`)
        for (let i = 0; i < 4; i++) aOf.push(`x${s}${suffix}.${comp[i]}`)
      }
    }
    for (let s = 0; s < bStreams; s++) {
      if (readB === 'vecK') { bOf.push(`vb${s}.${comp[kv]}`); continue }
      if (readB === 'scalar') {
        emit(`${indent}let y${s}${suffix} = B[b${s} + ${transB ? kExpr : times(kExpr, 'N')}];`)
        bOf.push(`y${s}${suffix}`)
      } else {
        emit(`${indent}let y${s}${suffix} = B[b${s} + ${times(kExpr, u(n / 4))}];`)
        for (let i = 0; i < 4; i++) bOf.push(`y${s}${suffix}.${comp[i]}`)
      }
    }
    for (let r = 0; r < R; r++)
      emit(indent + Array.from({ length: Cn }, (_, c) => `acc${r}_${c} += ${aOf[r]} * ${bOf[c]};`).join(' '))
  }
  if (kMain > 0) {
    emit(`  for (var k = 0u; k < ${u(kMain)}; k += 4u) {`)
    for (let s = 0; s < aStreams && readA === 'vecK'; s++) emit(`    let va${s} = A[a${s} + k / 4u];`)
    for (let s = 0; s < bStreams && readB === 'vecK'; s++) emit(`    let vb${s} = B[b${s} + k / 4u];`)
    for (let kv = 0; kv < 4; kv++) step(plus('k', kv), kv, '    ')
    emit(`  }`)
  }
  if (kMain < k) {
    // The last k % 4 steps (only when neither operand is read along k).
    emit(`  for (var k = ${u(kMain)}; k < K; k++) {`)
    step('k', -1, '    ')
    emit(`  }`)
  }
  emit(`  let c0 = b * ${u(m * n)};`)
  for (let r = 0; r < R; r++) {
    emit(`  if (${rowExpr(r)} < M) {`)
    emit(`    let row = ${rowExpr(r)};`)
    for (let c = 0; c < Cn; c++) {
      const value = spec.epilogue ? `epilogue(acc${r}_${c}, b, row, ${colExpr(c)})` : `acc${r}_${c}`
      emit(`    if (${colExpr(c)} < N) { C[c0 + row * N + ${colExpr(c)}] = ${value}; }`)
    }
    emit(`  }`)
  }
  emit(`}`)
  return { code: lines.join('\n') + '\n', workgroups, entryPoint: 'main' }
}

/** Invocations per workgroup the default tiles aim for: four SIMD batches of 8 on llvmpipe. */
const WORKGROUP_INVOCATIONS = 32
/** Fewer workgroups than this leave cores idle; tiles shrink until there are enough. */
const MIN_WORKGROUPS = 4
const BLOCKS = [16, 8, 4, 2, 1]

/**
 * The default tile for a shape, tuned on llvmpipe (see the measurements at
 * the top of this file): 16×16 blocks in 8×4 workgroups for large problems;
 * smaller blocks where a dimension is small (at most a quarter of the rows or
 * columns computed are padding) or where the big tile would leave fewer than
 * four workgroups.
 */
export function chooseMatmulTile(spec: Pick<MatmulSpec, 'batch' | 'm' | 'n' | 'k'>): MatmulTile {
  const { batch, m, n } = spec
  const fits = (size: number, block: number) => Math.ceil(size / block) * block <= 1.25 * size
  let cols = BLOCKS.find((b) => b <= n && fits(n, b)) ?? 1
  let rows = BLOCKS.find((b) => b <= m && fits(m, b)) ?? 1
  const shape = (): MatmulTile => {
    const wx = Math.min(8, Math.ceil(n / cols))
    const wy = Math.max(1, Math.min(Math.floor(WORKGROUP_INVOCATIONS / wx), Math.ceil(m / rows)))
    return { rows, cols, workgroup: [wx, wy] }
  }
  const count = (t: MatmulTile) => Math.ceil(n / (t.cols * t.workgroup[0])) * Math.ceil(m / (t.rows * t.workgroup[1])) * batch
  let tile = shape()
  while (count(tile) < MIN_WORKGROUPS && Math.max(rows, cols) > 4) {
    if (rows >= cols) rows /= 2
    else cols /= 2
    tile = shape()
  }
  return tile
}
