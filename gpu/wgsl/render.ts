/**
 * WGSL rendering: a pure function from a kernel to shader source. Shapes are
 * baked in as constants, so a shader is specialised to its shapes (and cached
 * by its source). Expressions used more than once become `let` bindings.
 *
 * Inside a loop, a kernel that reads or writes a view (one step's slice of a
 * stacked buffer) or a carry binds, after its storage buffers, a uniform that
 * holds where each of its buffers starts at this step (in elements: a view's
 * slice t, through the steps of the loops around it; a carry bound to such a
 * slice), and addresses them from there.
 */
import {
  type Expr,
  inputBindings,
  outputsOf,
  type Kernel,
  type LogicalBuffer,
  type MapKernel,
  type MatmulKernel,
  type ReduceKernel,
  type ScalarType,
} from '../kernel.ts'
import { stridesOf } from '../../src/shape/index.ts'
import { renderMatmul } from '../kernels/matmul.ts'
import { REDUCE_WGSL } from '../kernels/sources.ts'
import { fillTemplate } from '../kernels/template.ts'
import {
  countUses,
  Emitter,
  literal,
  PRELUDE,
  type Slot,
  sliceStart,
  type Starts,
  startAt,
  storageType,
  wgslType,
  withHelpers,
} from './emit.ts'

export { UNARY_WGSL, type Start, type Starts } from './emit.ts'

export const WORKGROUP = 64

export interface RenderedKernel {
  readonly code: string
  readonly entryPoint: string
  readonly workgroups: readonly [number, number, number]
  /** It binds the step uniform after its storage buffers. */
  readonly usesStep?: boolean
  /** A matmul's B is bound as a uniform: the bytes to bind from its buffer's start (RenderedMatmul.uniformB). */
  readonly uniformB?: number
  /** Likewise its A. */
  readonly uniformA?: number
}

/** What a kernel is rendered for: the largest operand the device binds as a uniform (default `UNIFORM_BYTES`). */
export interface RenderOptions {
  readonly uniformBytes?: number
}

/**
 * Positions of a kernel's buffers, in the step uniform (and in Dispatch.offsets): inputs, output, second output,
 * a matmul's further outputs.
 */
const positioned = (kernel: Kernel) => [...kernel.inputs, ...outputsOf(kernel)]
/** Without knowing the dispatches: views and carries start where the step uniform says, other buffers at 0. */
export const startsOf = (kernel: Kernel, buffers: readonly LogicalBuffer[]): Starts => {
  const ids = positioned(kernel)
  return (p) => {
    const role = p < ids.length ? buffers[ids[p]].role : undefined
    return role === 'view' || role === 'carry' ? { aligned: false } : { fixed: 0 }
  }
}
const slotsOf = (kernel: Kernel, buffers: readonly LogicalBuffer[], starts: Starts): Slot[] => {
  const { reads } = inputBindings(kernel, buffers)
  return kernel.inputs.map((id, p) => ({
    type: buffers[id].type,
    position: p,
    start: starts(p),
    binding: `in${reads[p]}`,
  }))
}
/**
 * The binding of the buffer at `position` (of [...inputs, ...outputsOf(kernel)]) that the kernel writes: after the
 * inputs' bindings (a matmul's C comes before its inputs from slot 2 on, at 2, and is not asked for here).
 */
const outputBinding = (kernel: Kernel, buffers: readonly LogicalBuffer[], position: number) =>
  inputBindings(kernel, buffers).count + position - kernel.inputs.length
const usesStep = (kernel: Kernel, starts: Starts) => positioned(kernel).some((_, p) => 'aligned' in starts(p))
/** The vec4s of a kernel's step uniform: one u32 per position. */
export const stepVectors = (kernel: Kernel) => Math.ceil(positioned(kernel).length / 4)
const stepDeclaration = (binding: number, kernel: Kernel) =>
  `@group(0) @binding(${binding}) var<uniform> step: array<vec4<u32>, ${stepVectors(kernel)}>;`
/** Statements storing `value` as element `flat` (u32) of out, and of the second output `also` if the kernel has one. */
function stores(kernel: Kernel, starts: Starts, flat: string, value: string, indent: string): string {
  const at = (p: number) => `${sliceStart(p, starts(p), 'u')}${flat}`
  const lines = [`${indent}out[${at(kernel.inputs.length)}] = ${value};`]
  if (kernel.also !== undefined) lines.push(`${indent}also[${at(kernel.inputs.length + 1)}] = ${value};`)
  return lines.join('\n')
}

/**
 * Statements that use every input binding from `from` on, so that the
 * pipeline's layout has them all even where an inlined expression dropped a
 * load (a gather from a broadcast reads no index): WebGPU rejects a bind
 * group entry the shader does not use.
 */
const keepInputs = (kernel: Kernel, buffers: readonly LogicalBuffer[], indent: string, from = 0): string => {
  const { index } = inputBindings(kernel, buffers)
  return kernel.inputs.flatMap((_, i) => (i >= from && index[i] >= 0 ? [`${indent}_ = &in${i};`] : [])).join('\n')
}

/** The declarations of the input slots from `from` on that have bindings of their own, the first at `first`. */
const inputDeclarations = (kernel: Kernel, buffers: readonly LogicalBuffer[], from: number, first: number) => {
  const { index } = inputBindings(kernel, buffers)
  return kernel.inputs.flatMap((id, i) =>
    i >= from && index[i] >= 0
      ? [
          `@group(0) @binding(${first + index[i] - index[from]}) var<storage, read> in${i}: ` +
            `array<${storageType(buffers[id].type)}>;`,
        ]
      : [],
  )
}

function bindings(kernel: Kernel, buffers: readonly LogicalBuffer[], starts: Starts): string {
  const lines = inputDeclarations(kernel, buffers, 0, 0)
  const at = (position: number) => outputBinding(kernel, buffers, position)
  lines.push(
    `@group(0) @binding(${at(kernel.inputs.length)}) var<storage, read_write> out: ` +
      `array<${storageType(buffers[kernel.output].type)}>;`,
  )
  if (kernel.also !== undefined)
    lines.push(
      `@group(0) @binding(${at(kernel.inputs.length + 1)}) var<storage, read_write> also: ` +
        `array<${storageType(buffers[kernel.also].type)}>;`,
    )
  if (usesStep(kernel, starts)) lines.push(stepDeclaration(at(kernel.inputs.length + outputsOf(kernel).length), kernel))
  return lines.join('\n')
}

/** A dispatch grid of `groups` workgroups, numbered x + y·(grid x) within the per-dimension limit. */
function grid(groups: number, maxPerDimension = 65535): [number, number, number] {
  const x = Math.min(Math.max(1, groups), maxPerDimension)
  return [x, Math.max(1, Math.ceil(groups / x)), 1]
}

/** The grid for one invocation per thread in workgroups of WORKGROUP. */
export function workgroupsFor(threads: number, maxPerDimension = 65535): [number, number, number] {
  return grid(Math.ceil(threads / WORKGROUP), maxPerDimension)
}

/** Decomposes a flat index into named axis indices. */
function unflatten(prefix: string, flat: string, shape: readonly number[], indent: string): string[] {
  const strides = stridesOf(shape)
  return shape.map((d, i) => {
    if (d === 1) return `${indent}let ${prefix}${i} = 0i;`
    const q = strides[i] === 1 ? flat : `(${flat} / ${strides[i]}i)`
    return `${indent}let ${prefix}${i} = ${i === 0 ? q : `${q} % ${d}i`};`
  })
}

/**
 * Elements of a map or a serial reduction that one invocation computes, one after another, `span` apart (span:
 * the invocations): several where there are many, since llvmpipe spends on each invocation besides its work.
 * Measured on the CNN step (bench/ab.ts, 15 calls each way, interleaved, p25), every map and serial reduction of
 * 2¹⁶ elements or more: 16 elements an invocation 97.0 → 91.8 ms, 8 92.6 → 90.4, 32 93.6 → 95.7 (too few
 * workgroups for the smaller ones); its first call on a cold shader cache the same within noise.
 */
export const elementsPerInvocation = (total: number) => (total >= MANY_ELEMENTS ? 16 : 1)
const MANY_ELEMENTS = 2 ** 16

/** The invocations of a map or serial reduction over `total` elements. */
const spanOf = (total: number) => Math.ceil(total / elementsPerInvocation(total) / WORKGROUP) * WORKGROUP

/**
 * Bindings, helpers, and the entry point up to the output index o0, o1, … of this invocation's element (inside
 * the loop over its elements where it has several: `closing` ends both).
 */
const opening = (
  kernel: MapKernel | ReduceKernel,
  buffers: readonly LogicalBuffer[],
  starts: Starts,
  total: number,
) => {
  const each = elementsPerInvocation(total)
  const invocation = `gid.x + gid.y * groups.x * ${WORKGROUP}u`
  const element =
    each === 1
      ? `  let flat = ${invocation};`
      : // A trip count the shader compiler cannot see (arrayLength is never 0), so that the loop is not unrolled.
        `  let first = ${invocation};\n  let each = select(${each}u, 0u, arrayLength(&out) == 0u);\n` +
        `  for (var e = 0u; e < each; e++) {\n  let flat = first + e * ${spanOf(total)}u;`
  return `${bindings(kernel, buffers, starts)}
${PRELUDE}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
${element}
  if (flat >= ${total}u) { return; }
  let f = i32(flat);
${keepInputs(kernel, buffers, '  ')}
${unflatten('o', 'f', kernel.shape, '  ').join('\n')}`
}
const closing = (total: number) => (elementsPerInvocation(total) === 1 ? '}' : '  }\n}')

const store = (t: ScalarType, v: string) => (t === 'bool' ? `select(0i, 1i, ${v})` : v)

function renderMap(kernel: MapKernel, buffers: readonly LogicalBuffer[], starts: Starts): RenderedKernel {
  const total = buffers[kernel.output].size
  const emitter = new Emitter(countUses([kernel.value]), slotsOf(kernel, buffers, starts), '  ')
  const value = emitter.expr(kernel.value)
  const code = `${opening(kernel, buffers, starts, total)}
${emitter.lines.join('\n')}
  let stored = ${store(buffers[kernel.output].type, value)};
${stores(kernel, starts, 'flat', 'stored', '  ')}
${closing(total)}
`
  return { code, entryPoint: 'main', workgroups: workgroupsFor(spanOf(total)), usesStep: usesStep(kernel, starts) }
}

/** The identity of ⊕ in the accumulator's type. */
function identity(op: ReduceKernel['op'], t: ScalarType): string {
  if (op === 'sum') return literal(0, t)
  return t === 'i32' ? literal(-(2 ** 31), t) : literal(-Infinity, t)
}

/** a ⊕ b; a maximum of f32 propagates NaN (max_). */
const combine = (op: ReduceKernel['op'], a: string, b: string, t: ScalarType) =>
  op === 'sum' ? `${a} + ${b}` : t === 'f32' ? `max_(${a}, ${b})` : `max(${a}, ${b})`

/**
 * What a reduce kernel stores at o, once its result is in `acc`: `init`, then
 * `result` (the fused epilogue of acc, or acc), as statements that declare
 * them; `indent` for each.
 */
function initAndResult(
  kernel: ReduceKernel,
  buffers: readonly LogicalBuffer[],
  starts: Starts,
  indent: string,
): { init: string; result: string } {
  const value = kernel.epilogue?.value
  const emitter = new Emitter(
    countUses(value === undefined ? [kernel.init] : [kernel.init, value]),
    slotsOf(kernel, buffers, starts),
    indent,
  )
  const init = emitter.expr(kernel.init)
  const initLines = [...emitter.lines, `${indent}let init = ${init};`]
  emitter.lines.length = 0
  const result = value === undefined ? 'acc' : emitter.expr(value)
  const resultLines = [...emitter.lines, `${indent}let result = ${store(buffers[kernel.output].type, result)};`]
  return { init: initLines.join('\n'), result: resultLines.join('\n') }
}

/** One invocation per output element, a serial loop over the reduced elements. */
function renderSerialReduce(kernel: ReduceKernel, buffers: readonly LogicalBuffer[], starts: Starts): RenderedKernel {
  const total = buffers[kernel.output].size
  const { init, result } = initAndResult(kernel, buffers, starts, '  ')
  const body = new Emitter(countUses([kernel.body]), slotsOf(kernel, buffers, starts), '    ')
  const bodyValue = body.expr(kernel.body)
  const count = sizeOfShape(kernel.reduced)
  const code = `${opening(kernel, buffers, starts, total)}
${init}
  var acc: ${wgslType(kernel.init.t)} = init;
  for (var r = 0i; r < ${count}i; r++) {
${unflatten('r', 'r', kernel.reduced, '    ').join('\n')}
${body.lines.join('\n')}
    acc = ${combine(kernel.op, 'acc', bodyValue, kernel.init.t)};
  }
${result}
${stores(kernel, starts, 'flat', 'result', '  ')}
${closing(total)}
`
  return { code, entryPoint: 'main', workgroups: workgroupsFor(spanOf(total)), usesStep: usesStep(kernel, starts) }
}

/** One workgroup per output element: the template gpu/kernels/reduce.wgsl. */
function renderWorkgroupReduce(
  kernel: ReduceKernel,
  buffers: readonly LogicalBuffer[],
  starts: Starts,
  workgroup: number,
): RenderedKernel {
  const outputs = sizeOfShape(kernel.shape)
  const acc = kernel.init.t
  if (acc === 'bool') throw new Error('renderKernel: a workgroup reduction accumulates in f32 or i32, not bool')
  // The tree halves the workgroup, and a group of LANES = 8 invocations shares each span.
  if (!Number.isInteger(Math.log2(workgroup)) || workgroup < 8 || workgroup > 256)
    throw new RangeError(
      `renderKernel: a workgroup reduction needs a power of two from 8 to 256 invocations, got ${workgroup}`,
    )
  const term = new Emitter(countUses([kernel.body]), slotsOf(kernel, buffers, starts), '  ')
  const termValue = term.expr(kernel.body)
  const { init, result } = initAndResult(kernel, buffers, starts, '    ')
  const workgroups = grid(outputs)
  const code = fillTemplate('gpu/kernels/reduce.wgsl', REDUCE_WGSL, {
    BINDINGS: bindings(kernel, buffers, starts),
    HELPERS: PRELUDE.trim(),
    ACC: acc,
    IDENTITY: identity(kernel.op, acc),
    COMBINE: combine(kernel.op, 'a', 'b', acc),
    OUTPUTS: outputs,
    COUNT: sizeOfShape(kernel.reduced),
    WORKGROUP: workgroup,
    GROUPS_X: workgroups[0],
    OUTPUT_INDEX: [keepInputs(kernel, buffers, '  '), ...unflatten('o', 'f', kernel.shape, '  ')].join('\n'),
    REDUCED_INDEX: unflatten('r', 'r', kernel.reduced, '  ').join('\n'),
    TERM: [...term.lines, `  let term = ${termValue};`].join('\n'),
    INIT: init,
    RESULT: result,
    STORE: stores(kernel, starts, 'flat', 'result', '    '),
  })
  return { code, entryPoint: 'main', workgroups, usesStep: usesStep(kernel, starts) }
}

function renderReduce(kernel: ReduceKernel, buffers: readonly LogicalBuffer[], starts: Starts): RenderedKernel {
  return kernel.workgroup === undefined
    ? renderSerialReduce(kernel, buffers, starts)
    : renderWorkgroupReduce(kernel, buffers, starts, kernel.workgroup)
}

const sizeOfShape = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1)

/** A matmul's extra inputs, inputs[2…], bound from 3 on (after A, B, C), and the helpers their expressions use. */
const extraInputBindings = (kernel: MatmulKernel, buffers: readonly LogicalBuffer[]): string =>
  kernel.inputs.length > 2 ? inputDeclarations(kernel, buffers, 2, 3).join('\n') : ''

/**
 * A matmul's stores (MatmulKernel.stores): the bindings of their outputs and
 * the body of `stores(b, row, j)`, which computes every store's values at
 * (row, j) of the block (sr = the row through the batch, sj = j; a load from
 * ACC_SLOT at g is `product(b, row, j, g)`) and writes them, value s of a
 * store at (sr, s·u + j) of its output. The kernel's extra inputs are declared
 * here when it has no epilogue.
 */
function renderStores(
  kernel: MatmulKernel,
  buffers: readonly LogicalBuffer[],
  starts: Starts,
): { bindings: string; body: string } | undefined {
  const stores = kernel.stores ?? []
  if (stores.length === 0) return undefined
  const units = kernel.n / (kernel.groups ?? 1)
  const positions = outputsOf(kernel)
  const positionOf = (id: number) => kernel.inputs.length + positions.indexOf(id)
  const bindings = stores.flatMap((st) =>
    (st.also === undefined ? [st.output] : [st.output, st.also]).map((id) => {
      if (buffers[id].type !== 'f32')
        throw new Error(`renderKernel: a matmul's store writes f32, got ${buffers[id].type}`)
      const p = positionOf(id)
      return `@group(0) @binding(${outputBinding(kernel, buffers, p)}) var<storage, read_write> w${p}: array<f32>;`
    }),
  )
  const product = (offset: Expr) => {
    if (offset.k !== 'lit') throw new Error('renderKernel: a store reads the product at a constant column block')
    return `product(b, row, j, ${offset.value}u)`
  }
  // A store with a second output writes each value twice: counted twice, it is computed once, as a `let`.
  const emitter = new Emitter(
    countUses(stores.flatMap((st) => (st.also === undefined ? st.values : [...st.values, ...st.values]))),
    slotsOf(kernel, buffers, starts),
    '  ',
    product,
  )
  const writes: string[] = []
  for (const st of stores)
    st.values.forEach((v, sIndex) => {
      const value = emitter.expr(v)
      const flat = `u32(sr) * ${st.spread * units}u + ${sIndex * units}u + j`
      for (const id of st.also === undefined ? [st.output] : [st.output, st.also]) {
        const p = positionOf(id)
        writes.push(`  w${p}[${sliceStart(p, starts(p), 'u')}${flat}] = ${value};`)
      }
    })
  const declared = kernel.epilogue === undefined ? [extraInputBindings(kernel, buffers), PRELUDE] : []
  const body = [
    keepInputs(kernel, buffers, '  ', 2),
    '  let sr = i32(b * M + row);',
    '  let sj = i32(j);',
    ...emitter.lines,
    ...writes,
  ]
  return { bindings: [...bindings, ...declared].join('\n'), body: body.join('\n').trim() }
}

/**
 * The epilogue of a matmul: the fused map's value at (batch b, row, col). Its
 * extra inputs are the kernel's inputs[2…], bound from 3 on (after A, B, C).
 */
function renderEpilogue(
  kernel: MatmulKernel,
  buffers: readonly LogicalBuffer[],
  starts: Starts,
): { bindings: string; body: string } | undefined {
  if (kernel.epilogue === undefined) return undefined
  const { value, shape } = kernel.epilogue
  const bindings = [extraInputBindings(kernel, buffers)]
  const emitter = new Emitter(countUses([value]), slotsOf(kernel, buffers, starts), '  ')
  const result = emitter.expr(value)
  const r = shape.length
  // Over [..., m, n] the indices are the batch entry's, the row and the column; over any other shape of the
  // product's size, those of its flat index.
  const natural = r >= 2 && shape[r - 2] === kernel.m && shape[r - 1] === kernel.n
  const index = natural
    ? [
        ...unflatten('o', 'i32(b)', shape.slice(0, r - 2), '  '),
        `  let o${r - 2} = i32(row);`,
        `  let o${r - 1} = i32(col);`,
      ]
    : [`  let f = i32((b * ${kernel.m}u + row) * ${kernel.n}u + col);`, ...unflatten('o', 'f', shape, '  ')]
  const body = [keepInputs(kernel, buffers, '  ', 2), ...index, ...emitter.lines, `  return ${result};`]
  return { bindings: `${bindings.join('\n')}\n${PRELUDE}`, body: body.join('\n').trim() }
}

/**
 * The kernel's WGSL. `starts`: where each of its buffers starts (from the dispatches, where the compiler has them;
 * by default views and carries move with the steps and are not known to be aligned).
 */
export function renderKernel(
  kernel: Kernel,
  buffers: readonly LogicalBuffer[],
  starts: Starts = startsOf(kernel, buffers),
  options: RenderOptions = {},
): RenderedKernel {
  return withHelpers(renderKernelSource(kernel, buffers, starts, options))
}

function renderKernelSource(
  kernel: Kernel,
  buffers: readonly LogicalBuffer[],
  starts: Starts,
  options: RenderOptions,
): RenderedKernel {
  switch (kernel.kind) {
    case 'map':
      return renderMap(kernel, buffers, starts)
    case 'reduce':
      return renderReduce(kernel, buffers, starts)
    case 'matmul': {
      const stepped = usesStep(kernel, starts)
      // A, B and C: a fixed start is part of the operand's static start; a moving one is read from the step uniform.
      const moving = (p: number) => {
        const start = starts(p)
        return 'aligned' in start ? { at: startAt(p), aligned: start.aligned } : undefined
      }
      const fixed = (p: number) => {
        const start = starts(p)
        return 'fixed' in start ? start.fixed : 0
      }
      const rendered = renderMatmul({
        batch: kernel.batch,
        m: kernel.m,
        n: kernel.n,
        k: kernel.k,
        transA: kernel.transA,
        transB: kernel.transB,
        batchStrideA: kernel.batchStrideA,
        batchStrideB: kernel.batchStrideB,
        windowA: kernel.windowA,
        windowB: kernel.windowB,
        start: {
          a: kernel.startA + fixed(0),
          b: kernel.startB + fixed(1),
          c: fixed(kernel.inputs.length),
          also: fixed(kernel.inputs.length + 1),
        },
        epilogue: renderEpilogue(kernel, buffers, starts),
        // Every buffer has UNIFORM usage (pool.ts), and A's and B's bindings are their own (inputBindings).
        uniformA: true,
        uniformB: true,
        uniformBytes: options.uniformBytes,
        groups: kernel.groups,
        stores: renderStores(kernel, buffers, starts),
        // A, B, C, then the epilogue's inputs, then ALSO: the uniform comes after them.
        also:
          kernel.also === undefined
            ? undefined
            : {
                binding: outputBinding(kernel, buffers, kernel.inputs.length + 1),
                slice: moving(kernel.inputs.length + 1),
              },
        step: stepped
          ? {
              binding: outputBinding(kernel, buffers, kernel.inputs.length + outputsOf(kernel).length),
              vectors: stepVectors(kernel),
              a: moving(0),
              b: moving(1),
              c: moving(kernel.inputs.length),
            }
          : undefined,
      })
      return { ...rendered, usesStep: stepped }
    }
    default:
      return kernel satisfies never
  }
}
