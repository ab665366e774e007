/**
 * TensorFlow.js (4.22.0) implementations of the benchmark workloads, on its
 * cpu, wasm and webgpu backends. Written the way a TF.js user would write
 * them: tf.variable parameters, tf.train.sgd(lr).minimize(loss) (Adam for
 * the VAE and the GAN), eager ops; the RBM's CD-1 update by hand inside
 * tf.tidy with `assign`, its Bernoulli draws from tf.randomUniform.
 *
 * Gradients are registered by the `@tensorflow/tfjs` umbrella package, so it
 * is the one imported (not tfjs-core). The webgpu backend registers itself at
 * import only if `navigator.gpu` exists, hence the shim before the import.
 */
import type * as TF from '@tensorflow/tfjs'
import {
  CNN,
  GAN,
  LSTM,
  MLP,
  RBM,
  RNN,
  VAE,
  cnnData,
  ganData,
  lstmData,
  mlpData,
  randomF32,
  rbmData,
  rnnData,
  vaeData,
  type Workloads,
} from './measure.ts'
import { installNavigatorShim, readGpuCounters } from './navigator.ts'

export type TfjsBackend = 'cpu' | 'wasm' | 'webgpu'
export const TFJS_BACKENDS: readonly TfjsBackend[] = ['cpu', 'wasm', 'webgpu']

/** Loads TF.js on `backend`; throws (with the reason) if the backend cannot be used. */
export async function createTfjsPeer(backend: TfjsBackend): Promise<Workloads & { describe(): string }> {
  if (backend === 'webgpu') installNavigatorShim()
  const tf: typeof TF = await import('@tensorflow/tfjs')
  if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm')
  if (backend === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu')
  // TF.js logs registration failures and returns false rather than throwing.
  const ok = await tf.setBackend(backend)
  if (!ok) throw new Error(`tf.setBackend('${backend}') returned false`)
  await tf.ready()
  if (tf.getBackend() !== backend) throw new Error(`active backend is ${tf.getBackend()}, not ${backend}`)

  const keep: TF.Tensor[] = []
  const hold = <T extends TF.Tensor>(t: T): T => {
    keep.push(t)
    return t
  }
  let lastLoss: number | undefined
  /** A step of `opt` on `loss` over `vars`, its loss kept for `lastLoss`. */
  const minimizing = (opt: TF.Optimizer, loss: () => TF.Scalar, vars: TF.Variable[]) => async () => {
    const cost = opt.minimize(loss, true, vars)!
    lastLoss = (await cost.data())[0]
    cost.dispose()
  }

  return {
    describe() {
      const parts = [`tfjs ${tf.version.tfjs}`, `backend ${tf.getBackend()}`]
      if (backend === 'wasm') {
        const w = tf.backend() as any
        if (typeof w.wasm?._get_threads_count === 'function') parts.push(`threads ${w.wasm._get_threads_count()}`)
        parts.push(`simd ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT')}`)
      }
      return parts.join(', ')
    },

    matmul(n: number) {
      const a = hold(tf.tensor2d(randomF32(n * n, 21), [n, n]))
      const b = hold(tf.tensor2d(randomF32(n * n, 22), [n, n]))
      return async () => {
        const one = tf.tidy(() => tf.matMul(a, b).slice([0, 0], [1, 1]))
        await one.data()
        one.dispose()
      }
    },

    mlpStep(batch: number) {
      const d = mlpData(batch)
      const { input, hidden, output, lr } = MLP
      const w1 = hold(tf.variable(tf.tensor2d(d.w1, [input, hidden])))
      const b1 = hold(tf.variable(tf.tensor1d(d.b1)))
      const w2 = hold(tf.variable(tf.tensor2d(d.w2, [hidden, hidden])))
      const b2 = hold(tf.variable(tf.tensor1d(d.b2)))
      const w3 = hold(tf.variable(tf.tensor2d(d.w3, [hidden, output])))
      const b3 = hold(tf.variable(tf.tensor1d(d.b3)))
      const x = hold(tf.tensor2d(d.x, [batch, input]))
      const y = hold(tf.tensor2d(d.y, [batch, output]))
      const opt = tf.train.sgd(lr)
      const loss = (): TF.Scalar => {
        const h1 = tf.relu(tf.add(tf.matMul(x, w1), b1))
        const h2 = tf.relu(tf.add(tf.matMul(h1, w2), b2))
        const logits = tf.add(tf.matMul(h2, w3), b3)
        return tf.losses.softmaxCrossEntropy(y, logits) as TF.Scalar
      }
      const vars = [w1, b1, w2, b2, w3, b3]
      return minimizing(opt, loss, vars)
    },

    rnnStep() {
      const d = rnnData()
      const { input, hidden, steps, batch, lr } = RNN
      const wx = hold(tf.variable(tf.tensor2d(d.wx, [input, hidden])))
      const wh = hold(tf.variable(tf.tensor2d(d.wh, [hidden, hidden])))
      const b = hold(tf.variable(tf.tensor1d(d.b)))
      const xs = tf.tensor3d(d.x, [steps, batch, input])
      const xt = tf.unstack(xs).map(hold) // steps × [batch, input]
      xs.dispose()
      const opt = tf.train.sgd(lr)
      const loss = (): TF.Scalar => {
        let h: TF.Tensor2D = tf.zeros([batch, hidden])
        for (let t = 0; t < steps; t++) {
          h = tf.tanh(tf.add(tf.add(tf.matMul(xt[t] as TF.Tensor2D, wx), tf.matMul(h, wh)), b))
        }
        return tf.mean(tf.square(h))
      }
      return minimizing(opt, loss, [wx, wh, b])
    },

    rbmStep() {
      const d = rbmData()
      const { visible, hidden, batch, lr } = RBM
      const W = hold(tf.variable(tf.tensor2d(d.W, [visible, hidden])))
      const b = hold(tf.variable(tf.tensor1d(d.b)))
      const c = hold(tf.variable(tf.tensor1d(d.c)))
      const v = hold(tf.tensor2d(d.v, [batch, visible]))
      const bernoulli = (probs: TF.Tensor2D): TF.Tensor2D =>
        tf.cast(tf.less(tf.randomUniform(probs.shape), probs), 'float32')
      const hiddenProbs = (x: TF.Tensor2D) => tf.sigmoid(tf.add(tf.matMul(x, W), c)) as TF.Tensor2D
      const visibleProbs = (h: TF.Tensor2D) => tf.sigmoid(tf.add(tf.matMul(h, W, false, true), b)) as TF.Tensor2D
      return async () => {
        const error = tf.tidy(() => {
          const hPos = hiddenProbs(v)
          const vNeg = bernoulli(visibleProbs(bernoulli(hPos)))
          const hNeg = hiddenProbs(vNeg)
          // The reconstruction error of v before the update (what adjoint's cdStep returns).
          const err = tf.mean(tf.sum(tf.square(tf.sub(v, visibleProbs(hPos))), 1))
          const dW = tf.div(tf.sub(tf.matMul(v, hPos, true, false), tf.matMul(vNeg, hNeg, true, false)), batch)
          const db = tf.sub(tf.mean(v, 0), tf.mean(vNeg, 0))
          const dc = tf.sub(tf.mean(hPos, 0), tf.mean(hNeg, 0))
          W.assign(tf.add(W, tf.mul(dW, lr)))
          b.assign(tf.add(b, tf.mul(db, lr)))
          c.assign(tf.add(c, tf.mul(dc, lr)))
          return err
        })
        lastLoss = (await error.data())[0]
        error.dispose()
      }
    },

    vaeStep() {
      const d = vaeData()
      const { input, hidden, latent, batch, lr } = VAE
      const dense = (p: { w: Float32Array; b: Float32Array }, fanIn: number, fanOut: number) => ({
        w: hold(tf.variable(tf.tensor2d(p.w, [fanIn, fanOut]))),
        b: hold(tf.variable(tf.tensor1d(p.b))),
      })
      const e1 = dense(d.e1, input, hidden)
      const e2 = dense(d.e2, hidden, 2 * latent)
      const d1 = dense(d.d1, latent, hidden)
      const d2 = dense(d.d2, hidden, input)
      const x = hold(tf.tensor2d(d.x, [batch, input]))
      const affine = (h: TF.Tensor2D, l: { w: TF.Variable; b: TF.Variable }) =>
        tf.add(tf.matMul(h, l.w as TF.Tensor2D), l.b) as TF.Tensor2D
      const opt = tf.train.adam(lr, 0.9, 0.999, 1e-8)
      const loss = (): TF.Scalar => {
        const enc = affine(tf.relu(affine(x, e1)), e2)
        const mu = tf.slice(enc, [0, 0], [batch, latent])
        const logVar = tf.slice(enc, [0, latent], [batch, latent])
        const z = tf.add(mu, tf.mul(tf.exp(tf.mul(logVar, 0.5)), tf.randomNormal([batch, latent])))
        const logits = affine(tf.relu(affine(z as TF.Tensor2D, d1)), d2)
        // −log p(x|z): the summed sigmoid cross-entropy; KL[q ‖ N(0, I)] in closed form.
        const nll = tf.sum(tf.losses.sigmoidCrossEntropy(x, logits, undefined, 0, tf.Reduction.NONE), 1)
        const kl = tf.mul(tf.sum(tf.sub(tf.add(tf.exp(logVar), tf.square(mu)), tf.add(logVar, 1)), 1), 0.5)
        return tf.mean(tf.add(nll, kl))
      }
      const vars = [e1, e2, d1, d2].flatMap((l) => [l.w, l.b])
      return minimizing(opt, loss, vars)
    },

    ganStep() {
      const d = ganData()
      const { latent, hidden, data, batch, lr, beta1, slope } = GAN
      const dense = (p: { w: Float32Array; b: Float32Array }, fanIn: number, fanOut: number) => ({
        w: hold(tf.variable(tf.tensor2d(p.w, [fanIn, fanOut]))),
        b: hold(tf.variable(tf.tensor1d(p.b))),
      })
      const g = [dense(d.g1, latent, hidden), dense(d.g2, hidden, hidden), dense(d.g3, hidden, data)]
      const dis = [dense(d.d1, data, hidden), dense(d.d2, hidden, hidden), dense(d.d3, hidden, 1)]
      const real = hold(tf.tensor2d(d.real, [batch, data]))
      const affine = (h: TF.Tensor2D, l: { w: TF.Variable; b: TF.Variable }) =>
        tf.add(tf.matMul(h, l.w as TF.Tensor2D), l.b) as TF.Tensor2D
      const generator = (z: TF.Tensor2D) => affine(tf.relu(affine(tf.relu(affine(z, g[0])), g[1])), g[2])
      const discriminator = (x: TF.Tensor2D) =>
        affine(tf.leakyRelu(affine(tf.leakyRelu(affine(x, dis[0]), slope), dis[1]), slope), dis[2])
      const noise = () => tf.randomNormal([batch, latent]) as TF.Tensor2D
      const optD = tf.train.adam(lr, beta1, 0.999, 1e-8)
      const optG = tf.train.adam(lr, beta1, 0.999, 1e-8)
      // −log σ(a) = softplus(−a), −log(1 − σ(a)) = softplus(a).
      const lossD = (): TF.Scalar =>
        tf.add(
          tf.mean(tf.softplus(tf.neg(discriminator(real)))),
          tf.mean(tf.softplus(discriminator(generator(noise())))),
        )
      const lossG = (): TF.Scalar => tf.mean(tf.softplus(tf.neg(discriminator(generator(noise())))))
      const varsD = dis.flatMap((l) => [l.w, l.b])
      const varsG = g.flatMap((l) => [l.w, l.b])
      return async () => {
        const costD = optD.minimize(lossD, true, varsD)!
        const costG = optG.minimize(lossG, true, varsG)!
        const both = tf.stack([costD, costG])
        lastLoss = (await both.data())[0]
        tf.dispose([costD, costG, both])
      }
    },

    cnnStep() {
      const d = cnnData()
      const { size, kernel, c1, c2, hidden, output, batch, lr } = CNN
      const k1 = hold(tf.variable(tf.tensor4d(d.k1.w, [kernel, kernel, 1, c1])))
      const b1 = hold(tf.variable(tf.tensor1d(d.k1.b)))
      const k2 = hold(tf.variable(tf.tensor4d(d.k2.w, [kernel, kernel, c1, c2])))
      const b2 = hold(tf.variable(tf.tensor1d(d.k2.b)))
      const flat = (size / 4) * (size / 4) * c2
      const w3 = hold(tf.variable(tf.tensor2d(d.d1.w, [flat, hidden])))
      const b3 = hold(tf.variable(tf.tensor1d(d.d1.b)))
      const w4 = hold(tf.variable(tf.tensor2d(d.d2.w, [hidden, output])))
      const b4 = hold(tf.variable(tf.tensor1d(d.d2.b)))
      const x = hold(tf.tensor4d(d.x, [batch, size, size, 1]))
      const y = hold(tf.tensor2d(d.y, [batch, output]))
      const opt = tf.train.sgd(lr)
      const loss = (): TF.Scalar => {
        // convolution (SAME), bias, ReLU, then 2×2 max pooling
        const block = (h: TF.Tensor4D, k: TF.Variable, b: TF.Variable) =>
          tf.maxPool(tf.relu(tf.add(tf.conv2d(h, k as TF.Tensor4D, 1, 'same'), b)) as TF.Tensor4D, 2, 2, 'valid')
        const h2 = block(block(x, k1, b1), k2, b2)
        const h3 = tf.relu(tf.add(tf.matMul(tf.reshape(h2, [batch, flat]), w3), b3))
        const logits = tf.add(tf.matMul(h3, w4), b4)
        return tf.losses.softmaxCrossEntropy(y, logits) as TF.Scalar
      }
      const vars = [k1, b1, k2, b2, w3, b3, w4, b4]
      return minimizing(opt, loss, vars)
    },

    lstmStep() {
      const d = lstmData()
      const { vocab, embed, hidden, steps, batch, lr } = LSTM
      const table = hold(tf.variable(tf.tensor2d(d.table, [vocab, embed])))
      const wx = hold(tf.variable(tf.tensor2d(d.wx, [embed, 4 * hidden])))
      const wh = hold(tf.variable(tf.tensor2d(d.wh, [hidden, 4 * hidden])))
      const b = hold(tf.variable(tf.tensor1d(d.b)))
      const wo = hold(tf.variable(tf.tensor2d(d.wo, [hidden, vocab])))
      const bo = hold(tf.variable(tf.tensor1d(d.bo)))
      // The embedding as a product of one-hot rows with the table: the gradient of tf.gather needs
      // UnsortedSegmentSum, which the wasm backend lacks.
      const oneHot = (ids: Int32Array) => tf.tidy(() => tf.oneHot(tf.tensor1d(ids, 'int32'), vocab).toFloat())
      const inputs = hold(oneHot(d.ids.subarray(0, steps * batch))) as TF.Tensor2D
      const targets = hold(oneHot(d.ids.subarray(batch)))
      const opt = tf.train.sgd(lr)
      const loss = (): TF.Scalar => {
        const xs = tf.unstack(tf.reshape(tf.matMul(inputs, table), [steps, batch, embed])) as TF.Tensor2D[]
        let h: TF.Tensor2D = tf.zeros([batch, hidden])
        let c: TF.Tensor2D = tf.zeros([batch, hidden])
        const hs: TF.Tensor2D[] = []
        for (let t = 0; t < steps; t++) {
          const z = tf.add(tf.add(tf.matMul(xs[t], wx), tf.matMul(h, wh)), b)
          const [i, f, g, o] = tf.split(z, 4, 1) as TF.Tensor2D[]
          c = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)))
          h = tf.mul(tf.sigmoid(o), tf.tanh(c))
          hs.push(h)
        }
        const logits = tf.add(tf.matMul(tf.concat(hs, 0), wo), bo)
        return tf.losses.softmaxCrossEntropy(targets, logits) as TF.Scalar
      }
      return minimizing(opt, loss, [table, wx, wh, b, wo, bo])
    },

    lastLoss: () => lastLoss,

    ...(backend === 'webgpu' ? { counters: readGpuCounters } : {}),

    dispose() {
      for (const t of keep.splice(0)) t.dispose()
    },
  }
}
