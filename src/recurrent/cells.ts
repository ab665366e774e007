/**
 * Recurrent cells: one step of a recurrent network as a value
 *
 *   { init(key) => θ, initialState(batch?) => h₀, step(θ, h, x) => [h′, y] },
 *
 * the `g_θ(x_t, h_{t−1})` of D. Barber, Neural Nets (lecture notes),
 * "Computing the Gradient" and "Real Time Recurrent Learning", with its
 * output, so that `scan(([h, x]) => step(θ, h, x), h₀, xs)` runs it over a
 * sequence, and every transform (grad, jvp, vmap, jit, `bptt`, `rtrl`)
 * applies to it unchanged.
 *
 * Conventions. Inputs and states are rows, as in `nn.dense` and in Keras /
 * TensorFlow.js: a step takes x [...B, I] and a state whose tensors are
 * [...B, H] for any leading batch shape B (none, for one sequence); weights
 * multiply from the right, so the column-vector form `W h + U x + b` is written
 * `h·Wh + x·Wx + b` with Wh = Wᵀ [H, H] and Wx = Uᵀ [I, H]. A sequence is
 * time-major, [T, ...B, I]: scan runs over the leading axis.
 *
 * The cells (A. Martins, Deep Learning: A Shallow Tutorial, NLPL Winter
 * School 2018, part "Recurrent Neural Networks"):
 *  - elman:  h′ = tanh(x·Wx + h·Wh + b);  y = h′.
 *  - lstm:   [i f g o] = x·Wx + h·Wh + b (four column blocks of width H);
 *            c′ = σ(f)⊙c + σ(i)⊙tanh(g),  h′ = σ(o)⊙tanh(c′);  y = h′.
 *            The forget block of b starts at 1 (Martins, "Implementation Tricks":
 *            "initialize so that the bias on the forget gate is large"); the
 *            gate order is Keras's.
 *  - gru:    r = σ(x·Wxr + h·Whr + br),  u = σ(x·Wxu + h·Whu + bu),
 *            h̃ = tanh(x·Wxc + (r⊙h)·Whc + bc),  h′ = u⊙h̃ + (1 − u)⊙h;  y = h′
 *            (Cho et al. 2014, as in Martins, "Gated Recurrent Units"; Keras's z is 1 − u).
 * Gates share one matrix product (Martins, "Implementation Tricks":
 * concatenate the gates' parameter matrices). Input weights start Glorot
 * uniform, recurrent ones orthogonal, biases zero.
 *
 * Combinators: `stacked(c₁, …, cₙ)` is a cell (a deep RNN: cₖ's output is
 * cₖ₊₁'s input, the state is the list of states); `rnn(cell)` runs a cell
 * over a sequence; `bidirectional(f, b)` runs f forwards and b backwards over
 * the same sequence and concatenates their outputs at each step.
 */
import type { FloatDType } from '../dtype.ts'
import { glorotUniform, type Initializer } from '../nn/init.ts'
import { defineLayer, expectParams, expectParamShape, type Layer, type Stateless } from '../nn/layer.ts'
import * as ops from '../ops.ts'
import * as random from '../random.ts'
import type { SumOfDims } from '../shape/conv.ts'
import type { Dim, Shape } from '../shape/types.ts'
import { formatAval, formatShape, Tensor } from '../tensor.ts'
import { orthogonal } from './orthogonal.ts'
import { scan } from './scan.ts'

// ---------------------------------------------------------------- types

/** The sizes of a state: a number H stands for a tensor [...B, H]; arrays and records of layouts for pytrees of them. */
export type StateLayout = number | readonly StateLayout[] | { readonly [key: string]: StateLayout }

/** The state of layout L for leading batch shape B: `StateOf<{ h: 8, c: 8 }, ['B']>` is `{ h: Tensor<['B', 8]>, c: Tensor<['B', 8]> }`. */
export type StateOf<L, B extends Shape = ['B']> = L extends number
  ? Tensor<[...B, L]>
  : { readonly [K in keyof L]: StateOf<L[K], B> }

/**
 * A recurrent cell: one step [h′, y] = step(params, h, x) from a state h of layout L and an input
 * x of size I to an output of size O, for any leading batch shape.
 */
export interface Cell<
  I extends number = number,
  O extends number = number,
  P = any,
  L extends StateLayout = StateLayout,
> {
  /** For messages, e.g. `lstm(3 → 8)`. */
  readonly name: string
  readonly inputSize: I
  readonly outputSize: O
  /** The sizes of the state's tensors. */
  readonly layout: L
  /** The dtype of the parameters and of the initial state. */
  readonly dtype: FloatDType
  init(key: random.Key): P
  /** Zeros: for one sequence without a batch axis, or for a batch of `batch` sequences. */
  initialState(): StateOf<L, []>
  initialState<const N extends number>(batch: N): StateOf<L, [N]>
  /** One step: [h′, y] from the state h and the input x, for any leading batch shape B. */
  step<B extends Shape>(
    params: P,
    state: StateOf<L, B>,
    x: Tensor<[...B, I]>,
  ): readonly [StateOf<L, B>, Tensor<[...B, O]>]
}

/** Any cell, as the combinators and gradient algorithms accept it. */
export type AnyCell = Cell<number, number, any, any>

/** Options of a cell's parameters: the initialisers of the input and recurrent weights, and the dtype. */
export interface CellOptions {
  /** The initialiser of the input weights (default Glorot uniform). */
  readonly init?: Initializer
  /** The initialiser of the recurrent weights (default orthogonal). */
  readonly recurrentInit?: Initializer
  /** The dtype of parameters and states (default f32). */
  readonly dtype?: FloatDType
}

// ---------------------------------------------------------------- run time

const isTensor = (x: unknown): x is Tensor => x instanceof Tensor
const describeValue = (x: unknown): string =>
  x === null
    ? 'null'
    : x === undefined
      ? 'undefined'
      : isTensor(x)
        ? formatAval(x.aval)
        : Array.isArray(x)
          ? `an array of ${x.length}`
          : typeof x

/** The layout with each size replaced by f(size). */
function mapLayout(layout: StateLayout, f: (size: number) => unknown): unknown {
  if (typeof layout === 'number') return f(layout)
  if (Array.isArray(layout)) return layout.map((l) => mapLayout(l, f))
  const rec = layout as { readonly [key: string]: StateLayout }
  return Object.fromEntries(Object.keys(rec).map((k) => [k, mapLayout(rec[k], f)]))
}

/** Zeros in the layout for leading shape `lead`. */
export function zeroState(layout: StateLayout, lead: readonly number[], dtype: FloatDType): unknown {
  return mapLayout(layout, (n) => ops.zeros([...lead, n], dtype))
}

const formatLayout = (layout: StateLayout): string =>
  typeof layout === 'number'
    ? `[..., ${layout}]`
    : Array.isArray(layout)
      ? `[${layout.map(formatLayout).join(', ')}]`
      : `{ ${Object.keys(layout)
          .map((k) => `${k}: ${formatLayout((layout as Record<string, StateLayout>)[k])}`)
          .join(', ')} }`

/** Throws unless `state` has the layout's structure with every tensor [...lead, size]. */
export function checkState(
  name: string,
  layout: StateLayout,
  state: unknown,
  lead: readonly number[],
  at = 'state',
): void {
  const fail = (detail: string): never => {
    throw new Error(
      `${name}: expected a state ${formatLayout(layout)} with leading shape ${formatShape(lead)}; ${detail}`,
    )
  }
  const walk = (l: StateLayout, s: unknown, path: string): void => {
    if (typeof l === 'number') {
      if (!isTensor(s)) fail(`${path} is ${describeValue(s)}, not a tensor`)
      const shape = (s as Tensor).aval.shape
      const expected = [...lead, l]
      if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i]))
        fail(`${path} should be ${formatShape(expected)}, got ${formatAval((s as Tensor).aval)}`)
      return
    }
    if (Array.isArray(l)) {
      if (!Array.isArray(s) || s.length !== l.length)
        fail(`${path} should be an array of ${l.length}, got ${describeValue(s)}`)
      l.forEach((sub, i) => walk(sub, (s as unknown[])[i], `${path}[${i}]`))
      return
    }
    const keys = Object.keys(l)
    if (typeof s !== 'object' || s === null || Array.isArray(s) || isTensor(s))
      fail(`${path} should be a record {${keys.join(', ')}}, got ${describeValue(s)}`)
    const missing = keys.filter((k) => !(k in (s as object)))
    if (missing.length > 0) fail(`${path} has no ${missing.join(', ')}`)
    keys.forEach((k) => walk((l as Record<string, StateLayout>)[k], (s as Record<string, unknown>)[k], `${path}.${k}`))
  }
  walk(layout, state, at)
}

/** Throws unless x is a tensor [...lead, size]; returns lead. */
function inputLead(name: string, x: unknown, size: number): number[] {
  if (!isTensor(x)) throw new TypeError(`${name}: expected an input tensor [..., ${size}], got ${describeValue(x)}`)
  const shape = x.aval.shape
  if (shape.length === 0 || shape[shape.length - 1] !== size)
    throw new Error(`${name}: expected an input whose last axis is ${size}, got ${formatAval(x.aval)}`)
  return shape.slice(0, -1)
}

function checkSize(name: string, what: string, n: unknown): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
    throw new Error(`${name}: ${what} must be a positive integer, got ${String(n)}`)
}

interface CellSpec<P> {
  readonly name: string
  readonly inputSize: number
  readonly outputSize: number
  readonly layout: StateLayout
  readonly dtype: FloatDType
  init(key: random.Key): P
  /** The step on checked arguments. */
  step(params: P, state: any, x: Tensor): readonly [unknown, Tensor]
}

/** A cell from its spec: adds the zero initial state and the checks of the state and input shapes. */
export function defineCell<C>(spec: CellSpec<any>): C {
  return Object.freeze({
    name: spec.name,
    inputSize: spec.inputSize,
    outputSize: spec.outputSize,
    layout: spec.layout,
    dtype: spec.dtype,
    init: (key: random.Key) => spec.init(key),
    initialState: (batch?: number) => {
      if (batch !== undefined) checkSize(`${spec.name}.initialState`, 'the batch size', batch)
      return zeroState(spec.layout, batch === undefined ? [] : [batch], spec.dtype)
    },
    step: (params: unknown, state: unknown, x: Tensor) => {
      const lead = inputLead(spec.name, x, spec.inputSize)
      checkState(spec.name, spec.layout, state, lead)
      return spec.step(params, state, x)
    },
  }) as C
}

const untyped = (x: Tensor): Tensor<any, any> => x as Tensor<any, any>

/** Column block k of width w of z [..., n]: the pre-activation of one gate. */
function block(z: Tensor, k: number, w: number): Tensor {
  const lead = z.aval.shape.slice(0, -1)
  return ops.slice(untyped(z), [...lead.map(() => 0), k * w], [...lead.map(() => -1), w])
}

/** Columns [from, from + w) of a weight [n, m]. */
const columns = (w: Tensor, from: number, width: number): Tensor =>
  ops.slice(untyped(w), [0, from], [w.aval.shape[0], width])

const product = (x: Tensor, w: Tensor): Tensor => ops.matmul(untyped(x), untyped(w))

function checkWeights(
  name: string,
  p: unknown,
  shapes: Record<string, readonly number[]>,
): asserts p is Record<string, Tensor> {
  expectParams(name, p, Object.keys(shapes))
  for (const [k, s] of Object.entries(shapes)) expectParamShape(name, k, p[k], s)
}

function gateWeights(key: random.Key, I: number, H: number, gates: number, options: CellOptions) {
  const { init = glorotUniform, recurrentInit = orthogonal(), dtype = 'f32' } = options
  const [kx, kh] = random.split(key, 2)
  return {
    wx: init(kx, [I, gates * H], { dtype }) as Tensor,
    wh: recurrentInit(kh, [H, gates * H], { dtype }) as Tensor,
    dtype,
  }
}

// ---------------------------------------------------------------- Elman

/** The parameters of an Elman cell: input weights wx, recurrent weights wh and the bias b. */
export type ElmanParams<I extends number, H extends number> = {
  readonly wx: Tensor<[I, H]>
  readonly wh: Tensor<[H, H]>
  readonly b: Tensor<[H]>
}

/**
 * The Elman RNN (Elman 1990; Martins, "Feed-forward vs Recurrent Networks"):
 * h′ = tanh(x·Wx + h·Wh + b), y = h′; state h [..., H].
 */
export function elman<const I extends number, const H extends number>(
  inputSize: I,
  hiddenSize: H,
  options: CellOptions = {},
): Cell<I, H, ElmanParams<I, H>, H> {
  const name = `elman(${inputSize} → ${hiddenSize})`
  checkSize(name, 'the input size', inputSize)
  checkSize(name, 'the hidden size', hiddenSize)
  const shapes = { wx: [inputSize, hiddenSize], wh: [hiddenSize, hiddenSize], b: [hiddenSize] }
  return defineCell({
    name,
    inputSize,
    outputSize: hiddenSize,
    layout: hiddenSize,
    dtype: options.dtype ?? 'f32',
    init(key) {
      const { wx, wh, dtype } = gateWeights(key, inputSize, hiddenSize, 1, options)
      return { wx, wh, b: ops.zeros([hiddenSize], dtype) }
    },
    step(p, h: Tensor, x) {
      checkWeights(name, p, shapes)
      const next = ops.tanh(ops.add(ops.add(product(x, p.wx), product(h, p.wh)), untyped(p.b)))
      return [next, next]
    },
  })
}

// ---------------------------------------------------------------- LSTM

/** The parameters of an LSTM cell: the input and recurrent weights and the biases of the four gates, side by side. */
export type LstmParams<I extends number, H extends number> = {
  readonly wx: Tensor<[I, number]>
  readonly wh: Tensor<[H, number]>
  readonly b: Tensor<[number]>
}
/** The state of an LSTM cell: the hidden state h and the memory c, both of size H. */
export type LstmLayout<H extends number> = { readonly h: H; readonly c: H }

/**
 * The LSTM (Hochreiter and Schmidhuber 1997, with the forget gate of Gers et
 * al. 2000; Martins, "Long Short-Term Memories"):
 * gates i, f, g, o in the column blocks of wx [I, 4H], wh [H, 4H], b [4H];
 * state { h, c }; y = h′. The forget bias starts at `forgetBias` (default 1).
 */
export function lstm<const I extends number, const H extends number>(
  inputSize: I,
  hiddenSize: H,
  options: CellOptions & { readonly forgetBias?: number } = {},
): Cell<I, H, LstmParams<I, H>, LstmLayout<H>> {
  const name = `lstm(${inputSize} → ${hiddenSize})`
  checkSize(name, 'the input size', inputSize)
  checkSize(name, 'the hidden size', hiddenSize)
  const forgetBias = options.forgetBias ?? 1
  if (!Number.isFinite(forgetBias)) throw new Error(`${name}: forgetBias must be a finite number, got ${forgetBias}`)
  const H = hiddenSize
  const shapes = { wx: [inputSize, 4 * H], wh: [H, 4 * H], b: [4 * H] }
  return defineCell({
    name,
    inputSize,
    outputSize: H,
    layout: { h: H, c: H },
    dtype: options.dtype ?? 'f32',
    init(key) {
      const { wx, wh, dtype } = gateWeights(key, inputSize, H, 4, options)
      const b = ops.tensor(
        Array.from({ length: 4 * H }, (_, j) => (j >= H && j < 2 * H ? forgetBias : 0)),
        { shape: [4 * H], dtype },
      )
      return { wx, wh, b }
    },
    step(p, s: { h: Tensor; c: Tensor }, x) {
      checkWeights(name, p, shapes)
      const z = ops.add(ops.add(product(x, p.wx), product(s.h, p.wh)), untyped(p.b))
      const [i, f, g, o] = [0, 1, 2, 3].map((k) => block(z, k, H))
      const c = ops.add(
        ops.mul(ops.sigmoid(untyped(f)), untyped(s.c)),
        ops.mul(ops.sigmoid(untyped(i)), ops.tanh(untyped(g))),
      )
      const h = ops.mul(ops.sigmoid(untyped(o)), ops.tanh(c))
      return [{ h, c }, h]
    },
  })
}

// ---------------------------------------------------------------- GRU

/** The parameters of a GRU cell: the input and recurrent weights and the biases of its gates, side by side. */
export type GruParams<I extends number, H extends number> = {
  readonly wx: Tensor<[I, number]>
  readonly wh: Tensor<[H, number]>
  readonly b: Tensor<[number]>
}
/** The parameters of a GRU cell that resets after its product: those of `GruParams` and the candidate's recurrent bias. */
export type GruResetAfterParams<I extends number, H extends number> = GruParams<I, H> & {
  readonly bh: Tensor<[H]>
}

/** Options of `gru`. */
export interface GruOptions extends CellOptions {
  /**
   * Apply the reset gate to the candidate's recurrent product rather than to h before it (default false):
   * h̃ = tanh(x·Wx + b + r ⊙ (h·Wh + bh)), the GRU of Cho et al.'s first version, as Keras's `reset_after`,
   * ONNX's `linear_before_reset` and cuDNN compute it, with a recurrent bias bh [H] of the candidate's
   * own. All three gates then come from one product h·Wh [B, 3H], so that a compiled step is one
   * kernel each way (the reset before the product needs two: the candidate's product reads r ⊙ h).
   */
  readonly resetAfter?: boolean
}

/**
 * The GRU (Cho et al. 2014; Martins, "Gated Recurrent Units"): reset r,
 * update u and candidate in the column blocks of wx [I, 3H], wh [H, 3H],
 * b [3H]; the reset gate scales h before the candidate's product
 * (h̃ = tanh(x·Wx + b + (r ⊙ h)·Wh), in the candidate's blocks), or with
 * `resetAfter` its result (see `GruOptions`); h′ = u⊙h̃ + (1 − u)⊙h, y = h′.
 */
export function gru<const I extends number, const H extends number>(
  inputSize: I,
  hiddenSize: H,
  options: GruOptions & { readonly resetAfter: true },
): Cell<I, H, GruResetAfterParams<I, H>, H>
export function gru<const I extends number, const H extends number>(
  inputSize: I,
  hiddenSize: H,
  options?: GruOptions,
): Cell<I, H, GruParams<I, H>, H>
export function gru(
  inputSize: number,
  hiddenSize: number,
  options: GruOptions = {},
): Cell<number, number, any, number> {
  const after = options.resetAfter ?? false
  if (typeof after !== 'boolean') throw new Error(`gru: resetAfter must be true or false, got ${String(after)}`)
  const name = `gru(${inputSize} → ${hiddenSize}${after ? ', reset after' : ''})`
  checkSize(name, 'the input size', inputSize)
  checkSize(name, 'the hidden size', hiddenSize)
  const H = hiddenSize
  const shapes = { wx: [inputSize, 3 * H], wh: [H, 3 * H], b: [3 * H], ...(after ? { bh: [H] } : {}) }
  return defineCell({
    name,
    inputSize,
    outputSize: H,
    layout: H,
    dtype: options.dtype ?? 'f32',
    init(key) {
      const { wx, wh, dtype } = gateWeights(key, inputSize, H, 3, options)
      const b = ops.zeros([3 * H], dtype)
      return after ? { wx, wh, b, bh: ops.zeros([H], dtype) } : { wx, wh, b }
    },
    step(p, h: Tensor, x) {
      checkWeights(name, p, shapes)
      const zx = ops.add(product(x, p.wx), untyped(p.b))
      // One product for all three blocks where the reset comes after it; else the first two blocks', r ⊙ h's later.
      const zh = product(h, after ? p.wh : columns(p.wh, 0, 2 * H))
      const r = ops.sigmoid(ops.add(untyped(block(zx, 0, H)), untyped(block(zh, 0, H))))
      const u = ops.sigmoid(ops.add(untyped(block(zx, 1, H)), untyped(block(zh, 1, H))))
      const recurrent = after
        ? ops.mul(r, ops.add(untyped(block(zh, 2, H)), untyped(p.bh)))
        : product(ops.mul(r, untyped(h)), columns(p.wh, 2 * H, H))
      const candidate = ops.tanh(ops.add(untyped(block(zx, 2, H)), recurrent))
      const next = ops.add(ops.mul(u, candidate), ops.mul(ops.sub(1, u), untyped(h)))
      return [next, next]
    },
  })
}

// ---------------------------------------------------------------- stacked

type ParamsOfCell<C> = C extends { init(key: random.Key): infer P } ? P : never
type CellParams<Cs extends readonly unknown[]> = { -readonly [K in keyof Cs]: ParamsOfCell<Cs[K]> }
type CellLayouts<Cs extends readonly unknown[]> = {
  -readonly [K in keyof Cs]: Cs[K] extends { readonly layout: infer L } ? L : never
}
type InOf<C> = C extends { readonly inputSize: infer I extends number } ? I : number
type OutOf<C> = C extends { readonly outputSize: infer O extends number } ? O : number
type Last<Cs extends readonly unknown[]> = Cs extends readonly [...unknown[], infer C] ? C : Cs[number]
type Literal<N> = number extends N ? false : true
/** unknown when each cell's output size is the next one's input size, else a message. */
type CheckChain<Cs extends readonly unknown[], K extends 0[] = []> = Cs extends readonly [infer A, infer B, ...infer R]
  ? [Literal<OutOf<A>>, Literal<InOf<B>>] extends [true, true]
    ? [OutOf<A>] extends [InOf<B>]
      ? CheckChain<[B, ...R], [...K, 0]>
      : `stacked: cell ${K['length']} outputs ${OutOf<A>} features but cell ${[...K, 0]['length']} takes ${InOf<B>}`
    : CheckChain<[B, ...R], [...K, 0]>
  : unknown

/** The cell that stacks the cells Cs: each one's output is the next one's input; the state is the list of theirs. */
export type StackedCell<Cs extends readonly AnyCell[]> = Cell<
  InOf<Cs[0]>,
  OutOf<Last<Cs>>,
  CellParams<Cs>,
  CellLayouts<Cs>
>

/**
 * A deep RNN (Martins, "Deep RNNs/LSTMs/GRUs"): cell k reads cell k − 1's
 * output; parameters and states are arrays with one entry per cell; the
 * output is the last cell's.
 */
export function stacked<const Cs extends readonly AnyCell[]>(...cells: Cs & NoInfer<CheckChain<Cs>>): StackedCell<Cs>
export function stacked(...cells: AnyCell[]): unknown {
  if (cells.length === 0) throw new Error('stacked: needs at least one cell')
  cells.forEach((c, i) => {
    if (typeof c !== 'object' || c === null || typeof c.step !== 'function' || typeof c.init !== 'function')
      throw new TypeError(`stacked: argument ${i} is not a cell (a value with init and step), got ${describeValue(c)}`)
    if (i > 0 && cells[i - 1].outputSize !== c.inputSize)
      throw new Error(
        `stacked: cell ${i - 1} (${cells[i - 1].name}) outputs ${cells[i - 1].outputSize} features but cell ${i} (${c.name}) takes ${c.inputSize}`,
      )
  })
  const dtypes = new Set(cells.map((c) => c.dtype))
  if (dtypes.size > 1)
    throw new Error(
      `stacked: the cells must share one dtype, got ${cells.map((c) => `${c.name}: ${c.dtype}`).join(', ')}`,
    )
  const n = cells.length
  return defineCell({
    name: `stacked(${cells.map((c) => c.name).join(', ')})`,
    inputSize: cells[0].inputSize,
    outputSize: cells[n - 1].outputSize,
    layout: cells.map((c) => c.layout),
    dtype: cells[0].dtype,
    init: (key) => (n === 1 ? [key] : random.split(key, n)).map((k, i) => cells[i].init(k)),
    step(params, states: unknown[], x) {
      if (!Array.isArray(params) || params.length !== n)
        throw new Error(`stacked: expected parameters as an array of ${n} (one per cell), got ${describeValue(params)}`)
      const next: unknown[] = []
      let y = x
      cells.forEach((c, i) => {
        const [s, out] = c.step(params[i], states[i] as never, y as never)
        next.push(s)
        y = out
      })
      return [next, y]
    },
  })
}

// ---------------------------------------------------------------- sequences

/** Throws unless xs is a sequence [T, ...B, size]; returns [T, B]. */
function sequenceShape(name: string, xs: unknown, size: number): [number, number[]] {
  if (!isTensor(xs))
    throw new TypeError(`${name}: expected an input sequence [T, ..., ${size}], got ${describeValue(xs)}`)
  const shape = xs.aval.shape
  if (shape.length < 2 || shape[shape.length - 1] !== size)
    throw new Error(
      `${name}: expected a time-major input sequence [T, ..., ${size}] (time first, features last), got ${formatAval(xs.aval)}`,
    )
  return [shape[0], shape.slice(1, -1)]
}

/** Runs a cell over the leading (time) axis: [h_T, ys] with ys[t] = y_t. */
function runCell(cell: AnyCell, params: unknown, h0: unknown, xs: Tensor, reverse: boolean): [unknown, Tensor] {
  const [h, ys] = scan(
    (s: unknown, x: Tensor) => cell.step(params, s as never, x as never) as readonly [unknown, Tensor],
    h0,
    xs,
    { reverse },
  )
  return [h, ys as Tensor]
}

/** A cell run over a sequence [T, B, I] as a layer: one scan of its step. */
export interface Rnn<I extends number, O extends number, P, L extends StateLayout>
  extends Layer<['T', 'B', I], ['T', 'B', O], P, Stateless> {
  readonly cell: Cell<I, O, P, L>
  /** [h_T, ys] from h₀ and xs [T, ...B, I]: one scan of the cell's step. */
  run<T extends Dim, B extends Shape>(
    params: P,
    h0: StateOf<L, B>,
    xs: Tensor<[T, ...B, I]>,
  ): readonly [StateOf<L, B>, Tensor<[T, ...B, O]>]
}

/**
 * A cell over a time-major sequence, as a layer: `apply(θ, xs)` gives the
 * outputs [T, B, O] from the zero state (any leading batch shape, or none);
 * `run(θ, h₀, xs)` also takes the initial state and returns the final one.
 */
export function rnn<I extends number, O extends number, P, L extends StateLayout>(
  cell: Cell<I, O, P, L>,
): Rnn<I, O, P, L> {
  if (typeof cell !== 'object' || cell === null || typeof cell.step !== 'function')
    throw new TypeError(`rnn: expected a cell (a value with init and step), got ${describeValue(cell)}`)
  const c = cell as AnyCell
  const name = `rnn(${c.name})`
  const run = (params: P, h0: unknown, xs: Tensor) => {
    const [, lead] = sequenceShape(name, xs, c.inputSize)
    checkState(name, c.layout, h0, lead, 'h0')
    return runCell(c, params, h0, xs, false)
  }
  const layer = defineLayer<AnyLayerLike>({
    name,
    init: (key) => c.init(key),
    forward(params, state, xs) {
      const [, lead] = sequenceShape(name, xs, c.inputSize)
      return [runCell(c, params, zeroState(c.layout, lead, c.dtype), xs, false)[1], state]
    },
  })
  return Object.freeze({ ...layer, cell, run }) as unknown as Rnn<I, O, P, L>
}

/** The width of two outputs side by side: OF + OB where both are literals, else number. */
type Concatenated<OF extends number, OB extends number> =
  SumOfDims<[OF, OB]> extends infer S extends number ? S : number

/** Two cells run over a sequence, one forward and one backward, their outputs concatenated. */
export interface Bidirectional<
  I extends number,
  OF extends number,
  OB extends number,
  PF,
  PB,
  LF extends StateLayout,
  LB extends StateLayout,
> extends Layer<['T', 'B', I], ['T', 'B', Concatenated<OF, OB>], [PF, PB], Stateless> {
  readonly cells: readonly [Cell<I, OF, PF, LF>, Cell<I, OB, PB, LB>]
  /**
   * [[h_T of the forward cell, h at t = 0 of the backward cell], ys] from
   * [h₀ forward, h₀ backward (the state before the last step)] and xs.
   */
  run<T extends Dim, B extends Shape>(
    params: [PF, PB],
    h0: readonly [StateOf<LF, B>, StateOf<LB, B>],
    xs: Tensor<[T, ...B, I]>,
  ): readonly [readonly [StateOf<LF, B>, StateOf<LB, B>], Tensor<[T, ...B, Concatenated<OF, OB>]>]
}

/**
 * A bidirectional RNN (Schuster and Paliwal 1997; Martins, "Bidirectional RNNs"):
 * `forwards` reads x₀ … x_{T−1}, `backwards`
 * reads x_{T−1} … x₀, and the output at t is [y→_t, y←_t] concatenated on
 * the last axis, so that it summarises the whole sequence around t.
 * Parameters are [θ forwards, θ backwards].
 */
export function bidirectional<
  I extends number,
  OF extends number,
  OB extends number,
  PF,
  PB,
  LF extends StateLayout,
  LB extends StateLayout,
>(forwards: Cell<I, OF, PF, LF>, backwards: Cell<NoInfer<I>, OB, PB, LB>): Bidirectional<I, OF, OB, PF, PB, LF, LB> {
  const [fw, bw] = [forwards, backwards] as unknown as [AnyCell, AnyCell]
  for (const [i, c] of [fw, bw].entries())
    if (typeof c !== 'object' || c === null || typeof c.step !== 'function')
      throw new TypeError(
        `bidirectional: argument ${i} is not a cell (a value with init and step), got ${describeValue(c)}`,
      )
  const name = `bidirectional(${fw.name}, ${bw.name})`
  if (fw.inputSize !== bw.inputSize)
    throw new Error(
      `${name}: both cells read the same sequence, but they take ${fw.inputSize} and ${bw.inputSize} features`,
    )
  if (fw.dtype !== bw.dtype) throw new Error(`${name}: the cells must share one dtype, got ${fw.dtype} and ${bw.dtype}`)
  const both = (params: unknown, h0: readonly [unknown, unknown], xs: Tensor): [[unknown, unknown], Tensor] => {
    if (!Array.isArray(params) || params.length !== 2)
      throw new Error(`${name}: expected parameters [forwards, backwards], got ${describeValue(params)}`)
    const [hf, yf] = runCell(fw, params[0], h0[0], xs, false)
    const [hb, yb] = runCell(bw, params[1], h0[1], xs, true)
    return [[hf, hb], ops.concat([yf, yb], -1)]
  }
  const run = (params: unknown, h0: readonly [unknown, unknown], xs: Tensor) => {
    const [, lead] = sequenceShape(name, xs, fw.inputSize)
    if (!Array.isArray(h0) || h0.length !== 2)
      throw new Error(`${name}: expected h0 as [forwards, backwards], got ${describeValue(h0)}`)
    checkState(name, fw.layout, h0[0], lead, 'h0[0]')
    checkState(name, bw.layout, h0[1], lead, 'h0[1]')
    return both(params, h0, xs)
  }
  const layer = defineLayer<AnyLayerLike>({
    name,
    init: (key) => random.split(key, 2).map((k, i) => (i === 0 ? fw : bw).init(k)),
    forward(params, state, xs) {
      const [, lead] = sequenceShape(name, xs, fw.inputSize)
      const h0 = [zeroState(fw.layout, lead, fw.dtype), zeroState(bw.layout, lead, bw.dtype)] as const
      return [both(params, h0, xs)[1], state]
    },
  })
  return Object.freeze({ ...layer, cells: [fw, bw] as const, run }) as unknown as Bidirectional<
    I,
    OF,
    OB,
    PF,
    PB,
    LF,
    LB
  >
}

type AnyLayerLike = Layer<Shape, Shape, unknown, Stateless>
