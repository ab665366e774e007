/**
 * The rules of ONNX's neural-network operators: Gemm, activations,
 * softmax, normalisation, convolution and pooling. ONNX lays images out as
 * NCHW and adjoint's convolution (src/nn/conv.ts) as NHWC, so a convolution
 * or a pooling transposes its input in and its output back, and the
 * kernel [M, C/group, kH, kW] to [kH, kW, C/group, M]. A 1-D operator
 * (input [N, C, L]) runs as a 2-D one of height 1.
 */
import * as lax from '../core/lax.ts'
import { avgPool2d, conv2d, maxPool2d } from '../nn/conv.ts'
import { logSoftmax, softmax } from '../nn/functional.ts'
import * as ops from '../ops/index.ts'
import { gelu, softplus } from '../ops/math.ts'
import { formatShape, type Tensor } from '../tensor.ts'
import { TensorDataType } from './proto.ts'
import { u, unary } from './import-ops.ts'
import type { NodeContext, Rule } from './import-values.ts'
import { Value } from './import-values.ts'

// ---------------------------------------------------------------- activations

/** σ-like activations by ONNX name, with their attributes' defaults (also the recurrent operators' activations). */
export const activations: Record<string, (x: Tensor<any, any>, alpha?: number, beta?: number) => Tensor> = {
  Relu: (x) => ops.relu(x),
  Tanh: (x) => ops.tanh(x),
  Sigmoid: (x) => ops.sigmoid(x),
  Softsign: (x) => ops.div(x, ops.add(1, ops.abs(x))),
  Softplus: (x) => softplus(x),
  LeakyRelu: (x, alpha = 0.01) => ops.where(ops.less(x, 0), ops.mul(x, alpha), x),
  Elu: (x, alpha = 1) => ops.where(ops.less(x, 0), ops.mul(ops.sub(ops.exp(x), 1), alpha), x),
  HardSigmoid: (x, alpha = 0.2, beta = 0.5) => ops.clip(ops.add(ops.mul(x, alpha), beta), 0, 1),
  ThresholdedRelu: (x, alpha = 1) => ops.where(ops.greater(x, alpha), x, 0),
}

const withAlpha =
  (name: string, fallback: number): Rule =>
  (cx, ins) => {
    const x = cx.input(ins, 0, 'X')
    return [Value.of(x.type, activations[name](u(x.tensor), cx.float('alpha', fallback)))]
  }

const selu: Rule = (cx, ins) => {
  const x = u(cx.input(ins, 0, 'X').tensor)
  const alpha = cx.float('alpha', 1.6732631921768188)
  const gamma = cx.float('gamma', 1.0507010221481323)
  const y = ops.where(ops.less(x, 0), ops.mul(ops.sub(ops.exp(x), 1), alpha), x)
  return [Value.of(cx.input(ins, 0, 'X').type, ops.mul(u(y), gamma))]
}

const hardSigmoid: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'X')
  return [Value.of(x.type, activations.HardSigmoid(u(x.tensor), cx.float('alpha', 0.2), cx.float('beta', 0.5)))]
}

const prelu: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'X')
  const slope = u(cx.input(ins, 1, 'slope').tensor)
  const t = u(x.tensor)
  return [Value.of(x.type, ops.where(ops.less(t, 0), ops.mul(t, slope), t))]
}

const softmaxRule =
  (f: typeof softmax): Rule =>
  (cx, ins) => {
    const x = cx.input(ins, 0, 'input')
    const a = cx.axis(cx.int('axis', -1), x.shape.length)
    return [Value.of(x.type, f(u(x.tensor), a))]
  }

const dropout: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'data')
  const training = ins[2]
  if (training !== undefined && (training.known === undefined || training.known[0] !== 0))
    cx.fail('only inference (training_mode false) is supported; dropout with a key is nn.dropout')
  const mask = Value.known(
    TensorDataType.BOOL,
    'bool',
    x.shape,
    new Uint8Array(x.shape.reduce((a, b) => a * b, 1)).fill(1),
  )
  return [x, mask]
}

// ---------------------------------------------------------------- dense and normalisation

const gemm: Rule = (cx, ins) => {
  const a = cx.input(ins, 0, 'A')
  const b = cx.input(ins, 1, 'B')
  const at = cx.int('transA', 0) !== 0 ? lax.transpose(a.tensor, [1, 0]) : a.tensor
  const bt = cx.int('transB', 0) !== 0 ? lax.transpose(b.tensor, [1, 0]) : b.tensor
  if (at.ndim !== 2 || bt.ndim !== 2) cx.fail('A and B must be matrices')
  const alpha = cx.float('alpha', 1)
  const beta = cx.float('beta', 1)
  let y = ops.matmul(u(at), u(bt)) as Tensor<any, any>
  if (alpha !== 1) y = ops.mul(y, alpha)
  const c = ins[2]
  if (c !== undefined) y = ops.add(y, beta === 1 ? u(c.tensor) : ops.mul(u(c.tensor), beta))
  return [Value.of(a.type, y)]
}

/** A per-channel vector [C] shaped to broadcast along axis 1 of a tensor of rank r. */
const perChannel = (v: Tensor, r: number): Tensor<any, any> =>
  u(
    lax.reshape(
      v,
      Array.from({ length: r }, (_, i) => (i === 1 ? v.aval.shape[0] : 1)),
    ),
  )

const batchNormalization: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'X')
  if (cx.int('training_mode', 0) !== 0)
    cx.fail('only the inference form is supported (training_mode 0): it normalises by the stored mean and variance')
  if (cx.node.output.filter((o) => o !== '').length > 1)
    cx.fail('the running mean and variance outputs belong to training mode, which is not supported')
  const r = x.shape.length
  const [scale, bias, mean, variance] = [1, 2, 3, 4].map((k, i) =>
    perChannel(cx.input(ins, k, ['scale', 'B', 'input_mean', 'input_var'][i]).tensor, r),
  )
  const factor = ops.div(scale, ops.sqrt(ops.add(variance, cx.float('epsilon', 1e-5))))
  return [Value.of(x.type, ops.add(ops.mul(ops.sub(u(x.tensor), mean), factor), bias))]
}

const layerNormalization: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'X')
  const r = x.shape.length
  const a = cx.axis(cx.int('axis', -1), r)
  const axes = Array.from({ length: r - a }, (_, i) => a + i)
  const t = u(x.tensor)
  const mean = ops.mean(t, axes, { keepDims: true })
  const centred = ops.sub(t, mean)
  const variance = ops.mean(ops.mul(centred, centred), axes, { keepDims: true })
  const invStd = ops.div(1, ops.sqrt(ops.add(variance, cx.float('epsilon', 1e-5))))
  let y = ops.mul(ops.mul(centred, invStd), u(cx.input(ins, 1, 'Scale').tensor))
  if (ins[2] !== undefined) y = ops.add(y, u(ins[2].tensor))
  return [Value.of(x.type, y), Value.of(x.type, mean), Value.of(x.type, invStd)]
}

// ---------------------------------------------------------------- convolution and pooling

interface Window {
  /** The kernel's spatial size, strides, dilations, and [before, after] padding, per spatial axis (height, width). */
  readonly kernel: [number, number]
  readonly strides: [number, number]
  readonly dilations: [number, number]
  readonly pads: [[number, number], [number, number]]
}

/** Spatial attributes of a 1-D or 2-D window operator, a 1-D one read as 2-D of height 1. */
function windowOf(cx: NodeContext, spatial: readonly number[], kernel: readonly number[], ceil = false): Window {
  const k = spatial.length
  const list = (name: string, fallback: number) => {
    const n = name === 'pads' ? 2 * k : k
    const v = cx.ints(name) ?? Array.from({ length: n }, () => fallback)
    if (v.length !== n) cx.fail(`attribute ${name} has ${v.length} entries for ${k} axes`)
    return v
  }
  const strides = list('strides', 1)
  const dilations = list('dilations', 1)
  const autoPad = cx.string('auto_pad', 'NOTSET')
  const explicit = list('pads', 0)
  const pads = spatial.map((n, i): [number, number] => {
    const extent = (kernel[i] - 1) * dilations[i] + 1
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const out = Math.ceil(n / strides[i])
      const total = Math.max((out - 1) * strides[i] + extent - n, 0)
      const small = Math.floor(total / 2)
      return autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small]
    }
    if (autoPad === 'VALID') return [0, 0]
    if (autoPad !== 'NOTSET') cx.fail(`auto_pad '${autoPad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`)
    const [lo, hi] = [explicit[i], explicit[i + k]]
    if (!ceil) return [lo, hi]
    // ceil_mode: enough padding after for the last window that starts inside the input or its padding before.
    const out = Math.ceil((n + lo + hi - extent) / strides[i]) + 1
    const lastStart = (out - 1) * strides[i]
    const kept = lastStart >= n + lo ? out - 1 : out
    return [lo, Math.max(hi, (kept - 1) * strides[i] + extent - n - lo)]
  })
  const two = <T>(v: readonly T[], fill: T): [T, T] => (k === 1 ? [fill, v[0]] : [v[0], v[1]])
  return {
    kernel: two(kernel, 1),
    strides: two(strides, 1),
    dilations: two(dilations, 1),
    pads: two(pads, [0, 0]),
  }
}

/** x [N, C, …spatial] as NHWC (a 1-D input with height 1), and the inverse for the result. */
function toNhwc(cx: NodeContext, x: Tensor): { nhwc: Tensor; back: (y: Tensor) => Tensor } {
  const r = x.ndim
  if (r !== 3 && r !== 4)
    cx.fail(
      `only 1-D and 2-D windows are supported (input [N, C, L] or [N, C, H, W]), got ${formatShape(x.aval.shape)}`,
    )
  const four = r === 3 ? lax.reshape(x, [x.aval.shape[0], x.aval.shape[1], 1, x.aval.shape[2]]) : x
  const back = (y: Tensor) => {
    const nchw = lax.transpose(y, [0, 3, 1, 2])
    const [n, c, , w] = nchw.aval.shape
    return r === 3 ? lax.reshape(nchw, [n, c, w]) : nchw
  }
  return { nhwc: lax.transpose(four, [0, 2, 3, 1]), back }
}

const conv: Rule = (cx, ins) => {
  const x = cx.input(ins, 0, 'X')
  const w = cx.input(ins, 1, 'W')
  const group = cx.int('group', 1)
  const { nhwc, back } = toNhwc(cx, x.tensor)
  const spatial = x.shape.slice(2)
  const kernel = cx.ints('kernel_shape') ?? w.shape.slice(2)
  const win = windowOf(cx, spatial, kernel)
  const [m, cPerGroup] = w.shape
  const c = x.shape[1]
  if (c !== cPerGroup * group || m % group !== 0)
    cx.fail(`W ${formatShape(w.shape)} does not fit ${c} input channels in ${group} group(s)`)
  const w4 = w.shape.length === 3 ? lax.reshape(w.tensor, [m, cPerGroup, 1, w.shape[2]]) : w.tensor
  const kernelHwio = lax.transpose(w4, [2, 3, 1, 0]) // [kH, kW, C/group, M]
  const options = { stride: win.strides, dilation: win.dilations, padding: win.pads }
  const mPerGroup = m / group
  const channels = (t: Tensor, axis: number, from: number, size: number) =>
    lax.slice(
      t,
      t.aval.shape.map((_, i) => (i === axis ? from : 0)),
      t.aval.shape.map((d, i) => (i === axis ? from + size : d)),
    )
  const parts = Array.from({ length: group }, (_, g) =>
    group === 1
      ? conv2d(u(nhwc), u(kernelHwio), options)
      : conv2d(
          u(channels(nhwc, 3, g * cPerGroup, cPerGroup)),
          u(channels(kernelHwio, 3, g * mPerGroup, mPerGroup)),
          options,
        ),
  )
  let y = parts.length === 1 ? parts[0] : lax.concat(parts, 3)
  if (ins[2] !== undefined) y = ops.add(u(y), u(ins[2].tensor))
  return [Value.of(x.type, back(y))]
}

const pool =
  (kind: 'max' | 'average'): Rule =>
  (cx, ins) => {
    const x = cx.input(ins, 0, 'X')
    if (cx.node.output.length > 1 && cx.node.output[1] !== '') cx.fail('the Indices output is not supported')
    const kernel = cx.ints('kernel_shape') ?? cx.fail('the attribute kernel_shape is missing')
    const ceil = cx.int('ceil_mode', 0) !== 0
    const includePad = kind === 'average' && cx.int('count_include_pad', 0) !== 0
    if (ceil && includePad) cx.fail('ceil_mode with count_include_pad is not supported')
    const win = windowOf(cx, x.shape.slice(2), kernel, ceil)
    if (win.dilations.some((d) => d !== 1)) cx.fail('pooling with dilations other than 1 is not supported')
    const { nhwc, back } = toNhwc(cx, x.tensor)
    if (kind === 'max')
      return [Value.of(x.type, back(maxPool2d(u(nhwc), win.kernel, { stride: win.strides, padding: win.pads })))]
    // count_include_pad: the zeros of the padding are part of each window's mean.
    const input = includePad
      ? lax.pad(nhwc, [0, win.pads[0][0], win.pads[1][0], 0], [0, win.pads[0][1], win.pads[1][1], 0])
      : nhwc
    const padding = includePad ? 'VALID' : win.pads
    return [Value.of(x.type, back(avgPool2d(u(input), win.kernel, { stride: win.strides, padding })))]
  }

const globalPool =
  (f: typeof ops.mean): Rule =>
  (cx, ins) => {
    const x = cx.input(ins, 0, 'X')
    if (x.shape.length < 3) cx.fail(`expected an input [N, C, …spatial], got ${formatShape(x.shape)}`)
    const axes = x.shape.slice(2).map((_, i) => i + 2)
    return [Value.of(x.type, f(u(x.tensor), axes, { keepDims: true }))]
  }

export const nnRules: Record<string, Rule> = {
  Relu: unary(ops.relu),
  LeakyRelu: withAlpha('LeakyRelu', 0.01),
  Elu: withAlpha('Elu', 1),
  ThresholdedRelu: withAlpha('ThresholdedRelu', 1),
  Selu: selu,
  HardSigmoid: hardSigmoid,
  HardSwish: unary((x) => ops.mul(x, u(activations.HardSigmoid(x, 1 / 6, 0.5)))),
  PRelu: prelu,
  Softplus: unary(softplus),
  Softsign: unary(activations.Softsign),
  Gelu: (cx, ins) => {
    const x = cx.input(ins, 0, 'X')
    const approximate = cx.string('approximate', 'none')
    if (approximate !== 'none' && approximate !== 'tanh') cx.fail(`approximate '${approximate}' is not none or tanh`)
    return [Value.of(x.type, gelu(u(x.tensor), { approximate: approximate === 'tanh' }))]
  },
  Softmax: softmaxRule(softmax),
  LogSoftmax: softmaxRule(logSoftmax),
  Dropout: dropout,
  Gemm: gemm,
  BatchNormalization: batchNormalization,
  LayerNormalization: layerNormalization,
  Conv: conv,
  MaxPool: pool('max'),
  AveragePool: pool('average'),
  GlobalAveragePool: globalPool(ops.mean),
  GlobalMaxPool: globalPool(ops.max),
}
