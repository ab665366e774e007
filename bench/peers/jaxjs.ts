/**
 * jax-js (@jax-js/jax, Eric Zhang's JAX port to JavaScript) implementations of
 * the benchmark workloads. Written the way a jax-js user would: a pure loss
 * function, valueAndGrad, a tree-mapped SGD update, the whole step under
 * `jit` (which fuses kernels and records an execution graph), parameters kept
 * on the device between steps.
 *
 * Backends: 'webgpu' and 'wasm' (jit), 'cpu' (jit; interpreted JS, meant for
 * debugging), 'webgpu-eager' and 'wasm-eager' (the same code without jit),
 * 'webgl' (needs WebGL2, absent in Node: reported unavailable).
 * jax-js's wasm backend uses a worker pool only when `Worker` and
 * `SharedArrayBuffer` exist; Node has no global `Worker`, so it runs on one
 * thread here.
 *
 * jax-js uses reference-counted ownership: every function consumes its
 * arguments, `.ref` adds a reference (see its README).
 */
import type * as JAX from '@jax-js/jax'
import { CNN, LSTM, MLP, RNN, lstmData, mlpData, randomF32, rnnData, cnnData, type Workloads } from './measure.ts'
import { installNavigatorShim, readGpuCounters } from './navigator.ts'

export type JaxjsBackend = 'webgpu' | 'wasm' | 'cpu' | 'webgpu-eager' | 'wasm-eager' | 'webgl'
export const JAXJS_BACKENDS: readonly JaxjsBackend[] = ['webgpu', 'wasm', 'cpu', 'webgpu-eager', 'wasm-eager', 'webgl']

type Arr = JAX.Array

export async function createJaxjsPeer(backend: JaxjsBackend): Promise<Workloads & { describe(): string }> {
  const device = backend.replace(/-eager$/, '') as JAX.Device
  const useJit = !backend.endsWith('-eager')
  if (device === 'webgpu') installNavigatorShim()
  const jax: typeof JAX = await import('@jax-js/jax')
  const { numpy: np, nn, lax, tree, valueAndGrad } = jax
  const available = await jax.init(device)
  if (!available.includes(device)) {
    const why = device === 'webgl' ? 'no WebGL2RenderingContext in Node' : 'init() did not initialise it'
    throw new Error(`jax-js device '${device}' not available (${why}); available: ${available.join(', ') || 'none'}`)
  }
  jax.defaultDevice(device)

  const jit = <F extends (...args: any[]) => any>(f: F): F => (useJit ? (jax.jit(f) as unknown as F) : f)
  const owned: Arr[] = []
  const toDispose: Array<{ dispose(): void }> = []
  let lastLoss: number | undefined
  const arr = (data: Float32Array, shape: number[]): Arr => np.array(data).reshape(shape)
  /** Softmax cross-entropy of the rows of `logits` against one-hot `targets`, the mean over its `rows` rows. */
  const crossEntropy = (logits: Arr, targets: Arr, rows: number): Arr =>
    nn
      .logSoftmax(logits, -1)
      .mul(targets)
      .sum()
      .mul(-1 / rows)
  /**
   * One SGD step of `loss` (lr) as one (jitted) call: value and gradient, then w − lr·g for every parameter. The
   * returned function runs it on the parameters it keeps and the data, whose references it passes on each call.
   */
  const sgdSteps = <P extends Record<string, Arr>>(
    loss: (p: P, ...data: Arr[]) => Arr,
    initial: P,
    data: readonly Arr[],
    lr: number,
  ) => {
    let params = initial
    const step = jit((p: P, ...d: Arr[]): [Arr, P] => {
      const [l, g] = valueAndGrad(loss as (p: any, ...data: Arr[]) => Arr)(tree.ref(p), ...d)
      const next = tree.map((w: Arr, gw: Arr) => w.sub(gw.mul(lr)), p, g as P) as P
      return [l, next]
    })
    if (useJit) toDispose.push(step as unknown as { dispose(): void })
    toDispose.push({ dispose: () => tree.dispose(params) })
    return async () => {
      const [l, next] = step(params, ...data.map((a) => a.ref))
      params = next
      lastLoss = (await l.data())[0]
    }
  }

  return {
    describe() {
      return `@jax-js/jax, device ${jax.defaultDevice()}, ${useJit ? 'jit' : 'eager (no jit)'}`
    },

    matmul(n: number) {
      const a = arr(randomF32(n * n, 21), [n, n])
      const b = arr(randomF32(n * n, 22), [n, n])
      owned.push(a, b)
      const mm = jit((x: Arr, y: Arr) => np.matmul(x, y))
      if (useJit) toDispose.push(mm as unknown as { dispose(): void })
      return async () => {
        const c = mm(a.ref, b.ref)
        // Realise the whole product before slicing, so no fusion can shrink the work.
        await c.blockUntilReady()
        const one = c.slice(0, 0)
        await one.data()
      }
    },

    mlpStep(batch: number) {
      const d = mlpData(batch)
      const { input, hidden, output, lr } = MLP
      type Params = { w1: Arr; b1: Arr; w2: Arr; b2: Arr; w3: Arr; b3: Arr }
      const params: Params = {
        w1: arr(d.w1, [input, hidden]),
        b1: arr(d.b1, [hidden]),
        w2: arr(d.w2, [hidden, hidden]),
        b2: arr(d.b2, [hidden]),
        w3: arr(d.w3, [hidden, output]),
        b3: arr(d.b3, [output]),
      }
      const x = arr(d.x, [batch, input])
      const y = arr(d.y, [batch, output])
      owned.push(x, y)
      const loss = (p: Params, x: Arr, y: Arr): Arr => {
        const h1 = nn.relu(np.matmul(x, p.w1).add(p.b1))
        const h2 = nn.relu(np.matmul(h1, p.w2).add(p.b2))
        const logits = np.matmul(h2, p.w3).add(p.b3)
        return crossEntropy(logits, y, batch)
      }
      return sgdSteps(loss, params, [x, y], lr)
    },

    rnnStep() {
      const d = rnnData()
      const { input, hidden, steps, batch, lr } = RNN
      type Params = { wx: Arr; wh: Arr; b: Arr }
      const params: Params = { wx: arr(d.wx, [input, hidden]), wh: arr(d.wh, [hidden, hidden]), b: arr(d.b, [hidden]) }
      const xs = arr(d.x, [steps, batch, input])
      owned.push(xs)
      const loss = (p: Params, xs: Arr): Arr => {
        let h = np.zeros([batch, hidden])
        for (let t = 0; t < steps; t++) {
          const xt = xs.ref.slice(t) // [batch, input]
          h = np.tanh(np.matmul(xt, p.wx.ref).add(np.matmul(h, p.wh.ref)).add(p.b.ref))
        }
        tree.dispose([p, xs])
        return np.square(h).mean()
      }
      return sgdSteps(loss, params, [xs], lr)
    },

    lstmStep() {
      const d = lstmData()
      const { vocab, embed, hidden, steps, batch, lr } = LSTM
      type Params = { table: Arr; wx: Arr; wh: Arr; b: Arr; wo: Arr; bo: Arr }
      const params: Params = {
        table: arr(d.table, [vocab, embed]),
        wx: arr(d.wx, [embed, 4 * hidden]),
        wh: arr(d.wh, [hidden, 4 * hidden]),
        b: arr(d.b, [4 * hidden]),
        wo: arr(d.wo, [hidden, vocab]),
        bo: arr(d.bo, [vocab]),
      }
      // The embedding as a product of one-hot rows with the table: under jit, the gradient of np.take
      // (a scatter) fails ("routine primitive scatter input is not imm").
      const oneHot = (ids: Int32Array) => nn.oneHot(np.array(ids, { dtype: np.int32 }), vocab)
      const inputs = oneHot(d.ids.slice(0, steps * batch))
      const targets = oneHot(d.ids.slice(batch))
      owned.push(inputs, targets)
      // No loop construct in jax-js: the steps are unrolled in the traced program, as in rnnStep.
      const loss = (p: Params, inputs: Arr, targets: Arr): Arr => {
        const e = np.matmul(inputs, p.table).reshape([steps, batch, embed])
        let h = np.zeros([batch, hidden])
        let c = np.zeros([batch, hidden])
        const hs: Arr[] = []
        for (let t = 0; t < steps; t++) {
          const z = np.matmul(e.ref.slice(t), p.wx.ref).add(np.matmul(h, p.wh.ref)).add(p.b.ref)
          const [i, f, g, o] = np.split(z, 4, 1)
          c = nn
            .sigmoid(f)
            .mul(c)
            .add(nn.sigmoid(i).mul(np.tanh(g)))
          h = nn.sigmoid(o).mul(np.tanh(c.ref))
          hs.push(h.ref)
        }
        tree.dispose([e, h, c, p.wx, p.wh, p.b])
        const logits = np.matmul(np.concatenate(hs, 0), p.wo).add(p.bo)
        return crossEntropy(logits, targets, steps * batch)
      }
      return sgdSteps(loss, params, [inputs, targets], lr)
    },

    cnnStep() {
      const d = cnnData()
      const { size, kernel, c1, c2, hidden, output, batch, lr } = CNN
      const side = size / 4
      const flat = c2 * side * side
      type Params = { k1: Arr; b1: Arr; k2: Arr; b2: Arr; w3: Arr; b3: Arr; w4: Arr; b4: Arr }
      // jax-js convolves NCHW images with OIHW kernels: measure.ts's HWIO kernels are transposed once here,
      // and the first dense layer's rows reordered from (h, w, c) to (c, h, w), so the network is the same.
      const params: Params = {
        k1: arr(d.k1.w, [kernel, kernel, 1, c1]).transpose([3, 2, 0, 1]),
        b1: arr(d.k1.b, [c1, 1, 1]),
        k2: arr(d.k2.w, [kernel, kernel, c1, c2]).transpose([3, 2, 0, 1]),
        b2: arr(d.k2.b, [c2, 1, 1]),
        w3: arr(d.d1.w, [side, side, c2, hidden]).transpose([2, 0, 1, 3]).reshape([flat, hidden]),
        b3: arr(d.d1.b, [hidden]),
        w4: arr(d.d2.w, [hidden, output]),
        b4: arr(d.d2.b, [output]),
      }
      // One channel: the NHWC images [batch, 28, 28, 1] hold the same numbers as NCHW [batch, 1, 28, 28].
      const x = arr(d.x, [batch, 1, size, size])
      const y = arr(d.y, [batch, output])
      owned.push(x, y)
      // 2×2 max pooling, stride 2: the maximum over each window of lax.reduceWindow.
      const pool = (h: Arr): Arr => lax.reduceWindow(h, (w: Arr) => np.max(w), [2, 2], [2, 2])
      const loss = (p: Params, x: Arr, y: Arr): Arr => {
        const h1 = pool(nn.relu(lax.conv(x, p.k1, [1, 1], 'SAME').add(p.b1)))
        const h2 = pool(nn.relu(lax.conv(h1, p.k2, [1, 1], 'SAME').add(p.b2)))
        const h3 = nn.relu(np.matmul(h2.reshape([batch, flat]), p.w3).add(p.b3))
        const logits = np.matmul(h3, p.w4).add(p.b4)
        return crossEntropy(logits, y, batch)
      }
      return sgdSteps(loss, params, [x, y], lr)
    },

    lastLoss: () => lastLoss,

    ...(device === 'webgpu' ? { counters: readGpuCounters } : {}),

    dispose() {
      for (const f of toDispose.splice(0)) f.dispose()
      for (const a of owned.splice(0)) a.dispose()
    },
  }
}
