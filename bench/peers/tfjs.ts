/**
 * TensorFlow.js (4.22.0) implementations of the benchmark workloads, on its
 * cpu, wasm and webgpu backends. Written the way a TF.js user would write
 * them: tf.variable parameters, tf.train.sgd(lr).minimize(loss), eager ops.
 *
 * Gradients are registered by the `@tensorflow/tfjs` umbrella package, so it
 * is the one imported (not tfjs-core). The webgpu backend registers itself at
 * import only if `navigator.gpu` exists, hence the shim before the import.
 */
import type * as TF from '@tensorflow/tfjs'
import { MLP, RNN, mlpData, randomF32, rnnData, type Workloads } from './measure.ts'
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
      return async () => {
        const cost = opt.minimize(loss, true, vars)!
        lastLoss = (await cost.data())[0]
        cost.dispose()
      }
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
      return async () => {
        const cost = opt.minimize(loss, true, [wx, wh, b])!
        lastLoss = (await cost.data())[0]
        cost.dispose()
      }
    },

    lastLoss: () => lastLoss,

    ...(backend === 'webgpu' ? { counters: readGpuCounters } : {}),

    dispose() {
      for (const t of keep.splice(0)) t.dispose()
    },
  }
}
