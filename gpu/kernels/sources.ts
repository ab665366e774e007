// Generated from gpu/kernels/matmul.wgsl, gpu/kernels/reduce.wgsl; run node scripts/embed-wgsl.mjs after editing them.
// Do not edit: test/gpu/sources.test.ts fails when this file and the .wgsl files differ.

/** gpu/kernels/matmul.wgsl */
export const MATMUL_WGSL = `// GEMM: C[b] = op(A[b]) · op(B[b]) in f32, one shader per shape.
//
// Placeholders, filled by gpu/kernels/matmul.ts (renderMatmul):
//   {{M}} {{N}} {{K}}            sizes: op(A) is M×K, op(B) is K×N, C is [batch, M, N]
//   {{BATCH}}                    matrices in the batch
//   {{STRIDE_A}} {{STRIDE_B}}    elements between batch entries of A and B (0 broadcasts)
//   {{TRANS_A}} {{TRANS_B}}      true: A stored [batch, K, M], B stored [batch, N, K]
//   {{ROWS}} {{COLS}}            the register block of C that one invocation computes
//   {{WX}} {{WY}}                invocations per workgroup along columns and rows
//   {{WB}}                       batch entries per workgroup, each with its own WX × WY invocations
//   {{BATCH_TILES}}              workgroups along the batch: BATCH / WB, rounded up
//   {{TILES_X}} {{TILES_Y}}      workgroup tiles of C along columns and rows
//   {{GROUPS_X}} {{GROUPS_Y}}    the dispatch grid's x and y extents
//   {{A_READ}} {{B_READ}}        SCALAR, ALONG_K or ALONG_MN (see below)
//   {{A_ELEMENT}} {{B_ELEMENT}}  f32, or vec4<f32> when the operand is not read SCALAR
//   {{EPILOGUE_DECLARATIONS}}    bindings (from 3 on) and helpers used by the epilogue
//   {{EPILOGUE_BODY}}            the body of \`epilogue\`, or \`return acc;\`
//   {{HAS_EPILOGUE}}             true when there is an epilogue or a second output
//   {{C_VEC4}} {{C_ELEMENT}}     whether C is written four columns at a time, and its element type
//   {{C_FROM_QUAD}}              \`q\` where C's element is a vec4, \`q.x\` where it is an f32
//   {{COL_GROUP}}                adjacent columns in each group of an invocation's columns (4 or 1)
//   {{GROUPS}}                   column blocks that an invocation takes together (see Stores)
//   {{STORE_DECLARATIONS}}       bindings of the further outputs the stores write (after ALSO)
//   {{STORES_BODY}}              the body of \`stores\`, or nothing
//   {{HAS_STORES}}               true when there are stores
//   {{ALSO_DECLARATION}}         a second output ALSO, laid out as C (or nothing)
//   {{ALSO_STORE}}               the statement storing v at element i of ALSO (or nothing)
//   {{STEP_DECLARATION}}         inside a loop: the uniform that holds where buffers start
//   {{OFFSET_C}}                 where C starts (a u32 expression: a constant for an output
//                                that is part of a larger buffer, plus the step uniform's
//                                entry for one that is one step's slice)
//   {{A_OFFSET}} {{A_STEP}}      the bodies of offsetA and stepA (see Windows below), and
//   {{B_OFFSET}} {{B_STEP}}      likewise for B: where A and B start enter there
//   {{A_DECLARATION}}            A's binding: storage, or a uniform array of vec4s (see Uniform A and B)
//   {{B_DECLARATION}}            likewise B
//
// Tiling. Each invocation computes a ROWS × COLS block of C with one
// accumulator per element in registers, reading A and B straight from storage
// (no workgroup memory, no barriers). Per step of k it takes ROWS values of
// op(A) and COLS values of op(B) and does ROWS · COLS multiply-adds, so a
// block does 2·ROWS·COLS / (ROWS + COLS) flops per value loaded. The main loop
// takes k four at a time. An operand whose contiguous dimension is a multiple
// of 4 is declared array<vec4<f32>> and read four elements per load: along k
// (ALONG_K: A, or B stored transposed) or along the rows of C (ALONG_MN, A
// stored transposed) or its columns (ALONG_MN, B); the others are read one f32
// at a time (SCALAR). With B read ALONG_MN, the columns of one invocation are
// groups of 4 adjacent columns, and neighbouring invocations take the
// neighbouring groups, so the invocations that run together read one
// contiguous run of B. Loads use clamped rows and columns (always in bounds,
// so the inner loop has no branches); only the stores are guarded. The loops
// have constant trip counts and the read modes are constants: the shader
// compiler unrolls and folds them into straight-line code (measured: the same
// speed as the hand-unrolled form). Reads go through vec4<f32>(…), the
// identity on a vec4 and a splat of an f32, so that every read mode's code
// type-checks whichever element type an operand has. The unrolling matters
// beyond speed: llvmpipe stops an invocation after 65535 loop iterations in
// all, and only the loop over k (K / 4 iterations) remains.
//
// Stores. C's N columns are GROUPS blocks of UNITS = N / GROUPS columns,
// and an invocation that computes column j of one block computes column j
// of every block (its COLS columns are COLS / GROUPS columns of each
// block). After C is stored, \`stores(b, row, j)\` runs once for each (row,
// j) of the block, reading the product at (row, g·UNITS + j) for every g
// (\`product\`) and writing further outputs: an LSTM step's cell and hidden
// states from the four gate blocks of one product, or the four gate blocks
// of its gradient from one element of the product before it. With
// GROUPS = 1 the block is as above.
//
// Windows. A is read only through offsetA(b, row), where row \`row\` of op(A)
// in batch entry b starts, and stepA(k), how far step k is from there (in
// elements); likewise B. For a stored matrix they are its strides; for a
// window (a convolution's windows of its padded input, read in place) each
// of b, row and k is a number whose digits have strides of their own.
//
// Workgroups are numbered x + GROUPS_X · (y + GROUPS_Y · z) over column
// tiles, row tiles and the batch (WB entries to a workgroup); the grid is
// [TILES_X, TILES_Y, BATCH_TILES] unless one of these is over 65535 per
// dimension, in which case the same numbering wraps.
//
// Why no shared-memory tiles: on llvmpipe (Mesa through Dawn's GL ES backend)
// a workgroup runs on one CPU thread, eight invocations at a time in the
// lanes of a SIMD register, and every storage load that is not provably
// uniform becomes a loop over the lanes with a bounds check per lane. Loads,
// not arithmetic, set the speed, so the kernel maximises multiply-adds per
// load: large register blocks, and vec4 loads, which fetch four elements in
// one trip through that loop. Workgroup memory is read through the same
// per-lane loop and adds barriers (coroutine switches): shared-memory tiles
// measured 0.4–6 GFLOP/s there against 23 for this kernel on 1024³.

const M = {{M}}u;
const N = {{N}}u;
const K = {{K}}u;
const BATCH = {{BATCH}}u;
const STRIDE_A = {{STRIDE_A}}u;
const STRIDE_B = {{STRIDE_B}}u;
const TRANS_A = {{TRANS_A}};
const TRANS_B = {{TRANS_B}};
const ROWS = {{ROWS}}u;
const COLS = {{COLS}}u;
const GROUPS = {{GROUPS}}u;
const UNITS = N / GROUPS;
// Columns of each block per invocation.
const UNIT_COLS = COLS / GROUPS;
const WX = {{WX}}u;
const WY = {{WY}}u;
const WB = {{WB}}u;
const BATCH_TILES = {{BATCH_TILES}}u;
const TILES_X = {{TILES_X}}u;
const TILES_Y = {{TILES_Y}}u;
const GROUPS_X = {{GROUPS_X}}u;
const GROUPS_Y = {{GROUPS_Y}}u;

// How an operand is read: one f32 per load, or a vec4 of four consecutive
// elements along k, or along the rows (A) or columns (B) of C.
const SCALAR = 0u;
const ALONG_K = 1u;
const ALONG_MN = 2u;
const A_READ = {{A_READ}};
const B_READ = {{B_READ}};

alias AElement = {{A_ELEMENT}};
alias BElement = {{B_ELEMENT}};
// Uniform A and B. A small B that every invocation of a workgroup reads at the same elements (one
// invocation across the columns, one batch entry a workgroup) may be bound as a uniform, which
// llvmpipe loads once for all the lanes of a SIMD batch where a storage load is made lane by lane:
// the first convolution of the MNIST CNN, 100352×16×9 with its 9×16 kernel, ran at 15.2 against
// 13.6 GFLOP/s (8×16 blocks in 1×32). Likewise a small A with one invocation across the rows: an
// LSTM step's h·Wh, 32×1024×256, 18.1 against 15.3 GFLOP/s (16×16 blocks in 8×1).
{{A_DECLARATION}}
{{B_DECLARATION}}
// C is written a vec4 of four adjacent columns at a time where they come in groups of four
// (COL_GROUP, below) and N and C's start are multiples of 4; else one f32 at a time.
const C_VEC4 = {{C_VEC4}};
alias CElement = {{C_ELEMENT}};
@group(0) @binding(2) var<storage, read_write> C: array<CElement>;

// Columns of one invocation come in groups of COL_GROUP adjacent columns: 4 where UNIT_COLS allows it
// (B read ALONG_MN needs it; C is then stored four columns at a time where UNITS allows), else 1:
// column c of the block is blockColumn(col0, c), column unitColumn(col0, c) of its column block.
const COL_GROUP = {{COL_GROUP}}u;
fn unitColumn(col0: u32, c: u32) -> u32 {
  let u = c % UNIT_COLS;
  return col0 + (u / COL_GROUP) * WX * COL_GROUP + u % COL_GROUP;
}
fn blockColumn(col0: u32, c: u32) -> u32 { return (c / UNIT_COLS) * UNITS + unitColumn(col0, c); }
// Steps of k taken four at a time; the rest (only when no operand is read along k) one at a time.
const K_MAIN = K / 4u * 4u;
// Elements between consecutive k of one row of op(A) and one column of op(B), in storage.
const A_K_STEP = select(1u, M, TRANS_A);
const B_K_STEP = select(N, 1u, TRANS_B);
// The first of the last four rows and columns (read as one vec4 ALONG_MN; M, N ≥ 4 there).
const LAST_ROW_QUAD = max(M, 4u) - 4u;
const LAST_COL_QUAD = max(N, 4u) - 4u;

// Whether an epilogue runs over the block after it is stored (at the end of main).
const HAS_EPILOGUE = {{HAS_EPILOGUE}};
{{EPILOGUE_DECLARATIONS}}
{{ALSO_DECLARATION}}
{{STEP_DECLARATION}}

fn offsetA(b: u32, row: u32) -> u32 {
  {{A_OFFSET}}
}
fn stepA(k: u32) -> u32 {
  {{A_STEP}}
}
fn offsetB(b: u32, col: u32) -> u32 {
  {{B_OFFSET}}
}
fn stepB(k: u32) -> u32 {
  {{B_STEP}}
}

const HAS_STORES = {{HAS_STORES}};
{{STORE_DECLARATIONS}}

// The value stored at C[b, row, col] for the product acc.
fn epilogue(acc: f32, b: u32, row: u32, col: u32) -> f32 {
  {{EPILOGUE_BODY}}
}

// A vec4 as C's element (the identity where C is vec4s; its first lane, never used, where C is f32s,
// so that both branches on C_VEC4 type-check), and element j of C, whichever way it is declared.
fn fromQuad(q: vec4<f32>) -> CElement { return {{C_FROM_QUAD}}; }
fn loadC(j: u32) -> f32 {
  if (C_VEC4) { return vec4<f32>(C[j / 4u])[j % 4u]; }
  return vec4<f32>(C[j]).x;
}
fn storeC(j: u32, v: f32) {
  if (C_VEC4) {
    var q = vec4<f32>(C[j / 4u]);
    q[j % 4u] = v;
    C[j / 4u] = fromQuad(q);
  } else {
    C[j] = CElement(v);
  }
}

// The product at (row, g·UNITS + j) of batch entry b, as stored in C.
fn product(b: u32, row: u32, j: u32, g: u32) -> f32 {
  return loadC({{OFFSET_C}} + (b * M + row) * N + g * UNITS + j);
}

// The further outputs at (row, j): see Stores above.
fn stores(b: u32, row: u32, j: u32) {
  {{STORES_BODY}}
}

// Operands read ALONG_K: op(A)[row0 + r, k + j] = quad[r][j] for j < 4 (and
// likewise for B), one vec4 load per row or column for four steps of k.
fn quadsOfA(base: array<u32, ROWS>, k: u32) -> array<vec4<f32>, ROWS> {
  var quad: array<vec4<f32>, ROWS>;
  if (A_READ == ALONG_K) {
    for (var r = 0u; r < ROWS; r++) { quad[r] = vec4<f32>(A[base[r] + stepA(k) / 4u]); }
  }
  return quad;
}
fn quadsOfB(base: array<u32, COLS>, k: u32) -> array<vec4<f32>, COLS> {
  var quad: array<vec4<f32>, COLS>;
  if (B_READ == ALONG_K) {
    for (var c = 0u; c < COLS; c++) { quad[c] = vec4<f32>(B[base[c] + stepB(k) / 4u]); }
  }
  return quad;
}

// op(A)[row0 + r, k] for r < ROWS: component j of the quads (ALONG_K), or
// loaded: a vec4 of four rows at a time (ALONG_MN), or one f32 at a time.
fn columnOfA(base: array<u32, ROWS>, k: u32, quad: array<vec4<f32>, ROWS>, j: u32) -> array<f32, ROWS> {
  var a: array<f32, ROWS>;
  if (A_READ == ALONG_K) {
    for (var r = 0u; r < ROWS; r++) { a[r] = quad[r][j]; }
  } else if (A_READ == ALONG_MN) {
    for (var s = 0u; s < ROWS / 4u; s++) {
      let x = vec4<f32>(A[base[s] + stepA(k) / 4u]);
      for (var i = 0u; i < 4u; i++) { a[4u * s + i] = x[i]; }
    }
  } else {
    for (var r = 0u; r < ROWS; r++) { a[r] = vec4<f32>(A[base[r] + stepA(k)]).x; }
  }
  return a;
}

// op(B)[k, col(c)] for c < COLS, read as for A (ALONG_MN: four adjacent columns).
fn rowOfB(base: array<u32, COLS>, k: u32, quad: array<vec4<f32>, COLS>, j: u32) -> array<f32, COLS> {
  var b: array<f32, COLS>;
  if (B_READ == ALONG_K) {
    for (var c = 0u; c < COLS; c++) { b[c] = quad[c][j]; }
  } else if (B_READ == ALONG_MN) {
    for (var s = 0u; s < COLS / 4u; s++) {
      let y = vec4<f32>(B[base[s] + stepB(k) / 4u]);
      for (var i = 0u; i < 4u; i++) { b[4u * s + i] = y[i]; }
    }
  } else {
    for (var c = 0u; c < COLS; c++) { b[c] = vec4<f32>(B[base[c] + stepB(k)]).x; }
  }
  return b;
}

@compute @workgroup_size(WX * WY * WB, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  // The workgroup is one row of WX · WY · WB invocations, WX along the columns of C, WY along its rows and WB
  // along the batch: llvmpipe runs a workgroup's invocations eight at a time along x only, so that a workgroup
  // [WX, WY] with WX < 8 leaves lanes idle (measured: 100352×16×9, 8×8 blocks in 2×16, 3.9 against 8.2 GFLOP/s
  // as 32 along x), and so does a workgroup of fewer than 8 invocations, unless it takes several batch entries.
  let lx = lid.x % WX;
  let ly = (lid.x / WX) % WY;
  let flat = wid.x + GROUPS_X * (wid.y + GROUPS_Y * wid.z);
  if (flat >= TILES_X * TILES_Y * BATCH_TILES) { return; }
  let tileCol = flat % TILES_X;
  let tileRow = (flat / TILES_X) % TILES_Y;
  // (0 itself where there is one batch entry, so that the shader compiler sees that B's offsets are constants.)
  let b = select(flat / (TILES_X * TILES_Y) * WB + select(0u, lid.x / (WX * WY), WB > 1u), 0u, BATCH == 1u);
  if (b >= BATCH) { return; }
  // Rows row0 + r; columns blockColumn(col0, c).
  let row0 = (tileRow * WY + ly) * ROWS;
  let col0 = tileCol * WX * UNIT_COLS + lx * COL_GROUP;

  // Load bases (element indices of the arrays as declared) from clamped rows and
  // columns; ALONG_MN reads one base per group of four rows or columns.
  var baseA: array<u32, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    let row = min(row0 + r, M - 1u);
    if (A_READ == ALONG_K) { baseA[r] = offsetA(b, row) / 4u; }
    else if (A_READ == ALONG_MN) { baseA[r] = offsetA(b, min(row0 + 4u * r, LAST_ROW_QUAD)) / 4u; }
    else { baseA[r] = offsetA(b, row); }
  }
  var baseB: array<u32, COLS>;
  for (var c = 0u; c < COLS; c++) {
    let col = min(blockColumn(col0, c), N - 1u);
    if (B_READ == ALONG_K) { baseB[c] = offsetB(b, col) / 4u; }
    else if (B_READ == ALONG_MN) { baseB[c] = offsetB(b, min(blockColumn(col0, 4u * c), LAST_COL_QUAD)) / 4u; }
    else { baseB[c] = offsetB(b, col); }
  }

  var acc: array<array<f32, COLS>, ROWS>;
  for (var k = 0u; k < K_MAIN; k += 4u) {
    let quadA = quadsOfA(baseA, k);
    let quadB = quadsOfB(baseB, k);
    for (var j = 0u; j < 4u; j++) {
      var a = columnOfA(baseA, k + j, quadA, j);
      var bk = rowOfB(baseB, k + j, quadB, j);
      for (var r = 0u; r < ROWS; r++) {
        for (var c = 0u; c < COLS; c++) { acc[r][c] += a[r] * bk[c]; }
      }
    }
  }
  // The last K % 4 steps (only when no operand is read along k).
  for (var k = K_MAIN; k < K; k++) {
    let quadA = array<vec4<f32>, ROWS>();
    let quadB = array<vec4<f32>, COLS>();
    var a = columnOfA(baseA, k, quadA, 0u);
    var bk = rowOfB(baseB, k, quadB, 0u);
    for (var r = 0u; r < ROWS; r++) {
      for (var c = 0u; c < COLS; c++) { acc[r][c] += a[r] * bk[c]; }
    }
  }

  // The block as computed; the epilogue and the second output follow in a loop of their own.
  let c0 = b * M * N;
  for (var r = 0u; r < ROWS; r++) {
    let row = row0 + r;
    if (row < M) {
      if (C_VEC4) {
        for (var s = 0u; s < COLS / 4u; s++) {
          let col = blockColumn(col0, 4u * s);
          if (unitColumn(col0, 4u * s) < UNITS) {
            let q = vec4<f32>(acc[r][4u * s], acc[r][4u * s + 1u], acc[r][4u * s + 2u], acc[r][4u * s + 3u]);
            C[({{OFFSET_C}} + c0 + row * N + col) / 4u] = fromQuad(q);
          }
        }
      } else {
        for (var c = 0u; c < COLS; c++) {
          let col = blockColumn(col0, c);
          if (unitColumn(col0, c) < UNITS) { C[{{OFFSET_C}} + c0 + row * N + col] = CElement(acc[r][c]); }
        }
      }
    }
  }
  // The epilogue, over the block just stored, in a loop whose trip count the
  // shader compiler cannot see (arrayLength is never 0: a binding holds at
  // least one element), so that it stays a loop. Unrolled into the stores
  // above, each of the block's elements would carry its own copy of the
  // epilogue's loads, and llvmpipe's compile time grows with that code: an
  // epilogue reading two buffers made a 16×16 kernel take 5 s to compile on a
  // cold shader cache, against 0.8 s without, and 1 s split off like this.
  // Where C is vec4s, the loop takes a quad of adjacent columns at a time: one load and one store of C
  // for four elements, where one at a time each element would load its quad twice and store it once.
  if (HAS_EPILOGUE && C_VEC4) {
    // (At least one quad a row, so that the divisions below are defined where C is not vec4s and this never runs.)
    let quadsPerRow = max(COLS / 4u, 1u);
    let quads = select(ROWS * quadsPerRow, 0u, arrayLength(&C) == 0u);
    for (var e = 0u; e < quads; e++) {
      let row = row0 + e / quadsPerRow;
      let c = 4u * (e % quadsPerRow);
      let col = blockColumn(col0, c);
      if (row < M && unitColumn(col0, c) < UNITS) {
        let i0 = c0 + row * N + col;
        let q = vec4<f32>(C[({{OFFSET_C}} + i0) / 4u]);
        var r: vec4<f32>;
        for (var l = 0u; l < 4u; l++) {
          let i = i0 + l;
          let v = epilogue(q[l], b, row, col + l);
          r[l] = v;
          {{ALSO_STORE}}
        }
        C[({{OFFSET_C}} + i0) / 4u] = fromQuad(r);
      }
    }
  } else if (HAS_EPILOGUE) {
    let elements = select(ROWS * COLS, 0u, arrayLength(&C) == 0u);
    for (var e = 0u; e < elements; e++) {
      let row = row0 + e / COLS;
      let c = e % COLS;
      let col = blockColumn(col0, c);
      if (row < M && unitColumn(col0, c) < UNITS) {
        let i = c0 + row * N + col;
        let v = epilogue(loadC({{OFFSET_C}} + i), b, row, col);
        storeC({{OFFSET_C}} + i, v);
        {{ALSO_STORE}}
      }
    }
  }
  // The stores, likewise in a loop that is not unrolled, over the block's (row, j).
  if (HAS_STORES) {
    let units = select(ROWS * UNIT_COLS, 0u, arrayLength(&C) == 0u);
    for (var e = 0u; e < units; e++) {
      let row = row0 + e / UNIT_COLS;
      let j = unitColumn(col0, e % UNIT_COLS);
      if (row < M && j < UNITS) { stores(b, row, j); }
    }
  }
}
`

/** gpu/kernels/reduce.wgsl */
export const REDUCE_WGSL = `// Parallel reduction: out[o] = epilogue(init(o) ⊕ ⊕_r term(o, r)) with ⊕ = + or
// max, one workgroup per output element.
//
// Placeholders, filled by renderKernel (gpu/wgsl/render.ts) from a reduce kernel:
//   {{BINDINGS}}       the inputs in0, in1, … then the output \`out\` (then a second
//                      output \`also\` and, inside a loop, the step's uniform)
//   {{HELPERS}}        helper functions used by the expressions
//   {{ACC}}            f32 or i32: the type the reduction accumulates in
//   {{IDENTITY}}       the identity of ⊕: 0, or the lowest value of ACC
//   {{COMBINE}}        a ⊕ b, an expression in a and b
//   {{OUTPUTS}}        output elements, one workgroup each
//   {{COUNT}}          reduced elements per output element
//   {{WORKGROUP}}      invocations per workgroup: a power of two, 8 to 256
//   {{GROUPS_X}}       the dispatch grid's x extent (further outputs wrap to y)
//   {{OUTPUT_INDEX}}   statements: the output's axis indices o0, o1, … from f
//   {{REDUCED_INDEX}}  statements: the reduced axis indices r0, r1, … from r
//   {{TERM}}           statements ending in \`let term = …;\`, the element (o, r)
//   {{INIT}}           statements ending in \`let init = …;\`, the start value at o
//   {{RESULT}}         statements ending in \`let result = …;\`, the value stored
//                      (acc, or the fused epilogue of acc)
//   {{STORE}}          statements storing result as element flat of out (and of also;
//                      of a view, after the start of this step's slice)
//
// Tiling. One workgroup reduces one output element. Its invocations form
// groups of LANES consecutive invocations; group g takes a contiguous span of
// the first FULL elements (COUNT rounded down to a multiple of
// 4 · WORKGROUP), and within it lane l takes elements l, l + LANES,
// l + 2·LANES, …, four per loop iteration, so the LANES invocations of a group
// read LANES adjacent elements at each step and move forward through memory
// together. The last COUNT − FULL elements (fewer than 4 · WORKGROUP) go one
// per invocation at a time. Each invocation keeps its running result in a
// register; then the WORKGROUP partial results are combined through
// workgroup memory as a tree: log2(WORKGROUP) halving steps, in step s
// invocation i < s combining partial[i] and partial[i + s], with a barrier
// after each step (so the order of a sum differs from the serial loop's, and
// f32 results differ by rounding). Invocation 0 combines the result with init
// (applied once, so init may be any value, such as the tensor a scatter-add
// adds into), applies the epilogue and stores.
//
// Why this layout, measured on llvmpipe (bench/reduce.ts; notes in
// gpu/kernels/reduce.ts): a workgroup runs on one CPU thread, LANES = 8
// invocations at a time in the lanes of a SIMD register, one batch of lanes
// after the other, switching batches only at barriers. The usual GPU layout
// (invocation i takes i, i + WORKGROUP, …) makes each batch touch every cache
// line of a span that the other batches touch again later, and ran at half
// the speed of this one; a contiguous span per group keeps each line with one
// batch, while on a GPU eight adjacent f32 are still one 32-byte access.
// Taking four elements per iteration measured 1.2–1.4× faster than one. The
// streaming loop has no barrier and the same trip count in every lane, and
// the tree has only log2(WORKGROUP) barriers. llvmpipe also stops an
// invocation after 65535 loop iterations in all: the compiler keeps COUNT
// within 4 · WORKGROUP · 4096 here. WORKGROUP stays at most 256, the
// invocations per workgroup that WebGPU core devices guarantee (SwiftShader
// allows no more).

{{BINDINGS}}
{{HELPERS}}

alias Acc = {{ACC}};
const OUTPUTS = {{OUTPUTS}}u;
const COUNT = {{COUNT}}u;
const WORKGROUP = {{WORKGROUP}}u;
const GROUPS_X = {{GROUPS_X}}u;
const LANES = 8u;
// Elements taken in spans, and the span of each group of LANES invocations (a multiple of 4 · LANES).
const FULL = COUNT / (4u * WORKGROUP) * (4u * WORKGROUP);
const SPAN = FULL / (WORKGROUP / LANES);

var<workgroup> partial: array<Acc, WORKGROUP>;

fn combine(a: Acc, b: Acc) -> Acc {
  return {{COMBINE}};
}

// The element of output f at flat reduced index i.
fn element(f: i32, i: u32) -> Acc {
{{OUTPUT_INDEX}}
  let r = i32(i);
{{REDUCED_INDEX}}
{{TERM}}
  return term;
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  // The output element of this workgroup (uniform, so the return keeps the barriers in uniform control flow).
  let flat = wid.x + wid.y * GROUPS_X;
  if (flat >= OUTPUTS) { return; }
  let f = i32(flat);
{{OUTPUT_INDEX}}

  var running: Acc = {{IDENTITY}};
  let first = (lid / LANES) * SPAN + lid % LANES;
  for (var i = 0u; i < SPAN; i += 4u * LANES) {
    running = combine(running, element(f, first + i));
    running = combine(running, element(f, first + i + LANES));
    running = combine(running, element(f, first + i + 2u * LANES));
    running = combine(running, element(f, first + i + 3u * LANES));
  }
  for (var i = FULL + lid; i < COUNT; i += WORKGROUP) { running = combine(running, element(f, i)); }

  partial[lid] = running;
  workgroupBarrier();
  for (var s = WORKGROUP / 2u; s > 0u; s /= 2u) {
    if (lid < s) { partial[lid] = combine(partial[lid], partial[lid + s]); }
    workgroupBarrier();
  }

  if (lid == 0u) {
{{INIT}}
    let acc = combine(init, partial[0]);
{{RESULT}}
{{STORE}}
  }
}
`
