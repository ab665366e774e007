/**
 * The examples' whole training steps (forward, gradient, optimiser update)
 * exported by `onnx.exportFunction` and run by ONNX Runtime's own loader and
 * session, not by adjoint's: the MNIST MLP and CNN with Adam, the tanh RNN's
 * BPTT step with SGD, and the character-level LSTM language model's step
 * (clipping by global norm, Adam with a decaying rate). Each gives the CPU
 * interpreter's new parameters, optimiser state and loss, and its inputs
 * and outputs are named by the arguments' paths.
 */
import { describe, expect, it } from 'vitest'
import {
  cpuBackend,
  grad,
  jit,
  nn,
  ops,
  optim,
  random,
  scan,
  tensor,
  tree,
  valueAndGrad,
  type Tensor,
} from '../src/index.ts'
import { loadOnnxRuntime, ORT_TYPES } from '../src/onnx/backend.ts'
import { encodeModel } from '../src/onnx/proto.ts'
import { functionToModel } from '../src/onnx/index.ts'
import { charLm, type CharLmParams } from '../examples/lib/char-lm.ts'
import { mnistCnn } from '../examples/lib/mnist-cnn.ts'
import { expectClose, ofLargest } from './lib/close.ts'

const ort = await loadOnnxRuntime().catch(() => null)

/** The step run by ONNX Runtime from its exported model; the model's input and output names; the CPU's outputs. */
async function exportedAndInterpreted(step: (...args: any[]) => unknown, args: unknown[], argNames: string[]) {
  const model = functionToModel(step, args, { argNames })
  const session = await ort!.InferenceSession.create(encodeModel(model))
  const [leaves] = tree.flatten(args)
  const feeds: Record<string, unknown> = {}
  model.graph.input.forEach((input, i) => {
    const x = leaves[i].toConcrete()
    feeds[input.name] = new ort!.Tensor(ORT_TYPES[x.dtype], x.values, [...x.shape])
  })
  const results = (await session.run(feeds as never)) as Record<string, { data: ArrayLike<number> }>
  const [want] = tree.flatten(await jit(step, { backend: cpuBackend() })(...args))
  return {
    inputs: model.graph.input.map((v) => v.name),
    outputs: model.graph.output.map((v) => v.name),
    got: model.graph.output.map((v) => results[v.name].data),
    want: want.map((t) => t.dataSync()),
  }
}

/** f32 products summed in another order: within 1e-4 of the largest magnitude of each output. */
function expectSame(r: { got: ArrayLike<number>[]; want: ArrayLike<number>[]; outputs: string[] }, rtol = 1e-4) {
  expect(r.got.length).toBe(r.want.length)
  r.got.forEach((g, i) => expectClose(g, r.want[i], ofLargest(rtol), r.outputs[i]))
}

type Batch = { images: Tensor; labels: Tensor }

function classifierStep(model: nn.AnyLayer, input: (x: Tensor) => Tensor) {
  const opt = optim.adam({ lr: 2e-3 })
  const loss = (p: unknown, b: Batch) =>
    nn.softmaxCrossEntropy(model.apply(p as never, input(b.images)) as never, b.labels)
  const step = (p: unknown, s: optim.FirstOrderState, b: Batch) => {
    const [next, state] = opt.update(grad(loss)(p, b) as never, s, p as never)
    return [next, state, loss(p, b)] as const
  }
  return { opt, step }
}

function mnistBatch(n: number): Batch {
  const labels = Array.from({ length: n }, (_, i) => (7 * i + 3) % 10)
  return { images: random.uniform(random.key(4), [n, 784]), labels: tensor(labels, { dtype: 'i32' }) }
}

describe.skipIf(ort === null)('training steps exported to ONNX and run by ONNX Runtime', () => {
  it('the MNIST MLP with Adam', async () => {
    const mlp = nn.sequential(nn.dense(784, 64), nn.relu, nn.dense(64, 64), nn.relu, nn.dense(64, 10))
    const { opt, step } = classifierStep(mlp as never, (x) => x)
    const p = mlp.init(random.key(1))
    const r = await exportedAndInterpreted(step, [p, opt.init(p as never), mnistBatch(16)], ['params', 'adam', 'batch'])
    expect(r.inputs).toContain('params[0].w')
    expect(r.inputs).toContain('batch.labels')
    expect(r.outputs).toContain('output[0][4].b')
    expect(r.outputs[r.outputs.length - 1]).toBe('output[2]')
    expectSame(r)
  })

  it('the MNIST CNN with Adam (3×3 convolutions, 16 and 32 channels, max pooling)', async () => {
    const cnn = mnistCnn()
    const { opt, step } = classifierStep(cnn as never, (x) => ops.reshape(x, [x.shape[0] as number, 28, 28, 1]))
    const p = cnn.init(random.key(2))
    const r = await exportedAndInterpreted(step, [p, opt.init(p as never), mnistBatch(4)], ['params', 'adam', 'batch'])
    expectSame(r)
  })

  it('the tanh RNN: a BPTT step (a scan and its transpose) with SGD', async () => {
    const [I, H, T, B] = [8, 16, 12, 4]
    type P = { wx: Tensor; wh: Tensor; b: Tensor }
    const [k1, k2] = random.split(random.key(3), 2)
    const p: P = {
      wx: random.normal(k1, [I, H], { stddev: 0.3 }),
      wh: random.normal(k2, [H, H], { stddev: 0.3 }),
      b: ops.zeros([H]),
    }
    const loss = (q: P, x: Tensor) => {
      const cell = (h: Tensor, xt: Tensor) =>
        [ops.tanh(ops.add(ops.add(ops.matmul(xt, q.wx), ops.matmul(h, q.wh)), q.b)) as Tensor, null] as const
      return ops.mean(ops.square(scan(cell, ops.zeros([B, H]) as Tensor, x)[0]))
    }
    const step = (q: P, x: Tensor) => {
      const [value, g] = valueAndGrad(loss)(q, x)
      return [tree.treeMap2(q, g as P, (a, d) => ops.sub(a, ops.mul(d, 0.01))), value] as const
    }
    const r = await exportedAndInterpreted(step, [p, random.normal(random.key(5), [T, B, I])], ['params', 'x'])
    expect(r.inputs).toEqual(['params.b', 'params.wh', 'params.wx', 'x'])
    expectSame(r)
  })

  it('the character-level LSTM language model: clipped Adam with a decaying rate', async () => {
    const model = charLm({ vocab: 12, embed: 8, hidden: 16 })
    const opt = optim.chain(
      optim.clipByGlobalNorm(1),
      optim.adam({ lr: optim.exponentialDecay({ init: 3e-3, rate: 0.1, steps: 100 }) }),
    )
    const objective = (p: CharLmParams, inputs: Tensor, targets: Tensor) =>
      model.loss(p, model.initialState(inputs.shape[1] as number), inputs, targets)[0]
    const step = (p: CharLmParams, s: ReturnType<typeof opt.init>, inputs: Tensor, targets: Tensor) => {
      const [value, g] = valueAndGrad(objective)(p, inputs, targets)
      const [next, state] = opt.update(g as never, s, p as never)
      return [next, state, value] as const
    }
    const p = model.init(random.key(6))
    const ids = tensor(
      Array.from({ length: 33 }, (_, i) => (5 * i * i + 3 * i + 1) % 12),
      { shape: [11, 3], dtype: 'i32' },
    )
    const inputs = ops.slice(ids, [0, 0], [10, 3])
    const targets = ops.slice(ids, [1, 0], [10, 3])
    const r = await exportedAndInterpreted(
      step,
      [p, opt.init(p as never), inputs, targets],
      ['params', 'optimiser', 'inputs', 'targets'],
    )
    expect(r.inputs).toContain('params.embed.table')
    expectSame(r)
  })

  it('a step exported twice is the same file; its constants are initializers', async () => {
    const w = tensor([1, 2, 3], { dtype: 'f32' })
    const f = (x: Tensor) => ops.mul(ops.sin(x), w)
    const a = encodeModel(functionToModel(f, [tensor([0.5, 1, 2])]))
    const b = encodeModel(functionToModel(f, [tensor([0.5, 1, 2])]))
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true)
    const m = functionToModel(f, [tensor([0.5, 1, 2])], { constNames: ['w'] })
    expect(m.graph.initializer.map((t) => t.name)).toEqual(['w'])
    expect(m.graph.input.map((v) => v.name)).toEqual(['arg0'])
    expect(m.graph.output.map((v) => v.name)).toEqual(['output'])
  })
})
