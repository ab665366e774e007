/**
 * Gates: the small kernels that decide on the device which dispatches of a
 * call run, so that control flow needs no read back and the call stays one
 * submission. A dispatch guarded by a gate is dispatched indirectly, with
 * the workgroup counts its gate wrote: its own when its `branch` is the one
 * the gate chose, none otherwise (then it costs nothing).
 *
 * - A cond's gate chooses the branch its index names (clamped).
 * - A whileLoop opens with a gate that marks the loop running and chooses
 *   the first predicate; after each step's predicate, a gate chooses 1
 *   (run the body and the next predicate) while the loop runs and the
 *   predicate holds, and 0 from then on, so that the steps after the loop
 *   has finished cost one gate dispatch each.
 *
 * Each gate holds a table of its guarded dispatches, [branch, slot, x, y,
 * z] per dispatch, and writes slot's three counts into the shared buffer of
 * indirect arguments; a whileLoop's running flag lives in a state buffer.
 */
import type { GpuContext } from './device.ts'
import type { Dispatch } from './plan.ts'

/** A compiled gate kernel (the same shape as the renderer's kernels). */
export interface GateKernel {
  readonly code: string
  readonly entryPoint: string
  readonly workgroups: readonly [number, number, number]
  readonly label: string
}

/** What a gate reads to choose: a cond's index, a whileLoop step's predicate, or nothing (a whileLoop opening). */
export type GateKind =
  | { readonly kind: 'cond'; readonly cond: number; readonly branches: number }
  | { readonly kind: 'open'; readonly loop: number }
  | { readonly kind: 'step'; readonly loop: number }

const tableCode = (count: number) => `
  let k = gid.x;
  if (k >= ${count}u) { return; }
  let row = 5u * k;
  let at = 3u * table[row + 1u];
  let run = table[row] == choice;
  args[at] = select(0u, table[row + 2u], run);
  args[at + 1u] = select(1u, table[row + 3u], run);
  args[at + 2u] = select(1u, table[row + 4u], run);
}
`

/** The gate's WGSL: its bindings (what it reads, then the table, the arguments, the state), the choice, the writes. */
function gateKernel(gate: GateKind, count: number): GateKernel {
  const table = (b: number) => `@group(0) @binding(${b}) var<storage, read> table: array<u32>;
@group(0) @binding(${b + 1}) var<storage, read_write> args: array<u32>;`
  const state = (b: number) => `@group(0) @binding(${b}) var<storage, read_write> state: array<u32>;`
  const entry = '@compute @workgroup_size(64)\nfn main(@builtin(global_invocation_id) gid: vec3u) {'
  let code: string
  if (gate.kind === 'cond')
    code = `@group(0) @binding(0) var<storage, read> index: array<i32>;
${table(1)}
${entry}
  let choice = u32(clamp(index[0], 0i, ${gate.branches - 1}i));${tableCode(count)}`
  else if (gate.kind === 'open')
    code = `${table(0)}
${state(2)}
${entry}
  // Every invocation writes the same flag: the loop runs until a predicate fails.
  state[${gate.loop}] = 1u;
  let choice = 1u;${tableCode(count)}`
  else
    code = `@group(0) @binding(0) var<storage, read> pred: array<i32>;
${table(1)}
${state(3)}
${entry}
  // The write is idempotent (choice = running ∧ pred, and running ∧ pred = choice once written), so the
  // invocations agree whichever reads the flag first.
  let choice = select(0u, 1u, state[${gate.loop}] != 0u && pred[0] != 0i);
  state[${gate.loop}] = choice;${tableCode(count)}`
  const label = gate.kind === 'cond' ? `gate of cond ${gate.cond}` : `${gate.kind} gate of whileLoop ${gate.loop}`
  return { code, entryPoint: 'main', workgroups: [Math.max(1, Math.ceil(count / 64)), 1, 1], label }
}

export class Gates {
  /** Per dispatch: its slot of indirect arguments where it is guarded, else −1. */
  readonly slot: number[]
  /** The gates by dispatch index: their kernels and tables. */
  readonly byDispatch = new Map<
    number,
    { readonly gate: GateKind; readonly kernel: GateKernel; readonly table: GPUBuffer }
  >()
  /** The indirect arguments, 3 u32 per slot; null without control flow. */
  readonly args: GPUBuffer | null = null
  /** The whileLoops' running flags. */
  readonly state: GPUBuffer | null = null

  constructor(
    context: GpuContext,
    dispatches: readonly Dispatch[],
    workgroups: (kernel: number) => readonly [number, number, number],
  ) {
    let slots = 0
    this.slot = dispatches.map((d) => (d.guard === undefined ? -1 : slots++))
    if (slots === 0) return
    const { device } = context
    this.args = device.createBuffer({ size: 12 * slots, usage: 0x80 | 0x100 }) // STORAGE | INDIRECT
    const loops = dispatches.reduce(
      (n, d) => (d.gate !== undefined && d.gate.kind !== 'cond' ? Math.max(n, d.gate.loop + 1) : n),
      0,
    )
    if (loops > 0) this.state = device.createBuffer({ size: Math.max(16, 4 * loops), usage: 0x80 }) // STORAGE
    dispatches.forEach((d, g) => {
      if (d.gate === undefined) return
      const guarded = dispatches.flatMap((e, i) => (e.guard?.gate === g ? [i] : []))
      const rows = new Uint32Array(5 * Math.max(1, guarded.length))
      guarded.forEach((i, k) => {
        const e = dispatches[i]
        rows.set([(e.guard as { branch: number }).branch, this.slot[i], ...workgroups(e.kernel)], 5 * k)
      })
      const table = device.createBuffer({ size: rows.byteLength, usage: 0x80 | 0x08 }) // STORAGE | COPY_DST
      device.queue.writeBuffer(table, 0, rows)
      this.byDispatch.set(g, { gate: d.gate, kernel: gateKernel(d.gate, guarded.length), table })
    })
  }

  /** The kernel of gate dispatch `i`. */
  kernel(i: number): GateKernel {
    return (this.byDispatch.get(i) as { kernel: GateKernel }).kernel
  }

  /** The bind group of gate dispatch `i`, reading `input` (a cond's index, a step's predicate) where it has one. */
  bindGroup(context: GpuContext, i: number, input: GPUBuffer | undefined, pipeline: GPUComputePipeline): GPUBindGroup {
    const { gate, table } = this.byDispatch.get(i) as { gate: GateKind; table: GPUBuffer }
    const args = this.args as GPUBuffer
    const state = this.state as GPUBuffer
    // In binding order: what it reads, the table, the arguments, then a whileLoop's running flags.
    const buffers =
      gate.kind === 'cond'
        ? [input as GPUBuffer, table, args]
        : gate.kind === 'open'
          ? [table, args, state]
          : [input as GPUBuffer, table, args, state]
    return context.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    })
  }
}
