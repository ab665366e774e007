/**
 * Convolution, its transpose and pooling against TensorFlow.js (cpu backend,
 * f32) and against direct loops over the definition (in f64): values and
 * gradients. Output sizes follow the formula of the COMP613 Deep Learning
 * notes ("Image Recognition with Convolutional Networks").
 */
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { grad, ops, type Tensor } from '../src/index.ts'
import * as nn from '../src/nn/index.ts'
import { expectClose } from './lib/close.ts'
import { type AnyT, values, f64, f64Tol, f32Tol, sampler, toTf, key, tfOnCpu } from './lib/nn.ts'

beforeAll(tfOnCpu)

// ---------------------------------------------------------------- convolution and pooling

/**
 * Direct loops over the definition in the COMP613 notes ("Image Recognition with Convolutional Networks"), in f64:
 * the reference where TF.js has no equivalent (stride with dilation, asymmetric padding).
 */
function convByLoops(
  x: Tensor,
  w: Tensor,
  stride: [number, number],
  dilation: [number, number],
  pad: [[number, number], [number, number]],
): { data: number[]; shape: number[] } {
  const [b, h, wd, c] = x.shape as number[]
  const [kh, kw, , co] = w.shape as number[]
  const xs = values(x)
  const ws = values(w)
  const ho = Math.floor((h + pad[0][0] + pad[0][1] - (kh + (kh - 1) * (dilation[0] - 1))) / stride[0]) + 1
  const wo = Math.floor((wd + pad[1][0] + pad[1][1] - (kw + (kw - 1) * (dilation[1] - 1))) / stride[1]) + 1
  const out = new Array(b * ho * wo * co).fill(0)
  for (let n = 0; n < b; n++)
    for (let i = 0; i < ho; i++)
      for (let j = 0; j < wo; j++)
        for (let o = 0; o < co; o++) {
          let s = 0
          for (let a = 0; a < kh; a++)
            for (let e = 0; e < kw; e++) {
              const r = i * stride[0] + a * dilation[0] - pad[0][0]
              const q = j * stride[1] + e * dilation[1] - pad[1][0]
              if (r < 0 || r >= h || q < 0 || q >= wd) continue
              for (let k = 0; k < c; k++) s += xs[((n * h + r) * wd + q) * c + k] * ws[((a * kw + e) * c + k) * co + o]
            }
          out[((n * ho + i) * wo + j) * co + o] = s
        }
  return { data: out, shape: [b, ho, wo, co] }
}

type TfPad = 'same' | 'valid' | number
const tfPad = (p: 'SAME' | 'VALID' | number): TfPad => (p === 'SAME' ? 'same' : p === 'VALID' ? 'valid' : p)

describe('conv2d against TensorFlow.js', () => {
  const cases: {
    label: string
    x: number[]
    w: number[]
    stride: number | [number, number]
    dilation: number
    padding: 'SAME' | 'VALID' | number
  }[] = [
    { label: '3×3 SAME, 3 → 4 channels', x: [2, 7, 6, 3], w: [3, 3, 3, 4], stride: 1, dilation: 1, padding: 'SAME' },
    { label: '3×3 VALID', x: [1, 6, 6, 2], w: [3, 3, 2, 5], stride: 1, dilation: 1, padding: 'VALID' },
    {
      label: '4×2 kernel, stride 2, SAME (odd total padding)',
      x: [2, 9, 8, 2],
      w: [4, 2, 2, 3],
      stride: 2,
      dilation: 1,
      padding: 'SAME',
    },
    {
      label: 'stride [2, 3], VALID',
      x: [1, 11, 10, 1],
      w: [3, 3, 1, 2],
      stride: [2, 3],
      dilation: 1,
      padding: 'VALID',
    },
    { label: 'dilation 2, SAME', x: [2, 8, 8, 2], w: [3, 3, 2, 3], stride: 1, dilation: 2, padding: 'SAME' },
    { label: 'dilation 3, VALID', x: [1, 10, 9, 3], w: [2, 3, 3, 2], stride: 1, dilation: 3, padding: 'VALID' },
    { label: 'explicit padding 1, stride 2', x: [2, 7, 7, 2], w: [3, 3, 2, 2], stride: 2, dilation: 1, padding: 1 },
    // One and three channels with 8 output columns: windows read from the input's horizontal taps (planarWindows).
    { label: '3×3 SAME, one channel', x: [2, 8, 8, 1], w: [3, 3, 1, 4], stride: 1, dilation: 1, padding: 'SAME' },
    {
      label: '5×3 kernel, stride 2, SAME, 3 channels',
      x: [2, 9, 16, 3],
      w: [5, 3, 3, 2],
      stride: 2,
      dilation: 1,
      padding: 'SAME',
    },
    { label: '3×3 VALID, one channel', x: [1, 6, 10, 1], w: [3, 3, 1, 3], stride: 1, dilation: 1, padding: 'VALID' },
  ]
  for (const c of cases) {
    it(`${c.label}: values and gradients`, () => {
      const rand = sampler(c.x.reduce((a, b) => a * 7 + b, 1))
      const x = rand(c.x)
      const w = rand(c.w)
      const opts = { stride: c.stride, dilation: c.dilation, padding: c.padding }
      const y = nn.functional.conv2d(x, w, opts)
      const ty = tf.conv2d(
        toTf(x) as tf.Tensor4D,
        toTf(w) as tf.Tensor4D,
        c.stride,
        tfPad(c.padding) as 'same',
        'NHWC',
        c.dilation,
      )
      expect(y.shape).toEqual(ty.shape)
      expectClose(values(y), ty.dataSync(), f32Tol, `${c.label}: values`)
      const u = rand(y.shape as number[])
      const [gx, gw] = grad((a: AnyT, b: AnyT) => ops.sum(ops.mul(nn.functional.conv2d(a, b, opts), u)), {
        argnums: [0, 1],
      })(x, w)
      // TF.js has no gradient of a dilated convolution: differentiate the undilated one with the
      // dilated kernel (zeros between the taps) instead, and read ∂w at the taps.
      const r = c.dilation
      const [kh, kw, ci, co] = c.w
      const [dh, dw] = [kh + (kh - 1) * (r - 1), kw + (kw - 1) * (r - 1)]
      const wd = new Float32Array(dh * dw * ci * co)
      const ws = values(w)
      for (let a = 0; a < kh; a++)
        for (let e = 0; e < kw; e++)
          for (let k = 0; k < ci * co; k++) wd[(a * r * dw + e * r) * ci * co + k] = ws[(a * kw + e) * ci * co + k]
      const [tgx, tgwd] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, tfPad(c.padding) as 'same', 'NHWC'), toTf(u)),
        ),
      )([toTf(x), tf.tensor4d(wd, [dh, dw, ci, co])])
      const gwd = tgwd.dataSync()
      const tgw = Array.from({ length: kh * kw * ci * co }, (_, i) => {
        const [a, e, k] = [Math.floor(i / (kw * ci * co)), Math.floor(i / (ci * co)) % kw, i % (ci * co)]
        return gwd[(a * r * dw + e * r) * ci * co + k]
      })
      expectClose(values(gx), tgx.dataSync(), f32Tol, `${c.label}: ∂x`)
      expectClose(values(gw), tgw, f32Tol, `${c.label}: ∂w`)
    })
  }
  it('an outputSize that the input does not convolve back to is named', () => {
    expect(() =>
      nn.functional.conv2dTranspose(ops.zeros([1, 4, 4, 1]) as AnyT, ops.zeros([3, 3, 1, 1]) as AnyT, {
        stride: 2,
        padding: 'SAME',
        outputSize: [10, 8],
      }),
    ).toThrow("conv2dTranspose: an output of 10×8 convolves to 5×4 positions with these options, not the input's 4×4")
  })
  it('stride with dilation and asymmetric padding against direct loops (TF.js allows neither)', () => {
    const rand = sampler(21, 'f64')
    const x = rand([2, 9, 10, 2])
    const w = rand([3, 2, 2, 3])
    const y = nn.functional.conv2d(x, w, {
      stride: [2, 3],
      dilation: [2, 1],
      padding: [
        [1, 2],
        [0, 3],
      ],
    })
    const ref = convByLoops(
      x,
      w,
      [2, 3],
      [2, 1],
      [
        [1, 2],
        [0, 3],
      ],
    )
    expect(y.shape).toEqual(ref.shape)
    expectClose(values(y), ref.data, f64Tol, 'values')
  })
  it("the conv layer adds its bias and types its output size by the COMP613 notes' formula", () => {
    const layer = nn.conv2d(2, 3, 3, { stride: 2, padding: 'SAME', dtype: 'f64' })
    const p = layer.init(key)
    expect(p.w.shape).toEqual([3, 3, 2, 3])
    const x = sampler(22, 'f64')([1, 28, 28, 2]) as Tensor<[1, 28, 28, 2], 'f64'>
    const y = layer.apply({ w: p.w, b: f64([1, 2, 3], [3]) }, x)
    expect(y.shape).toEqual([1, 14, 14, 3])
    expectClose(
      values(y),
      values(ops.add(nn.functional.conv2d(x, p.w, { stride: 2, padding: 'SAME' }), f64([1, 2, 3], [3]))),
      f64Tol,
      'bias',
    )
    expect(() => layer.apply(p, ops.zeros([1, 5, 5, 3], 'f64') as never)).toThrow(
      'conv2d(2 → 3, 3×3): expected an NHWC input [B, H, W, 2], got f64[1,5,5,3]',
    )
    expect(() => nn.functional.conv2d(ops.zeros([1, 2, 2, 1]) as AnyT, ops.zeros([3, 3, 1, 1]) as AnyT)).toThrow(
      'conv2d: the window spans 3 positions (3 taps, dilation 1) but the height is 2 with padding 0 + 0',
    )
  })
})

describe('conv2dTranspose', () => {
  const cases: { label: string; y: number[]; w: number[]; stride: number; padding: 'SAME' | 'VALID' }[] = [
    { label: '3×3, stride 2, SAME', y: [2, 4, 5, 3], w: [3, 3, 2, 3], stride: 2, padding: 'SAME' },
    { label: '3×3, stride 2, VALID', y: [1, 4, 4, 2], w: [3, 3, 3, 2], stride: 2, padding: 'VALID' },
    { label: '2×2, stride 2, VALID (exact upsampling)', y: [2, 3, 3, 2], w: [2, 2, 2, 2], stride: 2, padding: 'VALID' },
    { label: '4×3, stride 1, SAME', y: [1, 5, 4, 2], w: [4, 3, 3, 2], stride: 1, padding: 'SAME' },
    {
      label: '3×3, stride 3, SAME (the window is shorter than the stride)',
      y: [1, 3, 3, 1],
      w: [2, 2, 1, 1],
      stride: 3,
      padding: 'SAME',
    },
  ]
  for (const c of cases) {
    it(`${c.label}: values and gradients against TensorFlow.js`, () => {
      const rand = sampler(c.y.reduce((a, b) => a * 5 + b, 3))
      const y = rand(c.y)
      const w = rand(c.w)
      const opts = { stride: c.stride, padding: c.padding }
      const out = nn.functional.conv2dTranspose(y, w, opts)
      const [b, h, wd] = c.y
      const size = (n: number, k: number) => (c.padding === 'SAME' ? n * c.stride : (n - 1) * c.stride + k)
      const outShape: [number, number, number, number] = [b, size(h, c.w[0]), size(wd, c.w[1]), c.w[2]]
      const ref = tf.conv2dTranspose(
        toTf(y) as tf.Tensor4D,
        toTf(w) as tf.Tensor4D,
        outShape,
        c.stride,
        tfPad(c.padding) as 'same',
      )
      expect(out.shape).toEqual(ref.shape)
      expectClose(values(out), ref.dataSync(), f32Tol, `${c.label}: values`)
      const u = rand(outShape)
      const [gy, gw] = grad((a: AnyT, k: AnyT) => ops.sum(ops.mul(nn.functional.conv2dTranspose(a, k, opts), u)), {
        argnums: [0, 1],
      })(y, w)
      const [tgy, tgw] = tf.grads((a: tf.Tensor, k: tf.Tensor) =>
        tf.sum(
          tf.mul(
            tf.conv2dTranspose(a as tf.Tensor4D, k as tf.Tensor4D, outShape, c.stride, tfPad(c.padding) as 'same'),
            toTf(u),
          ),
        ),
      )([toTf(y), toTf(w)])
      expectClose(values(gy), tgy.dataSync(), f32Tol, `${c.label}: ∂y`)
      expectClose(values(gw), tgw.dataSync(), f32Tol, `${c.label}: ∂w`)
    })
  }
  it('is the adjoint of conv2d in its input: ⟨convT(y, w), x⟩ = ⟨y, conv(x, w)⟩, with dilation and explicit padding', () => {
    const rand = sampler(31, 'f64')
    const configs = [
      { stride: 2, dilation: 1, padding: 'SAME' as const, size: [10, 8] },
      { stride: [2, 1] as [number, number], dilation: 2, padding: 'VALID' as const, size: [11, 9] },
      {
        stride: 3,
        dilation: [1, 2] as [number, number],
        padding: [
          [2, 0],
          [1, 1],
        ] as const,
        size: [10, 7],
      },
      // Sizes the default does not give back (9 = 5·2 − 1): outputSize picks them.
      { stride: 2, dilation: 1, padding: 'SAME' as const, size: [9, 7], outputSize: [9, 7] as const },
    ]
    for (const cfg of configs) {
      const w = rand([3, 2, 2, 3])
      const x = rand([2, cfg.size[0], cfg.size[1], 2])
      const y = rand(nn.functional.conv2d(x, w, cfg).shape as number[])
      const back = nn.functional.conv2dTranspose(y, w, cfg)
      expect(back.shape).toEqual(x.shape)
      const lhs = ops.vdot(back, x).item()
      const rhs = ops.vdot(y, nn.functional.conv2d(x, w, cfg)).item()
      expectClose([lhs], [rhs], { rtol: 1e-12, atol: 1e-12 }, `${JSON.stringify(cfg)}`)
    }
  })
})

/**
 * ∂/∂x of Σ u·avgPool(x) with TensorFlow's SAME padding: each window passes u/count to each of
 * its count positions inside the input.
 */
function avgPoolGradient(
  shape: number[],
  size: number | [number, number],
  stride: number | [number, number],
  u: number[],
): number[] {
  const [b, h, w, ch] = shape
  const [kh, kw] = typeof size === 'number' ? [size, size] : size
  const [sh, sw] = typeof stride === 'number' ? [stride, stride] : stride
  const axis = (n: number, k: number, s: number) => {
    const out = Math.ceil(n / s)
    return { out, lo: Math.floor(Math.max((out - 1) * s + k - n, 0) / 2) }
  }
  const [ah, aw] = [axis(h, kh, sh), axis(w, kw, sw)]
  const g = new Array(b * h * w * ch).fill(0)
  for (let n = 0; n < b; n++)
    for (let i = 0; i < ah.out; i++)
      for (let j = 0; j < aw.out; j++) {
        const rows = Array.from({ length: kh }, (_, a) => i * sh + a - ah.lo).filter((r) => r >= 0 && r < h)
        const cols = Array.from({ length: kw }, (_, e) => j * sw + e - aw.lo).filter((q) => q >= 0 && q < w)
        for (let c = 0; c < ch; c++) {
          const share = u[((n * ah.out + i) * aw.out + j) * ch + c] / (rows.length * cols.length)
          for (const r of rows) for (const q of cols) g[((n * h + r) * w + q) * ch + c] += share
        }
      }
  return g
}

describe('pooling against TensorFlow.js', () => {
  const cases: {
    label: string
    x: number[]
    size: number | [number, number]
    stride?: number | [number, number]
    padding: 'SAME' | 'VALID'
  }[] = [
    { label: '2×2, VALID', x: [2, 6, 6, 3], size: 2, padding: 'VALID' },
    { label: '3×3 stride 2, SAME (padded windows)', x: [2, 7, 6, 2], size: 3, stride: 2, padding: 'SAME' },
    { label: '2×3 stride 1, SAME', x: [1, 5, 5, 2], size: [2, 3], stride: 1, padding: 'SAME' },
    { label: '3×3 stride [1, 2], VALID', x: [1, 6, 7, 1], size: 3, stride: [1, 2], padding: 'VALID' },
  ]
  for (const c of cases) {
    for (const kind of ['max', 'avg'] as const) {
      it(`${kind} pooling ${c.label}: values and gradients`, () => {
        // Negative values: max pooling must ignore its padding rather than see zeros there.
        const x = ops.sub(sampler(c.x.length + (kind === 'max' ? 100 : 200))(c.x), 2) as AnyT
        const opts = { stride: c.stride, padding: c.padding }
        const pool = (v: AnyT) =>
          kind === 'max' ? nn.functional.maxPool2d(v, c.size, opts) : nn.functional.avgPool2d(v, c.size, opts)
        const tfPool = (v: tf.Tensor) =>
          (kind === 'max' ? tf.maxPool : tf.avgPool)(
            v as tf.Tensor4D,
            c.size,
            c.stride ?? c.size,
            tfPad(c.padding) as 'same',
          )
        const y = pool(x)
        const ty = tfPool(toTf(x))
        expect(y.shape).toEqual(ty.shape)
        expectClose(values(y), ty.dataSync(), f32Tol, `${c.label}: values`)
        const u = sampler(9)(y.shape as number[])
        const g = grad((v: AnyT) => ops.sum(ops.mul(pool(v), u)))(x)
        // TF.js's cpu average-pooling gradient divides by the full window even where SAME padding
        // made the forward pass divide by fewer positions; there the reference is the hand formula.
        const reference =
          kind === 'avg' && c.padding === 'SAME'
            ? avgPoolGradient(c.x, c.size, c.stride ?? c.size, values(u))
            : tf
                .grad((v: tf.Tensor) => tf.sum(tf.mul(tfPool(v), toTf(u))))(toTf(x))
                .dataSync()
        expectClose(values(g), reference, f32Tol, `${c.label}: gradient`)
      })
    }
  }
  it('global pooling averages or maximises over the spatial axes; layers agree with the functions', () => {
    const x = sampler(41, 'f64')([2, 3, 4, 5])
    const xs = values(x)
    const at = (n: number, i: number, j: number, c: number) => xs[((n * 3 + i) * 4 + j) * 5 + c]
    const over = (f: (vs: number[]) => number) =>
      [0, 1].flatMap((n) =>
        [0, 1, 2, 3, 4].map((c) => f([0, 1, 2].flatMap((i) => [0, 1, 2, 3].map((j) => at(n, i, j, c))))),
      )
    expectClose(
      values(nn.globalAvgPool2d.apply(null, x)),
      over((vs) => vs.reduce((a, b) => a + b) / vs.length),
      f64Tol,
      'mean',
    )
    expect(values(nn.globalMaxPool2d.apply(null, x))).toEqual(over((vs) => Math.max(...vs)))
    expect(values(nn.maxPool2d(2).apply(null, x))).toEqual(values(nn.functional.maxPool2d(x, 2)))
    expect(() => nn.globalAvgPool2d.apply(null, ops.zeros([2, 3]) as never)).toThrow(
      'globalAvgPool2d: expected an NHWC input [B, H, W, C], got f32[2,3]',
    )
  })
})
