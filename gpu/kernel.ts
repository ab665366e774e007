/**
 * Kernel IR: what the lowering produces and the WGSL renderer consumes.
 *
 * A kernel computes one output buffer. Scalar expressions are hash-consed
 * (structurally equal expressions are the same object), so a subexpression
 * used twice is computed once by the renderer. Index arithmetic is i32.
 */
import type { CompareOp, UnaryPrimitive } from '../src/core/index.ts'
import type { OperandWindow } from './kernels/matmul.ts'

export type ScalarType = 'f32' | 'i32' | 'bool'
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'max' | 'min' | 'mod'

interface Node {
  readonly id: number
  readonly t: ScalarType
}
export type Expr =
  | (Node & { readonly k: 'idx'; readonly name: string })
  | (Node & { readonly k: 'lit'; readonly value: number })
  | (Node & { readonly k: 'load'; readonly slot: number; readonly offset: Expr })
  | (Node & { readonly k: 'un'; readonly op: UnaryPrimitive; readonly a: Expr })
  | (Node & { readonly k: 'bin'; readonly op: BinaryOp; readonly a: Expr; readonly b: Expr })
  | (Node & { readonly k: 'cmp'; readonly op: CompareOp; readonly a: Expr; readonly b: Expr })
  /**
   * c ? a : b. Lazy: only the arm the condition picks is evaluated (an if/else
   * in WGSL, where `select` evaluates both); for arms that are costly and
   * exclusive, such as the blocks of a concatenation.
   */
  | (Node & { readonly k: 'sel'; readonly c: Expr; readonly a: Expr; readonly b: Expr; readonly lazy?: true })
  | (Node & { readonly k: 'cast'; readonly a: Expr })
  /**
   * Threefry-2×32 of a key (args 0, 1) and a counter (args 2, 3), word
   * `args[4]` of the pair: raw bits (i32), or its top 24 bits scaled to
   * [0, 1) (f32). All arguments are i32.
   */
  | (Node & { readonly k: 'rand'; readonly args: readonly [Expr, Expr, Expr, Expr, Expr] })

type Fields<K extends Expr['k']> = Omit<Extract<Expr, { k: K }>, 'id'>

/** Builds hash-consed expressions, folding constant index arithmetic. */
export class ExprBuilder {
  private readonly table = new Map<string, Expr>()
  private intern<K extends Expr['k']>(fields: Fields<K>): Expr {
    // JSON writes ±∞ and NaN as null, and −0 as 0: they are keyed by name, so that lit(∞), lit(−∞), lit(NaN)
    // and lit(−0) stay apart from each other and from lit(0).
    const key = JSON.stringify(fields, (k, v) =>
      v !== null && typeof v === 'object' && 'id' in v && k !== ''
        ? `#${v.id}`
        : typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))
          ? Object.is(v, -0)
            ? '-0'
            : String(v)
          : v,
    )
    let e = this.table.get(key)
    if (e === undefined) {
      e = { ...fields, id: this.table.size } as unknown as Expr
      this.table.set(key, e)
    }
    return e
  }
  idx(name: string): Expr {
    return this.intern<'idx'>({ k: 'idx', name, t: 'i32' })
  }
  lit(value: number, t: ScalarType): Expr {
    // An integer has one zero: −0 (from folding −1 / 2, say) is 0.
    return this.intern<'lit'>({ k: 'lit', value: t === 'bool' ? (value ? 1 : 0) : t === 'i32' ? value + 0 : value, t })
  }
  load(slot: number, offset: Expr, t: ScalarType): Expr {
    return this.intern<'load'>({ k: 'load', slot, offset, t })
  }
  un(op: UnaryPrimitive, a: Expr): Expr {
    // −(−x) = x exactly; folded so that −(−x) − x is seen as x − x (render.ts), as minimum(x, x) − x becomes.
    if (op === 'neg' && a.k === 'un' && a.op === 'neg') return a.a
    return this.intern<'un'>({ k: 'un', op, a, t: a.t })
  }
  bin(op: BinaryOp, a: Expr, b: Expr): Expr {
    if (a.t === 'i32' && a.k === 'lit' && b.k === 'lit') {
      const [x, y] = [a.value, b.value]
      const v = {
        add: x + y,
        sub: x - y,
        mul: x * y,
        div: Math.trunc(x / y),
        mod: x % y,
        max: Math.max(x, y),
        min: Math.min(x, y),
        pow: x ** y,
      }[op]
      if (Number.isFinite(v)) return this.lit(v, 'i32')
    }
    // max(x, x) = min(x, x) = x (NaN included): folded here, so that x − max(x, x) is seen as x − x (render.ts).
    if ((op === 'max' || op === 'min') && a === b) return a
    if (a.t === 'i32') {
      // (x / d)·d + x % d = x for an index x ≥ 0.
      if (
        op === 'add' &&
        a.k === 'bin' &&
        a.op === 'mul' &&
        a.a.k === 'bin' &&
        a.a.op === 'div' &&
        b.k === 'bin' &&
        b.op === 'mod' &&
        a.a.a === b.a &&
        a.a.b === b.b &&
        a.b === b.b
      )
        return b.a
      if (op === 'add' && a.k === 'lit' && a.value === 0) return b
      if ((op === 'add' || op === 'sub') && b.k === 'lit' && b.value === 0) return a
      if (op === 'mul' && ((a.k === 'lit' && a.value === 0) || (b.k === 'lit' && b.value === 0)))
        return this.lit(0, 'i32')
      if (op === 'mul' && a.k === 'lit' && a.value === 1) return b
      if ((op === 'mul' || op === 'div') && b.k === 'lit' && b.value === 1) return a
      if (op === 'mod' && b.k === 'lit' && b.value === 1) return this.lit(0, 'i32')
    }
    return this.intern<'bin'>({ k: 'bin', op, a, b, t: a.t })
  }
  cmp(op: CompareOp, a: Expr, b: Expr): Expr {
    return this.intern<'cmp'>({ k: 'cmp', op, a, b, t: 'bool' })
  }
  sel(c: Expr, a: Expr, b: Expr, lazy = false): Expr {
    if (c.k === 'lit') return c.value ? a : b
    if (a === b) return a
    return this.intern<'sel'>(lazy ? { k: 'sel', c, a, b, t: a.t, lazy } : { k: 'sel', c, a, b, t: a.t })
  }
  cast(a: Expr, t: ScalarType): Expr {
    if (a.t === t) return a
    if (a.k === 'lit') return this.lit(t === 'i32' ? Math.trunc(a.value) : a.value, t)
    return this.intern<'cast'>({ k: 'cast', a, t })
  }
  rand(args: readonly [Expr, Expr, Expr, Expr, Expr], t: 'i32' | 'f32'): Expr {
    return this.intern<'rand'>({ k: 'rand', args, t })
  }
  /** a₀·s₀ + a₁·s₁ + … for index expressions a and integer strides s. */
  affine(terms: readonly (readonly [Expr, number])[]): Expr {
    return terms.reduce<Expr>(
      (acc, [e, s]) => this.bin('add', acc, this.bin('mul', e, this.lit(s, 'i32'))),
      this.lit(0, 'i32'),
    )
  }
  /** `e` with each of its children replaced by `child` of it, built (hash-consed) in this builder. */
  withChildren(e: Expr, child: (x: Expr) => Expr): Expr {
    switch (e.k) {
      case 'idx':
        return this.idx(e.name)
      case 'lit':
        return this.lit(e.value, e.t)
      case 'load':
        return this.load(e.slot, child(e.offset), e.t)
      case 'un':
        return this.un(e.op, child(e.a))
      case 'bin':
        return this.bin(e.op, child(e.a), child(e.b))
      case 'cmp':
        return this.cmp(e.op, child(e.a), child(e.b))
      case 'sel':
        return this.sel(child(e.c), child(e.a), child(e.b), e.lazy)
      case 'cast':
        return this.cast(child(e.a), e.t)
      case 'rand': {
        const [k0, k1, c0, c1, w] = e.args.map(child)
        return this.rand([k0, k1, c0, c1, w], e.t as 'i32' | 'f32')
      }
      default:
        return e satisfies never
    }
  }
  /**
   * `e` rebuilt bottom-up with its index variables and loads replaced:
   * `idx(name)` gives the new expression for an index (undefined keeps it),
   * `load(slot, offset, t)` the new load for a rebuilt offset.
   */
  rewrite(
    e: Expr,
    replace: {
      readonly idx?: (name: string) => Expr | undefined
      readonly load?: (slot: number, offset: Expr, t: ScalarType) => Expr
    },
    memo = new Map<number, Expr>(),
  ): Expr {
    const known = memo.get(e.id)
    if (known !== undefined) return known
    const go = (x: Expr) => this.rewrite(x, replace, memo)
    let out: Expr
    switch (e.k) {
      // Indices and literals (in withChildren) are interned here too: an expression of another builder is rebuilt whole.
      case 'idx':
        out = replace.idx?.(e.name) ?? this.idx(e.name)
        break
      case 'load': {
        const offset = go(e.offset)
        out = replace.load ? replace.load(e.slot, offset, e.t) : this.load(e.slot, offset, e.t)
        break
      }
      default:
        out = this.withChildren(e, go)
    }
    memo.set(e.id, out)
    return out
  }
}

/**
 * A buffer of the lowered program: an argument, a captured constant, an
 * intermediate, or an output; inside a loop body also a view (one step's
 * slice of a stacked buffer: an xs read, a ys written) or a carry (the state
 * read or written by one step, bound to a different buffer at each step).
 */
export interface LogicalBuffer {
  readonly id: number
  /** Elements (for a view: of one step's slice). */
  readonly size: number
  readonly type: ScalarType
  readonly role: 'input' | 'const' | 'temp' | 'output' | 'view' | 'carry' | 'alias'
  /** For inputs: the argument position; for outputs: the result position. */
  readonly index?: number
  /**
   * For a view: the stacked buffer [T, ...] whose slice t it is (at element offset + t·size), t the step's index.
   * For an alias (a branch's output): the buffer it is, which every branch of the cond writes.
   */
  readonly of?: number
  /** For a view: where its slice 0 starts in `of`, in elements (default 0; a scan over a slice of a stacked buffer). */
  readonly offset?: number
  /**
   * For a view: the loop whose step t it is (`of` may itself be a view, of an enclosing loop's step); none for a
   * block of a concatenation placed in its output (gpu/lower/concats.ts), at `offset` in `of`.
   */
  readonly loop?: number
  /**
   * For a view that a loop body writes as a y and that is also one of its carries (the kernel that computes the
   * carry stores it twice): the body's buffer of that carry's value at the step before (its read). Where the kernel
   * does not read that, the carry lives in the ys in place (gpu/lower/loops.ts).
   */
  readonly inPlaceOf?: number
}

interface KernelBase {
  /** Logical buffers read; `load` slots index this list. */
  readonly inputs: readonly number[]
  readonly output: number
  /**
   * A second buffer that receives the same values (a loop body's carry that
   * the body also returns as a y: the state and its slice of the stacked ys).
   */
  readonly also?: number
}

/**
 * The buffers a kernel writes, in the order it binds them after its inputs: its output, its second output if
 * any, then each of a matmul's further outputs (its epilogue's stores) and their second outputs.
 */
export const outputsOf = (k: KernelBase & { readonly stores?: readonly EpilogueStore[] }): number[] => [
  k.output,
  ...(k.also === undefined ? [] : [k.also]),
  ...(k.stores ?? []).flatMap((s) => (s.also === undefined ? [s.output] : [s.output, s.also])),
]

/**
 * How a kernel's inputs are bound. Inputs that are the same buffer at every dispatch share one binding: the same
 * logical buffer read twice, or two views of one stacked buffer (a recurrent step's states at t and t − 1), which
 * differ only in where they start (the step uniform's entry for each input's position, as before). A buffer is
 * followed through views and aliases to the one they are bound through; two inputs that reach the same one are
 * bound to the same buffer at every step (gpu/plan.ts resolves each id the same way at a dispatch). A matmul's A
 * and B (slots 0 and 1) keep bindings of their own: they are declared as vec4s where they are read four at a time.
 */
export interface InputBindings {
  /** For each input slot, the slot whose binding it reads: itself where it has a binding of its own. */
  readonly reads: readonly number[]
  /** For each input slot with a binding of its own, how many such slots come before it; −1 for the others. */
  readonly index: readonly number[]
  /** The bindings the inputs take. */
  readonly count: number
}

type Bound = KernelBase & { readonly kind?: string; readonly stores?: readonly EpilogueStore[] }

/** A buffer, then the buffers it is bound through: each view's or alias's `of`, to one that is neither. */
function* boundThrough(id: number, buffers: readonly LogicalBuffer[]): Generator<number> {
  for (let b = buffers[id]; ; b = buffers[b.of]) {
    yield b.id
    if ((b.role !== 'view' && b.role !== 'alias') || b.of === undefined) return
  }
}

export function inputBindings(k: Bound, buffers: readonly LogicalBuffer[]): InputBindings {
  const root = (id: number) => [...boundThrough(id, buffers)].at(-1) as number
  const own = k.kind === 'matmul' ? 2 : 0
  const first = new Map<number, number>()
  const reads: number[] = []
  const index: number[] = []
  let count = 0
  k.inputs.forEach((id, slot) => {
    const key = root(id)
    const earlier = slot < own ? undefined : first.get(key)
    if (earlier !== undefined && buffers[k.inputs[earlier]].type === buffers[id].type) {
      reads.push(earlier)
      index.push(-1)
      return
    }
    if (slot >= own && !first.has(key)) first.set(key, slot)
    reads.push(slot)
    index.push(count++)
  })
  return { reads, index, count }
}

/** Whether a kernel reads buffer `id`, directly or through views and aliases of it. */
export function reads(k: KernelBase, id: number, buffers: readonly LogicalBuffer[]): boolean {
  return k.inputs.some((input) => [...boundThrough(input, buffers)].includes(id))
}

/**
 * Whether the second output `also` of a kernel's output holds it in place of a loop's carry: a y view that is also
 * a carry, where the kernel does not read that carry's value at the step before (LogicalBuffer.inPlaceOf). The
 * kernel then writes the y alone, and the carry is read from the ys (gpu/lower/loops.ts).
 */
export const holdsInPlace = (k: KernelBase, also: number | undefined, buffers: readonly LogicalBuffer[]): boolean => {
  const before = also === undefined ? undefined : buffers[also].inPlaceOf
  return before !== undefined && !reads(k, before, buffers)
}

/**
 * Storage buffers a kernel binds: its inputs (those of one buffer once) and every buffer it writes, a carry that
 * its y holds in place (holdsInPlace) once. (At most: a product may bind its A or B as a uniform instead.)
 */
export const bindingCount = (k: Bound, buffers: readonly LogicalBuffer[]): number =>
  inputBindings(k, buffers).count +
  outputsOf(k).length -
  [k.also, ...(k.stores ?? []).map((s) => s.also)].filter((also) => holdsInPlace(k, also, buffers)).length

/** out[o] = value(o) for every index o of `shape`. */
export interface MapKernel extends KernelBase {
  readonly kind: 'map'
  readonly shape: readonly number[]
  readonly value: Expr
}

/**
 * A fused elementwise epilogue: the value of a map kernel over `shape` (the
 * producer's elements in the same order), in which a load from `ACC_SLOT` is
 * the producer's own result at this element; its other loads use the fused
 * kernel's input slots.
 */
export interface Epilogue {
  readonly value: Expr
  readonly shape: readonly number[]
}

/** The slot of a load that reads the result of the kernel an epilogue is fused into. */
export const ACC_SLOT = -1

/**
 * out[o] = epilogue(init(o) ⊕ ⊕_r body(o, r)) with ⊕ = + or max, r ranging
 * over `reduced`; the accumulator has the type of `init`.
 */
export interface ReduceKernel extends KernelBase {
  readonly kind: 'reduce'
  readonly op: 'sum' | 'max'
  readonly shape: readonly number[]
  readonly reduced: readonly number[]
  readonly init: Expr
  readonly body: Expr
  /**
   * Invocations per output element (a power of two, at most 256): one
   * workgroup of this size reduces each output element and combines its
   * invocations' partial results through workgroup memory. Absent: one
   * invocation reduces one output element serially.
   */
  readonly workgroup?: number
  /** Over the kernel's own `shape` (its indices are the kernel's o0, o1, …). */
  readonly epilogue?: Epilogue
}

/**
 * A further output of a matmul's epilogue, computed from the product by the
 * same invocation that computed it. The product's n columns are `groups`
 * blocks of u = n / groups columns (MatmulKernel.groups); this output is
 * [batch·m, spread·u] (flattened), and `values[s]` is its element
 * (r, s·u + j) for the index variables `sr` = r (the product's row, through
 * the batch) and `sj` = j < u. In them a load from ACC_SLOT at lit(g) is the
 * product's element (r, g·u + j), and the other loads use the kernel's
 * input slots. An LSTM step's cell state and hidden state from the four
 * gate blocks of one product (groups 4), or the four gate blocks of its
 * gradient from one column of the product that precedes them (spread 4).
 */
export interface EpilogueStore {
  readonly output: number
  /** A second buffer that receives the same values (a carry that is also a y). */
  readonly also?: number
  readonly spread: number
  readonly values: readonly Expr[]
}

/** C = op(A)·op(B), batched; inputs [A, B]. */
export interface MatmulKernel extends KernelBase {
  readonly kind: 'matmul'
  readonly batch: number
  readonly m: number
  readonly n: number
  readonly k: number
  readonly transA: boolean
  readonly transB: boolean
  readonly batchStrideA: number
  readonly batchStrideB: number
  /** Where A and B start in their buffers, in elements (an operand that is a run of a stored value's leading axis). */
  readonly startA: number
  readonly startB: number
  /**
   * An operand read through a window from its start (a convolution's windows of its input): transA and
   * batchStrideA then say nothing; likewise B.
   */
  readonly windowA?: OperandWindow
  readonly windowB?: OperandWindow
  /**
   * Over the product's shape [..., m, n] with batch entries flattened into
   * `batch`; its extra inputs are inputs[2…].
   */
  readonly epilogue?: Epilogue
  /**
   * The column blocks of C that each invocation takes together (default 1): with g blocks of u = n / g columns,
   * an invocation that computes column j of one block computes column j of every block, so that its stores see
   * them all at once.
   */
  readonly groups?: number
  /** Further outputs computed from C as it is stored (after its epilogue, if any: their ACC_SLOT loads read that). */
  readonly stores?: readonly EpilogueStore[]
}

export type Kernel = MapKernel | ReduceKernel | MatmulKernel

/**
 * A scan on the device: the body's kernels, compiled once, dispatched once
 * per step inside the call's one submission. Each carry alternates between
 * its result buffer and a spare (step s writes the result when T − 1 − s is
 * even, so the last step does), and step s reads what step s − 1 wrote (step
 * 0 the init). A kernel that reads or writes a view or a carry learns from
 * a uniform where each of its buffers starts at this step: a view's slice t
 * (T − 1 − s when reversed) of the buffer it views, itself a view where the
 * loop is inside another loop's body. A carry that is also a y is stored
 * twice by the kernel that computes it (`also`), so no step copies it; or,
 * where that kernel does not read the carry's value before, it lives in the
 * ys (`inPlace`): written once, as the y, and read from the slice before.
 */
export interface Loop {
  readonly length: number
  readonly reverse: boolean
  /** What one step runs, in order. */
  readonly body: readonly ScheduleItem[]
  /** Per carry: the body's carry buffers (role 'carry'), and what they are bound to. */
  readonly carries: readonly {
    readonly read: number
    readonly write: number
    readonly init: number
    readonly result: number
    readonly spare: number
    /**
     * Where the carry lives in the ys in place: `y`, the view its kernel writes at each step, and `before`, a view
     * of the same ys at the step before, which the carry is read from after the first step. Then `write` is
     * bound to `y`, and `result` is a view of the ys' last slice.
     */
    readonly inPlace?: { readonly y: number; readonly before: number }
  }[]
}

/** One entry of what a call runs: a kernel (an index into `kernels`), or a loop (into `loops`). */
export type ScheduleItem =
  | { readonly kernel: number }
  | { readonly loop: number }
  | { readonly cond: number }
  | { readonly while: number }

/**
 * A cond on the device: every branch's kernels are in the schedule, each
 * dispatched indirectly; a small gate kernel, dispatched first, reads the
 * index and writes the workgroup counts of the branch it names, and zero
 * workgroups for the others, so an untaken branch costs no compute and the
 * call stays one submission with no read back. The branches write the
 * cond's outputs through aliases.
 */
/**
 * A whileLoop on the device, up to `length` steps in the call's one
 * submission: each step dispatches the predicate, a gate that decides
 * whether the loop still runs, and the body, which writes the next carries
 * and copies them over the carries (its results). The predicate and body
 * are dispatched indirectly: once the predicate fails, a step costs its
 * gate alone, and the carries keep the last step's values.
 */
export interface WhileLoop {
  /** The most steps the loop dispatches (its maxIterations). */
  readonly length: number
  /** The bool buffer the predicate's kernels write. */
  readonly pred: number
  /** What computes the predicate from the carries. */
  readonly predicate: readonly ScheduleItem[]
  /** What computes the next carries and copies them over the carries. */
  readonly body: readonly ScheduleItem[]
}

export interface Branches {
  /** The buffer of the index (an i32 scalar, clamped to the branches). */
  readonly index: number
  readonly branches: readonly (readonly ScheduleItem[])[]
}

export interface LoweredProgram {
  readonly buffers: readonly LogicalBuffer[]
  /** Every kernel, each compiled once (a loop body's among them). */
  readonly kernels: readonly Kernel[]
  /** What one call runs, in order. */
  readonly schedule: readonly ScheduleItem[]
  readonly loops: readonly Loop[]
  readonly conds: readonly Branches[]
  readonly whiles: readonly WhileLoop[]
  /** For each program output, the logical buffer that holds it. */
  readonly outputs: readonly number[]
  /** Shapes of the outputs. */
  readonly outputShapes: readonly (readonly number[])[]
}
