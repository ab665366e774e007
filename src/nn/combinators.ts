/**
 * Combinators: layers made of layers. Parameters and states of the parts
 * are kept in the structure of the combinator (an array for `sequential`
 * and `parallel`, `{ shared, network }` for `tie`), so the gradient of a
 * combined layer has the same structure and every optimiser sees plain
 * pytrees.
 *
 * Laws:
 *  - sequential(f, g).apply([p, q], x) = g.apply(q, f.apply(p, x));
 *  - residual(f).apply(p, x) = x + f.apply(p, x) (He et al. 2016; connections
 *    which skip layers, in Deep Learning, COMP613 Advanced Topics in Machine
 *    Learning (lecture notes), "Image Recognition with Convolutional
 *    Networks"; the identity path passes gradients unchanged);
 *  - parallel(f, g).apply([p, q], x) = concat([f.apply(p, x), g.apply(q, x)], −1),
 *    parallelAdd the sum instead;
 *  - tie(f, build): every use of the view of f inside build(view) uses the one
 *    set of parameters `shared`, so the gradient with respect to `shared` is
 *    the sum of the gradients at each use (D. Barber, Neural Nets (lecture
 *    notes), "Parameter Tying").
 */
import * as ops from '../ops.ts'
import * as random from '../random.ts'
import type { Shape } from '../shape/types.ts'
import { formatAval, sameShape, type Tensor } from '../tensor.ts'
import {
  defineLayer,
  type AnyLayer,
  type ChainIo,
  type Context,
  type FixedIo,
  type IoOf,
  type LayerOf,
  type OutShape,
  type ParallelIo,
  type ParamsOf,
  type ResidualIo,
  type SameIo,
  type StateOf,
  type WindowIo,
  type WithParams,
  type GlobalPoolIo,
} from './layer.ts'

type ParamsList<Ls extends readonly unknown[]> = { -readonly [K in keyof Ls]: ParamsOf<Ls[K]> }
type StateList<Ls extends readonly unknown[]> = { -readonly [K in keyof Ls]: StateOf<Ls[K]> }

/**
 * An input to check a chain with at compile time: the fixed input it pins,
 * or one that the first shape-changing layer accepts with every size it
 * does not constrain unknown, or `Shape` (no check).
 */
type ProbeOf<I> =
  I extends FixedIo<infer In, Shape>
    ? In
    : I extends WindowIo<unknown, unknown, unknown, unknown, infer Cin, unknown, boolean>
      ? ['B', number, number, unknown extends Cin ? number : Cin & number]
      : I extends GlobalPoolIo
        ? ['B', number, number, number]
        : I extends ChainIo<infer Ls>
          ? ChainProbe<Ls>
          : I extends ResidualIo<infer L>
            ? ProbeOf<IoOf<L>>
            : I extends ParallelIo<infer Ls, 'concat' | 'add'>
              ? Ls extends readonly [infer L0, ...unknown[]]
                ? ProbeOf<IoOf<L0>>
                : Shape
              : Shape
type ChainProbe<Ls> = Ls extends readonly [infer L, ...infer R]
  ? IoOf<L> extends SameIo<unknown>
    ? ChainProbe<R>
    : ProbeOf<IoOf<L>>
  : Shape

/** unknown when the shape function holds on its probe input, else the message: the call then does not compile. */
type CheckProbe<I> = OutShape<I, ProbeOf<I>> extends infer O ? (O extends string ? O : unknown) : never

// ---------------------------------------------------------------- run time

function checkLayers(op: string, layers: readonly unknown[]): asserts layers is AnyLayer[] {
  if (layers.length === 0) throw new Error(`${op}: needs at least one layer`)
  layers.forEach((l, i) => {
    const ok =
      typeof l === 'object' &&
      l !== null &&
      typeof (l as AnyLayer).forward === 'function' &&
      typeof (l as AnyLayer).init === 'function'
    if (!ok)
      throw new TypeError(
        `${op}: argument ${i} is not a layer (a value with init and forward), got ${l === null ? 'null' : typeof l}`,
      )
  })
}

function checkList(op: string, what: string, value: unknown, n: number): asserts value is unknown[] {
  if (!Array.isArray(value) || value.length !== n)
    throw new Error(
      `${op}: expected ${what} as an array of ${n} entries (one per layer), got ${Array.isArray(value) ? `${value.length} entries` : value === null ? 'null' : typeof value}`,
    )
}

/** The context of part i: its own key, so that no two parts draw the same randomness. */
const partContext = (ctx: Context, i: number): Context =>
  ctx.key === undefined ? ctx : { ...ctx, key: random.foldIn(ctx.key, i) }

/** Runs a part, naming it in any error it throws. */
function runPart(
  op: string,
  i: number,
  layer: AnyLayer,
  params: unknown,
  state: unknown,
  x: Tensor,
  ctx: Context,
): readonly [Tensor, unknown] {
  try {
    return layer.forward(params, state, x, ctx)
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    throw new Error(`${op}: layer ${i} (${layer.name}): ${message}`, { cause: e })
  }
}

const partKeys = (key: random.Key, n: number): random.Key[] => (n === 1 ? [key] : random.split(key, n))

// ---------------------------------------------------------------- sequential

/** The layer that `sequential` builds from the layers Ls: each one's output is the next one's input. */
export type Sequential<Ls extends readonly AnyLayer[]> = LayerOf<ChainIo<Ls>, ParamsList<Ls>, StateList<Ls>>

/**
 * The layers one after another. Its type is the composition of their shape
 * functions: `sequential(dense(784, 256), relu, dense(256, 10))` is a
 * `Layer<['B', 784], ['B', 10]>`, and a layer whose input does not fit its
 * predecessor's output is a compile error naming the layer and the shapes.
 * Parameters and states are arrays with one entry per layer; a layer value
 * given twice gets two sets of parameters (share them with `tie`).
 */
export function sequential<const Ls extends readonly AnyLayer[]>(
  ...layers: Ls & NoInfer<CheckProbe<ChainIo<Ls>>>
): Sequential<Ls>
export function sequential(...layers: AnyLayer[]): unknown {
  checkLayers('sequential', layers)
  const name = `sequential(${layers.map((l) => l.name).join(', ')})`
  const n = layers.length
  return defineLayer({
    name,
    init: (key) => partKeys(key, n).map((k, i) => layers[i].init(k)),
    initState: () => layers.map((l) => l.initState()),
    forward(params, state, x, ctx) {
      checkList('sequential', 'parameters', params, n)
      checkList('sequential', 'states', state, n)
      const states: unknown[] = []
      let y = x
      layers.forEach((l, i) => {
        const [out, s] = runPart('sequential', i, l, params[i], state[i], y, partContext(ctx, i))
        y = out
        states.push(s)
      })
      return [y, states]
    },
  })
}

// ---------------------------------------------------------------- parallel

/**
 * The layer that `parallel` builds from the layers Ls: each applied to the same input, the
 * outputs concatenated or added.
 */
export type Parallel<Ls extends readonly AnyLayer[], C extends 'concat' | 'add'> = LayerOf<
  ParallelIo<Ls, C>,
  ParamsList<Ls>,
  StateList<Ls>
>

function parallelWith(op: string, layers: AnyLayer[], combine: (outs: Tensor[]) => Tensor) {
  checkLayers(op, layers)
  const n = layers.length
  return defineLayer({
    name: `${op}(${layers.map((l) => l.name).join(', ')})`,
    init: (key) => partKeys(key, n).map((k, i) => layers[i].init(k)),
    initState: () => layers.map((l) => l.initState()),
    forward(params, state, x, ctx) {
      checkList(op, 'parameters', params, n)
      checkList(op, 'states', state, n)
      const results = layers.map((l, i) => runPart(op, i, l, params[i], state[i], x, partContext(ctx, i)))
      return [combine(results.map((r) => r[0])), results.map((r) => r[1])]
    },
  })
}

/** The layers applied to the same input, outputs concatenated along the last axis (as in an Inception block). */
export function parallel<const Ls extends readonly AnyLayer[]>(
  ...layers: Ls & NoInfer<CheckProbe<ParallelIo<Ls, 'concat'>>>
): Parallel<Ls, 'concat'>
export function parallel(...layers: AnyLayer[]): unknown {
  return parallelWith('parallel', layers, (outs) => {
    const lead = outs[0].aval.shape.slice(0, -1)
    outs.forEach((o, i) => {
      if (o.ndim === 0 || !sameShape(o.aval.shape.slice(0, -1), lead))
        throw new Error(
          `parallel: branch ${i} gives ${formatAval(o.aval)}, branch 0 gives ${formatAval(outs[0].aval)}; they must agree on all axes but the last`,
        )
    })
    return ops.concat(outs as Tensor<any, any>[], -1)
  })
}

/** The layers applied to the same input, outputs added (they must have one shape). */
export function parallelAdd<const Ls extends readonly AnyLayer[]>(
  ...layers: Ls & NoInfer<CheckProbe<ParallelIo<Ls, 'add'>>>
): Parallel<Ls, 'add'>
export function parallelAdd(...layers: AnyLayer[]): unknown {
  return parallelWith('parallelAdd', layers, (outs) => {
    outs.forEach((o, i) => {
      if (!sameShape(o.aval.shape, outs[0].aval.shape))
        throw new Error(
          `parallelAdd: branch ${i} gives ${formatAval(o.aval)}, branch 0 gives ${formatAval(outs[0].aval)}; added outputs must have one shape`,
        )
    })
    return outs.reduce((a, b) => ops.add(a as Tensor<any, any>, b as Tensor<any, any>))
  })
}

// ---------------------------------------------------------------- residual

/** The layer that `residual` builds from L: x + L(x). */
export type Residual<L extends AnyLayer> = LayerOf<ResidualIo<L>, ParamsOf<L>, StateOf<L>>

/** x + f(x); f must keep the shape of its input. Parameters and state are f's. */
export function residual<const L extends AnyLayer>(layer: L & NoInfer<CheckProbe<ResidualIo<L>>>): Residual<L>
export function residual(layer: AnyLayer): unknown {
  checkLayers('residual', [layer])
  const name = `residual(${layer.name})`
  return defineLayer({
    name,
    init: (key) => layer.init(key),
    initState: () => layer.initState(),
    forward(params, state, x, ctx) {
      const [y, s] = runPart('residual', 0, layer, params, state, x, ctx)
      if (!sameShape(y.aval.shape, x.aval.shape))
        throw new Error(
          `${name}: the layer maps ${formatAval(x.aval)} to ${formatAval(y.aval)}; x + f(x) needs the same shape`,
        )
      return [ops.add(x as Tensor<any, any>, y as Tensor<any, any>), s]
    },
  })
}

// ---------------------------------------------------------------- tie

/** The parameters of a `tied` layer: the shared layer's and the network's. */
export type TiedParams<L, N> = { readonly shared: ParamsOf<L>; readonly network: ParamsOf<N> }
/** The layer that `tied` builds: the network N with the parameters of the layer L shared between its uses. */
export type Tied<L extends AnyLayer, N extends AnyLayer> = LayerOf<IoOf<N>, TiedParams<L, N>, StateOf<N>>

/**
 * Shared parameters, made explicit: `build` receives a view of `layer` that
 * has no parameters of its own and may use it any number of times; every
 * use runs `layer` with the one set `shared`. For example
 * `tie(dense(8, 8), (d) => sequential(d, tanh, d))` applies the same weights
 * twice. Each use keeps its own state. Parameters: `{ shared, network }`,
 * where `network` holds the parameters of the other layers (`null` at each
 * use of the view).
 */
export function tie<const L extends AnyLayer, const N extends AnyLayer>(
  layer: L,
  build: (view: WithParams<L, null>) => N,
): Tied<L, N>
export function tie(layer: AnyLayer, build: (view: AnyLayer) => AnyLayer): unknown {
  checkLayers('tie', [layer])
  const id = Symbol(layer.name)
  const view = defineLayer<AnyLayer>({
    name: `tied ${layer.name}`,
    init: () => null,
    initState: () => layer.initState(),
    forward(_params, state, x, ctx) {
      if (ctx.tied === undefined || !ctx.tied.has(id))
        throw new Error(`tie: the view of ${layer.name} was used outside the network built for it`)
      return layer.forward(ctx.tied.get(id), state, x, ctx)
    },
  })
  const network = build(view)
  checkLayers('tie: build(view)', [network])
  return defineLayer({
    name: `tie(${layer.name}, ${network.name})`,
    init(key) {
      const [k1, k2] = random.split(key)
      return { shared: layer.init(k1), network: network.init(k2) }
    },
    initState: () => network.initState(),
    forward(params, state, x, ctx) {
      if (typeof params !== 'object' || params === null || !('shared' in params) || !('network' in params))
        throw new Error(
          `tie(${layer.name}): expected parameters { shared, network }, got ${params === null ? 'null' : typeof params}`,
        )
      const tied = new Map(ctx.tied ?? [])
      tied.set(id, (params as { shared: unknown }).shared)
      return network.forward((params as { network: unknown }).network, state, x, { ...ctx, tied })
    },
  })
}
