// Parallel reduction: out[o] = epilogue(init(o) ⊕ ⊕_r term(o, r)) with ⊕ = + or
// max, one workgroup per output element.
//
// Placeholders, filled by renderKernel (gpu/wgsl/render.ts) from a reduce kernel:
//   {{BINDINGS}}       the inputs in0, in1, … then the output `out` (then a second
//                      output `also` and, inside a loop, the step's uniform)
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
//   {{TERM}}           statements ending in `let term = …;`, the element (o, r)
//   {{INIT}}           statements ending in `let init = …;`, the start value at o
//   {{RESULT}}         statements ending in `let result = …;`, the value stored
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
