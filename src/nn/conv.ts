/**
 * 2-D convolution, its transpose and pooling on NHWC tensors, built from the
 * primitives pad, slice, reshape, concat and matmul ("im2col"): tap a of
 * output o reads the padded input at o·S + a·r (stride S, dilation r); the
 * windows are those strided slices stacked, then contracted with the kernel
 * by one matmul. Gradients then follow from the rules of those primitives
 * (the transpose of a slice is a pad), and the WebGPU compiler needs no
 * convolution kernel of its own: its products read the windows in place,
 * through the strides of the padded input (gpu/lower/windows.ts), and the
 * other structural ops fuse into the kernels that read them.
 *
 * Sizes (Deep Learning, COMP613 Advanced Topics in Machine Learning (lecture
 * notes), "Image Recognition with Convolutional Networks"): a window of R taps
 * with dilation r spans R′ = R + (R − 1)(r − 1)
 * positions, and N positions padded by p give M = floor((N + 2p − R′)/S) + 1
 * outputs. SAME padding follows TensorFlow: M = ceil(N/S), total padding
 * max((M − 1)S + R′ − N, 0), the smaller half before. Kernels are
 * [Kh, Kw, Cin, Cout]; the transpose takes TensorFlow's [Kh, Kw, Cout, Cin],
 * the kernel of the convolution it transposes.
 *
 * The transpose (deconvolution, in the same section: "swap direction of
 * convolution; increases resolution; used in backprop") is the adjoint of conv2d in its
 * input: ⟨conv2dTranspose(y, w), x⟩ = ⟨y, conv2d(x, w)⟩. It is computed as
 * that adjoint is: per-position products y·wᵀ added back into the padded
 * input positions they came from, then the padding cut off.
 */
import type { DType } from '../dtype.ts'
import * as ops from '../ops.ts'
import type { PairOf, Padding } from '../shape/conv.ts'
import type { Shape } from '../shape/types.ts'
import { concrete, formatAval, type Tensor } from '../tensor.ts'
import type { OutOf, WindowIo } from './layer.ts'

type T<S extends Shape = Shape, D extends DType = DType> = Tensor<S, D>
const untyped = (x: Tensor): T<any, any> => x as T<any, any>

export type { Padding }

/** The window of a convolution or pooling: stride, dilation and padding. */
export interface WindowOptions {
  /** Steps between windows: a number or [vertical, horizontal] (default 1; pooling: the window size). */
  readonly stride?: number | readonly [number, number]
  /** Spacing r between taps: a number or a pair (default 1). */
  readonly dilation?: number | readonly [number, number]
  /** 'SAME', 'VALID' (default), p on every side, or [[top, bottom], [left, right]]. */
  readonly padding?: Padding
}
/** The window of a pooling: stride and padding. */
export type PoolOptions = Omit<WindowOptions, 'dilation'>

type Opt<O, K extends string, Default> = K extends keyof O
  ? [O[K]] extends [undefined]
    ? Default
    : Exclude<O[K], undefined>
  : Default
/** The shape function of conv2d with kernel shape W and options O. */
export type ConvIo<W extends Shape, O, Transposed extends boolean = false> = W extends readonly [
  infer Kh,
  infer Kw,
  infer A,
  infer B,
]
  ? WindowIo<
      [Kh, Kw],
      Opt<O, 'stride', 1>,
      Opt<O, 'dilation', 1>,
      Opt<O, 'padding', 'VALID'>,
      Transposed extends true ? B : A,
      Transposed extends true ? A : B,
      Transposed
    >
  : WindowIo<[number, number], number, number, 'SAME', unknown, number, Transposed>
/** The shape function of pooling with window K and options O (stride: the window by default). */
export type PoolIo<K, O> = WindowIo<K, Opt<O, 'stride', K>, 1, Opt<O, 'padding', 'VALID'>, unknown, unknown, false>

// ---------------------------------------------------------------- geometry

/** One spatial axis of a window op: input size, taps, stride, dilation, padding before and after, output size. */
export interface WindowAxis {
  readonly size: number
  readonly taps: number
  readonly stride: number
  readonly dilation: number
  readonly lo: number
  readonly hi: number
  readonly out: number
}

const isPositiveInt = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 1

/** A number or a pair of positive integers as a pair. */
export function pairOf(
  op: string,
  what: string,
  value: number | readonly [number, number] | undefined,
  fallback: readonly [number, number],
): [number, number] {
  if (value === undefined) return [fallback[0], fallback[1]]
  const pair = typeof value === 'number' ? [value, value] : value
  if (!Array.isArray(pair) || pair.length !== 2 || !pair.every(isPositiveInt))
    throw new Error(`${op}: ${what} must be a positive integer or a pair of them, got ${JSON.stringify(value)}`)
  return [pair[0], pair[1]]
}

type AxisPadding = 'SAME' | 'VALID' | readonly [number, number]

function paddingPerAxis(op: string, padding: Padding | undefined): [AxisPadding, AxisPadding] {
  const p = padding ?? 'VALID'
  if (p === 'SAME' || p === 'VALID') return [p, p]
  if (typeof p === 'number' && Number.isInteger(p) && p >= 0)
    return [
      [p, p],
      [p, p],
    ]
  if (
    Array.isArray(p) &&
    p.length === 2 &&
    p.every((a) => Array.isArray(a) && a.length === 2 && a.every((n) => Number.isInteger(n) && n >= 0))
  )
    return [p[0], p[1]]
  throw new Error(
    `${op}: padding must be 'SAME', 'VALID', a non-negative integer or [[top, bottom], [left, right]], got ${JSON.stringify(padding)}`,
  )
}

/** The geometry of the COMP613 notes along one axis (see the header); throws when the window does not fit. */
export function windowAxis(
  op: string,
  what: string,
  size: number,
  taps: number,
  stride: number,
  dilation: number,
  padding: AxisPadding,
): WindowAxis {
  const extent = taps + (taps - 1) * (dilation - 1)
  let lo: number
  let hi: number
  if (padding === 'SAME') {
    const out = Math.ceil(size / stride)
    const total = Math.max((out - 1) * stride + extent - size, 0)
    lo = Math.floor(total / 2)
    hi = total - lo
  } else if (padding === 'VALID') [lo, hi] = [0, 0]
  else [lo, hi] = padding
  const span = size + lo + hi - extent
  if (span < 0)
    throw new Error(
      `${op}: the window spans ${extent} positions (${taps} taps, dilation ${dilation}) but the ${what} is ${size} with padding ${lo} + ${hi}`,
    )
  return { size, taps, stride, dilation, lo, hi, out: Math.floor(span / stride) + 1 }
}

/** The geometry of both spatial axes of an NHWC input. */
export function windowGeometry(
  op: string,
  height: number,
  width: number,
  kernel: readonly [number, number],
  options: WindowOptions,
  defaultStride: readonly [number, number] = [1, 1],
): [WindowAxis, WindowAxis] {
  const stride = pairOf(op, 'stride', options.stride, defaultStride)
  const dilation = pairOf(op, 'dilation', options.dilation, [1, 1])
  const [ph, pw] = paddingPerAxis(op, options.padding)
  return [
    windowAxis(op, 'height', height, kernel[0], stride[0], dilation[0], ph),
    windowAxis(op, 'width', width, kernel[1], stride[1], dilation[1], pw),
  ]
}

/** Whether tap t of output o falls inside the input rather than its padding, as [out, taps] flags. */
function insideInput(a: WindowAxis): boolean[] {
  const flags: boolean[] = []
  for (let o = 0; o < a.out; o++)
    for (let t = 0; t < a.taps; t++) {
      const at = o * a.stride + t * a.dilation
      flags.push(at >= a.lo && at < a.lo + a.size)
    }
  return flags
}

function expectNhwc(op: string, x: Tensor): [number, number, number, number] {
  if (x.ndim !== 4) throw new Error(`${op}: expected an NHWC input [B, H, W, C], got ${formatAval(x.aval)}`)
  const [b, h, w, c] = x.aval.shape
  return [b, h, w, c]
}

/**
 * The taps of one axis: for tap a, the positions o·S + a·r (o < out) of axis
 * `axis` of the padded x, stacked on a new axis after it. A strided slice is
 * a slice of S·out positions from a·r, reshaped to [out, S] and cut to its
 * first column, so only slice, reshape, pad and concat appear: their
 * transposes are pads and slices, which the WebGPU compiler fuses into the
 * kernels that read them (a gather's transpose would be a scatter-add).
 */
function taps(x: Tensor, axis: number, a: WindowAxis): Tensor {
  const shape = x.aval.shape
  // The last slice ends at (taps − 1)·r + S·out: pad zeros beyond the padded size where needed (never read as taps).
  const need = (a.taps - 1) * a.dilation + a.stride * a.out
  const extra = Math.max(0, need - shape[axis])
  const src =
    extra === 0
      ? untyped(x)
      : ops.pad(
          untyped(x),
          shape.map((_, i) => [0, i === axis ? extra : 0] as [number, number]),
        )
  const parts = Array.from({ length: a.taps }, (_, t) => {
    const starts = shape.map((_, i) => (i === axis ? t * a.dilation : 0))
    const sizes = shape.map((d, i) => (i === axis ? a.stride * a.out : d))
    let part = ops.slice(src, starts, sizes)
    if (a.stride > 1) {
      const split = [...shape.slice(0, axis), a.out, a.stride, ...shape.slice(axis + 1)]
      part = ops.slice(
        ops.reshape(part, split),
        split.map(() => 0),
        split.map((d, i) => (i === axis + 1 ? 1 : d)),
      )
    }
    return ops.reshape(part, [...shape.slice(0, axis), a.out, 1, ...shape.slice(axis + 1)])
  })
  return parts.length === 1 ? parts[0] : ops.concat(parts, axis + 1)
}

/** The windows of x: [B, Ho, Kh, Wo, Kw, C], padded positions holding zeros. */
export function windows(x: Tensor, [ah, aw]: readonly [WindowAxis, WindowAxis]): Tensor {
  // Windows that tile the input exactly (stride = size, no padding, no dilation, e.g. 2×2 pooling) are a reshape.
  const tiles = (a: WindowAxis) =>
    a.stride === a.taps && a.dilation === 1 && a.lo === 0 && a.hi === 0 && a.out * a.taps === a.size
  if (tiles(ah) && tiles(aw)) {
    const [b, , , c] = x.aval.shape
    return ops.reshape(untyped(x), [b, ah.out, ah.taps, aw.out, aw.taps, c])
  }
  const padded = ops.pad(untyped(x), [
    [0, 0],
    [ah.lo, ah.hi],
    [aw.lo, aw.hi],
    [0, 0],
  ])
  return taps(taps(padded, 1, ah), 3, aw) // [B, Ho, Kh, Wp, C] → [B, Ho, Kh, Wo, Kw, C]
}

/**
 * The windows of x as [B, Ho, Kh, Kw, C, Wo]: the same values as `windows`, built from the horizontal taps of x
 * laid out as [B, Hp, Kw, C, Wo], the width innermost. The vertical padding is applied to that layout, so that it
 * is a value computed rather than rearranged, which the WebGPU compiler stores (three times the input, for a
 * 3-wide kernel) and reads the windows from in place: along the output positions, four consecutive ones are
 * adjacent in it, where in x's own layout with fewer than four channels (or a count not a multiple of four) no
 * four consecutive values of a window's row or column are aligned. Measured on llvmpipe, the MNIST CNN's first
 * convolution (one channel, 100352×16×9) ran at 12–13 GFLOP/s against 10.5–11.6 read from the padded input, and
 * its kernel gradient at 20.3–22.7 against 19.1–21.3
 * (`npx tsx bench/tiles.ts --shape conv1,conv1-nhwc,conv1-kernel,conv1-nhwc-kernel`).
 */
function planarWindows(x: Tensor, [ah, aw]: readonly [WindowAxis, WindowAxis]): Tensor {
  const across = ops.pad(untyped(x), [
    [0, 0],
    [0, 0],
    [aw.lo, aw.hi],
    [0, 0],
  ])
  const horizontal = ops.transpose(untyped(taps(across, 2, aw)), [0, 1, 3, 4, 2]) // [B, H, Wo, Kw, C] → [B, H, Kw, C, Wo]
  const padded = ops.pad(untyped(horizontal), [
    [0, 0],
    [ah.lo, ah.hi],
    [0, 0],
    [0, 0],
    [0, 0],
  ])
  return taps(padded, 1, ah) // [B, Hp, Kw, C, Wo] → [B, Ho, Kh, Kw, C, Wo]
}

/** The adjoint of `taps`: each tap's values added back at the positions o·S + a·r of an axis of `size` positions. */
function untaps(y: Tensor, axis: number, a: WindowAxis, size: number): Tensor {
  const shape = y.aval.shape // [..., out, taps, ...]
  const rest = shape.slice(axis + 2)
  const lead = shape.slice(0, axis)
  let total: Tensor | null = null
  for (let t = 0; t < a.taps; t++) {
    const starts = shape.map((_, i) => (i === axis + 1 ? t : 0))
    const sizes = shape.map((d, i) => (i === axis + 1 ? 1 : d))
    let part = ops.reshape(ops.slice(untyped(y), starts, sizes), [...lead, a.out, 1, ...rest])
    // Spread by the stride: [out, 1] → [out, S] with zeros after each value → out·S positions.
    if (a.stride > 1)
      part = ops.pad(
        part,
        part.aval.shape.map((_, i) => [0, i === axis + 1 ? a.stride - 1 : 0] as [number, number]),
      )
    const spread = ops.reshape(part, [...lead, a.out * a.stride, ...rest])
    const start = t * a.dilation
    const end = start + a.out * a.stride
    const placed =
      end <= size
        ? ops.pad(
            spread,
            spread.aval.shape.map((_, i) => [i === axis ? start : 0, i === axis ? size - end : 0] as [number, number]),
          )
        : ops.pad(
            ops.slice(
              spread,
              spread.aval.shape.map(() => 0),
              spread.aval.shape.map((d, i) => (i === axis ? size - start : d)),
            ),
            spread.aval.shape.map((_, i) => [i === axis ? start : 0, 0] as [number, number]),
          )
    total = total === null ? placed : ops.add(total, placed)
  }
  return total as Tensor
}

// ---------------------------------------------------------------- convolution

/**
 * y[b, i, j, o] = Σ_{a, c, k} x_padded[b, i·Sh + a·rh, j·Sw + c·rw, k] · w[a, c, k, o]:
 * cross-correlation, as in TensorFlow and every deep-learning library.
 */
export function conv2d<
  S extends Shape,
  W extends Shape,
  D extends DType,
  const O extends WindowOptions = Record<never, never>,
>(x: T<S, D>, w: T<W>, options?: O): T<OutOf<ConvIo<W, O>, S>, D>
export function conv2d(x: Tensor, w: Tensor, options: WindowOptions = {}): Tensor {
  const [b, h, wd, c] = expectNhwc('conv2d', x)
  if (w.ndim !== 4 || w.aval.shape[2] !== c)
    throw new Error(
      `conv2d: expected a kernel [Kh, Kw, ${c}, Cout] for input ${formatAval(x.aval)}, got ${formatAval(w.aval)}`,
    )
  const [kh, kw, , cout] = w.aval.shape
  const geometry = windowGeometry('conv2d', h, wd, [kh, kw], options)
  const [ah, aw] = geometry
  const cols =
    c % 4 !== 0 && aw.out % 4 === 0
      ? ops.transpose(untyped(planarWindows(x, geometry)), [0, 1, 5, 2, 3, 4])
      : ops.transpose(untyped(windows(x, geometry)), [0, 1, 3, 2, 4, 5]) // [B, Ho, Wo, Kh, Kw, C]
  // One 2-D product [B·Ho·Wo, Kh·Kw·C] × [Kh·Kw·C, Cout]: its transposes (the gradients) are 2-D products too,
  // where a batched [B, Ho, Wo, K] × [K, Cout] would give the kernel's gradient as B·Ho products to be summed.
  const flat = ops.reshape(cols, [b * ah.out * aw.out, kh * kw * c])
  return ops.reshape(ops.matmul(flat, ops.reshape(untyped(w), [kh * kw * c, cout])), [b, ah.out, aw.out, cout])
}

export interface TransposeOptions extends WindowOptions {
  /**
   * The output's [height, width]. Several sizes convolve to the same number
   * of positions (with stride S, up to S of them); by default the transpose
   * gives (N − 1)S + R′ − 2p, or N·S for SAME, and this picks another.
   */
  readonly outputSize?: readonly [number, number]
}

/** The shape of conv2dTranspose: the given outputSize, else the transpose of the output-size formula (header). */
type TransposeOut<S extends Shape, W extends Shape, O> = O extends {
  readonly outputSize: readonly [infer H extends number, infer Wd extends number]
}
  ? S extends readonly [infer B extends Shape[0], unknown, unknown, unknown]
    ? W extends readonly [unknown, unknown, infer C extends Shape[0], unknown]
      ? [B, H, Wd, C]
      : Shape
    : Shape
  : OutOf<ConvIo<W, O, true>, S>

/** The spatial size whose convolution has `out` positions: the output size of the transpose. */
function transposedSize(
  op: string,
  what: string,
  out: number,
  taps: number,
  stride: number,
  dilation: number,
  padding: AxisPadding,
): number {
  const extent = taps + (taps - 1) * (dilation - 1)
  const size =
    padding === 'SAME'
      ? out * stride
      : (out - 1) * stride + extent - (padding === 'VALID' ? 0 : padding[0] + padding[1])
  if (!(size >= 1))
    throw new Error(
      `${op}: the ${what} ${out} with ${taps} taps, stride ${stride} and this padding gives an output of size ${size}`,
    )
  return size
}

/**
 * The transpose of conv2d in its input: y [B, H, W, Cin] with kernel
 * [Kh, Kw, Cout, Cin] gives [B, H′, W′, Cout], where conv2d with the same
 * kernel and options maps [B, H′, W′, Cout] back to [B, H, W, Cin];
 * H′ = (H − 1)S + R′ − 2p (SAME: H·S).
 */
export function conv2dTranspose<
  S extends Shape,
  W extends Shape,
  D extends DType,
  const O extends TransposeOptions = Record<never, never>,
>(y: T<S, D>, w: T<W>, options?: O): T<TransposeOut<S, W, O>, D>
export function conv2dTranspose(y: Tensor, w: Tensor, options: TransposeOptions = {}): Tensor {
  const op = 'conv2dTranspose'
  const [b, h, wd, cin] = expectNhwc(op, y)
  if (w.ndim !== 4 || w.aval.shape[3] !== cin)
    throw new Error(
      `${op}: expected a kernel [Kh, Kw, Cout, ${cin}] for input ${formatAval(y.aval)}, got ${formatAval(w.aval)}`,
    )
  const [kh, kw, cout] = w.aval.shape
  const stride = pairOf(op, 'stride', options.stride, [1, 1])
  const dilation = pairOf(op, 'dilation', options.dilation, [1, 1])
  const [ph, pw] = paddingPerAxis(op, options.padding)
  const [outH, outW] =
    options.outputSize === undefined
      ? [
          transposedSize(op, 'height', h, kh, stride[0], dilation[0], ph),
          transposedSize(op, 'width', wd, kw, stride[1], dilation[1], pw),
        ]
      : pairOf(op, 'outputSize', options.outputSize, [1, 1])
  const [ah, aw] = windowGeometry(op, outH, outW, [kh, kw], options)
  // The convolution of an input of the output's size must have y's positions.
  if (ah.out !== h || aw.out !== wd)
    throw new Error(
      `${op}: an output of ${outH}×${outW} convolves to ${ah.out}×${aw.out} positions with these options, not the input's ${h}×${wd}`,
    )
  // Per input position: the contribution y[b, i, j, :] · w[a, c, :, :]ᵀ to output tap (a, c).
  const wt = ops.reshape(ops.transpose(untyped(w), [3, 0, 1, 2]), [cin, kh * kw * cout])
  const products = ops.reshape(ops.matmul(ops.reshape(untyped(y), [b * h * wd, cin]), wt), [b, h, wd, kh, kw, cout])
  const byRow = ops.transpose(products, [0, 1, 3, 2, 4, 5]) // [B, H, Kh, W, Kw, Cout]
  const hp = outH + ah.lo + ah.hi
  const wp = outW + aw.lo + aw.hi
  const full = untaps(untaps(byRow, 3, aw, wp), 1, ah, hp) // [B, H, Kh, Wp, Cout] → [B, Hp, Wp, Cout]
  return ops.slice(untyped(full), [0, ah.lo, aw.lo, 0], [b, outH, outW, cout])
}

// ---------------------------------------------------------------- pooling

/** The most negative finite f32: padding that never wins a maximum, and stays finite on every backend. */
const LOWEST = -3.4028234663852886e38

/** The signature of the pooling functions: x [B, H, W, C] with windows of `size`, typed by `PoolIo`. */
export type Pool2d = <
  S extends Shape,
  D extends DType,
  const K extends number | readonly [number, number],
  const O extends PoolOptions = Record<never, never>,
>(
  x: T<S, D>,
  size: K,
  options?: O,
) => T<OutOf<PoolIo<PairOf<K>, O>, S>, D>

/** Reduces the windows `win` [B, Ho, Kh, Wo, Kw, C] over their taps (axes 2 and 4), counting only the taps inside the input. */
type WindowReduction = (win: T<any, any>, ah: WindowAxis, aw: WindowAxis) => Tensor

/** The pooling `op`: the windows of x (stride: the window size unless given), each reduced by `reduce`. */
const pooling = (op: string, reduce: WindowReduction): Pool2d =>
  ((x: Tensor, size: number | readonly [number, number], options: PoolOptions = {}) => {
    const [, h, w] = expectNhwc(op, x)
    const kernel = pairOf(op, 'pool size', size, [1, 1])
    if ('dilation' in options && (options as WindowOptions).dilation !== undefined)
      throw new Error(`${op}: pooling takes no dilation`)
    const geometry = windowGeometry(op, h, w, kernel, options, kernel)
    return reduce(untyped(windows(x, geometry)), ...geometry)
  }) as Pool2d

/** Maximum over each window; padded positions never count (they are not part of the input). */
export const maxPool2d = pooling('maxPool2d', (win, ah, aw) => {
  const inH = insideInput(ah)
  const inW = insideInput(aw)
  if (inH.every(Boolean) && inW.every(Boolean)) return ops.max(win, [2, 4])
  const flags = new Uint8Array(ah.out * ah.taps * aw.out * aw.taps)
  let k = 0
  for (let i = 0; i < ah.out * ah.taps; i++)
    for (let j = 0; j < aw.out * aw.taps; j++) flags[k++] = inH[i] && inW[j] ? 1 : 0
  const inside = concrete([1, ah.out, ah.taps, aw.out, aw.taps, 1], 'bool', flags) as unknown as T<any, 'bool'>
  return ops.max(ops.where(inside, win, LOWEST), [2, 4])
})

/** Mean over each window, of the positions inside the input only (TensorFlow's SAME average pooling). */
export const avgPool2d = pooling('avgPool2d', (win, ah, aw) => {
  const count = (a: WindowAxis) => {
    const inside = insideInput(a)
    return Array.from({ length: a.out }, (_, o) => inside.slice(o * a.taps, (o + 1) * a.taps).filter(Boolean).length)
  }
  const [ch, cw] = [count(ah), count(aw)]
  const counts = ops.tensor(
    ch.flatMap((m) => cw.map((n) => m * n)),
    { shape: [1, ah.out, aw.out, 1], dtype: win.aval.dtype },
  )
  return ops.div(ops.sum(win, [2, 4]), counts)
})

/** Mean over the spatial axes: [B, H, W, C] → [B, C]. */
export function globalAvgPool2d<B extends Shape[0], C extends Shape[0], D extends DType>(
  x: T<[B, Shape[0], Shape[0], C], D>,
): T<[B, C], D>
export function globalAvgPool2d(x: Tensor): Tensor {
  expectNhwc('globalAvgPool2d', x)
  return ops.mean(untyped(x), [1, 2])
}

/** Maximum over the spatial axes: [B, H, W, C] → [B, C]. */
export function globalMaxPool2d<B extends Shape[0], C extends Shape[0], D extends DType>(
  x: T<[B, Shape[0], Shape[0], C], D>,
): T<[B, C], D>
export function globalMaxPool2d(x: Tensor): Tensor {
  expectNhwc('globalMaxPool2d', x)
  return ops.max(untyped(x), [1, 2])
}
