import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cpuBackend, jit, ops, random, tensor, tree, valueAndGrad, type Tensor } from '../src/index.ts'
import { lineChart, sideBySide } from '../src/plot/svg.ts'
import {
  accuracy,
  datasetSize,
  earlyStoppingInit,
  historySeries,
  earlyStoppingUpdate,
  epochBatches,
  meanOverBatches,
  sliceRows,
  splitValidation,
  takeRows,
  type EarlyStoppingOptions,
} from '../src/train/loop.ts'
import * as loop from '../src/train/loop.ts'
import { progressReporter, type ProgressReporter, type ProgressStatus } from '../src/train/progress.ts'
import { Tensor as TensorBase, type Aval } from '../src/tensor.ts'
import type { TypedArray } from '../src/dtype.ts'
import { assertProperty } from './lib/property.ts'

const sorted = (xs: Iterable<number>) => [...xs].sort((a, b) => a - b)
const range = (n: number) => Array.from({ length: n }, (_, i) => i)

describe('epochBatches', () => {
  it('visits every index once per epoch, in batches of the given size', () => {
    assertProperty(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 1000 }),
        (n, b, seed) => {
          const kept = epochBatches(random.key(seed), n, b, { dropLast: false })
          expect(sorted(kept.flatMap((x) => [...x]))).toEqual(range(n))
          expect(kept.length).toBe(Math.ceil(n / b))
          kept.slice(0, -1).forEach((x) => expect(x.length).toBe(b))
          const dropped = epochBatches(random.key(seed), n, b)
          expect(dropped.length).toBe(Math.floor(n / b))
          const seen = dropped.flatMap((x) => [...x])
          expect(new Set(seen).size).toBe(seen.length)
          expect(seen.length).toBe(Math.floor(n / b) * b)
          expect(seen.every((i) => i >= 0 && i < n)).toBe(true)
        },
      ),
    )
  })
  it('is fixed by its key, and differs between epochs', () => {
    const k = random.key(7)
    expect(epochBatches(k, 50, 10)).toEqual(epochBatches(k, 50, 10))
    const e0 = epochBatches(random.foldIn(k, 0), 50, 50)[0]
    const e1 = epochBatches(random.foldIn(k, 1), 50, 50)[0]
    expect(sorted(e0)).toEqual(sorted(e1))
    expect([...e0]).not.toEqual([...e1])
    expect(epochBatches(k, 5, 2, { shuffle: false, dropLast: false }).map((x) => [...x])).toEqual([[0, 1], [2, 3], [4]])
    expect(() => epochBatches(k, 5, 0)).toThrow('epochBatches: batchSize must be a positive integer, got 0')
  })
})

describe('datasets', () => {
  const data = {
    x: tensor(range(12), { shape: [6, 2] }),
    y: tensor([0, 1, 2, 3, 4, 5], { dtype: 'i32' }),
    meta: { id: tensor(range(6), { shape: [6, 1, 1] }) },
  }

  it('slices every leaf by the same rows', () => {
    expect(datasetSize(data)).toBe(6)
    const b = takeRows(data, [4, 0, 4])
    expect(b.x.toArray()).toEqual([
      [8, 9],
      [0, 1],
      [8, 9],
    ])
    expect(b.y.dtype).toBe('i32')
    expect(Array.from(b.y.dataSync())).toEqual([4, 0, 4])
    expect(b.meta.id.shape).toEqual([3, 1, 1])
    expect(Array.from(sliceRows(data, 2, 5).y.dataSync())).toEqual([2, 3, 4])
    expect(takeRows(data, []).x.shape).toEqual([0, 2])
  })
  it('reports leaves of different lengths, scalars and bad indices', () => {
    expect(() => datasetSize({ x: ops.zeros([5, 2]), y: ops.zeros([4]) })).toThrow(
      'datasetSize: dataset.y has 4 examples (shape [4]), but dataset.x has 5',
    )
    expect(() => datasetSize({ x: ops.zeros([]) })).toThrow(
      'datasetSize: dataset.x is a scalar; every leaf needs a leading axis of examples',
    )
    expect(() => takeRows(data, [6])).toThrow('takeRows: index 6 at position 0 is outside 0..5')
    expect(() => sliceRows(data, 3, 8)).toThrow('sliceRows: rows 3..8 do not lie within 0..6')
  })
  it('holds out a validation set, shuffled by a key or the last rows', () => {
    const last = splitValidation(data, { count: 2 })
    expect(Array.from(last.validation.y.dataSync())).toEqual([4, 5])
    expect(Array.from(last.train.y.dataSync())).toEqual([0, 1, 2, 3])
    const shuffled = splitValidation(data, { fraction: 0.5, key: random.key(1) })
    expect(sorted([...shuffled.train.y.dataSync(), ...shuffled.validation.y.dataSync()])).toEqual(range(6))
    expect(shuffled.validation.y.shape).toEqual([3])
    // rows stay together
    const v = shuffled.validation
    expect(Array.from(v.meta.id.dataSync())).toEqual(Array.from(v.y.dataSync()))
    expect(() => splitValidation(data, { count: 6 })).toThrow(
      'splitValidation: the validation set must hold 1 to 5 of the 6 examples, got 6',
    )
    expect(() => splitValidation(data, {})).toThrow('give exactly one of fraction and count')
  })
})

describe('metrics', () => {
  it('computes accuracy from logits and integer labels', async () => {
    const logits = tensor([
      [0.1, 2, 0.3],
      [5, 1, 1],
      [0, 0, 0],
      [1, 3, 3],
    ])
    expect(await accuracy(logits, tensor([1, 0, 0, 2], { dtype: 'i32' }))).toBe(0.75) // ties go to the first index
    await expect(accuracy(logits, tensor([1, 0], { dtype: 'i32' }))).rejects.toThrow(
      'accuracy: labels must be i32 of shape [4] to match logits [4, 3], got i32[2]',
    )
    await expect(accuracy(logits, tensor([1, 0, 0, 2]))).rejects.toThrow('got f32[4]')
  })
  it('averages over batches weighted by their sizes', async () => {
    const data = { v: tensor(range(10)) }
    const seen: number[] = []
    const m = await meanOverBatches(data, 4, (b) => {
      seen.push(b.v.shape[0])
      return ops.mean(b.v)
    })
    expect(m).toBeCloseTo(4.5, 6)
    expect(seen).toEqual([4, 4, 2])
  })
})

describe('early stopping', () => {
  const run = (options: EarlyStoppingOptions, metrics: number[]) => {
    let s = earlyStoppingInit<string>(options)
    const stops: boolean[] = []
    metrics.forEach((m, i) => {
      s = earlyStoppingUpdate(options, s, i + 1, m, `params ${i + 1}`)
      stops.push(s.stop)
    })
    return { s, stops }
  }
  it('stops after `patience` epochs without improvement and keeps the best', () => {
    const { s, stops } = run({ patience: 3 }, [1.0, 0.8, 0.7, 0.71, 0.705, 0.72])
    expect(stops).toEqual([false, false, false, false, false, true])
    expect([s.best, s.bestEpoch, s.bestParams, s.wait]).toEqual([0.7, 3, 'params 3', 3])
  })
  it('counts only improvements above minDelta, and maximises in max mode', () => {
    const { s } = run({ patience: 3, minDelta: 0.15 }, [1.0, 0.8, 0.7, 0.71, 0.705])
    expect([s.bestEpoch, s.stop]).toEqual([2, true])
    const acc = run({ patience: 2, mode: 'max' }, [0.5, 0.9, 0.8, Number.NaN])
    expect([acc.s.best, acc.s.bestEpoch, acc.s.stop]).toEqual([0.9, 2, true])
    expect(() => earlyStoppingInit({ patience: 0 })).toThrow(
      'earlyStopping: patience must be a positive integer, got 0',
    )
  })
})

// ---------------------------------------------------------------- fit on a linear regression

type Params = { w: Tensor<[3, 1]>; b: Tensor<[1]> }
type Batch = { x: Tensor<['N', 3]>; y: Tensor<['N', 1]> }

/** y = x·w* + b* + noise, for w* = [1, −2, 0.5], b* = 0.3. */
function regression(seed: number, n: number): Batch {
  const [kx, kn] = random.split(random.key(seed))
  const x = random.normal(kx, [n, 3]).dataSync()
  const noise = random.normal(kn, [n], { stddev: 0.01 }).dataSync()
  const y = range(n).map((i) => x[3 * i] - 2 * x[3 * i + 1] + 0.5 * x[3 * i + 2] + 0.3 + noise[i])
  return { x: tensor(x, { shape: [n, 3] }), y: tensor(y, { shape: [n, 1] }) }
}
const init = (): Params => ({ w: ops.zeros([3, 1]), b: ops.zeros([1]) })
const mse = (p: Params, x: Tensor<['N', 3]>, y: Tensor<['N', 1]>) =>
  ops.mean(ops.square(ops.sub(ops.add(ops.matmul(x, p.w), p.b), y)))
const backend = cpuBackend()
/** Plain gradient descent; the state counts steps. */
const sgd = (lr: number) =>
  jit(
    (p: Params, s: { t: Tensor<[]> }, batch: Batch) => {
      const [loss, g] = valueAndGrad(mse)(p, batch.x, batch.y)
      return [tree.treeMap2(p, g, (pi, gi) => ops.sub(pi, ops.mul(gi, lr))), { t: ops.add(s.t, 1) }, loss] as const
    },
    { backend },
  )
const validationLoss = jit(mse, { backend })
const evaluate = (p: Params, d: Batch) => meanOverBatches(d, 64, async (b) => validationLoss(p, b.x, b.y))

describe('fit', () => {
  const train = regression(1, 256)
  const validation = regression(2, 64)

  it('trains a linear regression: the loss falls and the history has one entry per step and epoch', async () => {
    const epochsSeen: number[] = []
    const result = await loop.fit({
      step: sgd(0.1),
      params: init(),
      state: { t: ops.scalar(0) },
      train,
      validation,
      evaluate,
      epochs: 6,
      batchSize: 32,
      key: random.key(0),
      onEpoch: (e, h) => epochsSeen.push(e, h.epochLoss.length),
    })
    const h = result.history
    expect(h.loss).toHaveLength(6 * 8)
    expect(h.epochLoss).toHaveLength(6)
    expect(h.validation).toHaveLength(6)
    expect([h.epochs, h.steps, h.stoppedEarly]).toEqual([6, 48, false])
    expect(h.loss.every(Number.isFinite)).toBe(true)
    expect(h.epochLoss[5]).toBeLessThan(0.01 * h.epochLoss[0])
    expect(h.validation[5]).toBeLessThan(h.validation[0])
    expect(h.epochLoss[0]).toBeCloseTo(h.loss.slice(0, 8).reduce((a, b) => a + b) / 8, 5)
    expect(result.state.t.item()).toBe(48)
    expect(Array.from(result.params.w.dataSync()).map((v) => Number(v.toFixed(1)))).toEqual([1, -2, 0.5])
    expect(result.params.b.item()).toBeCloseTo(0.3, 1)
    expect(result.lastParams).toBe(result.params)
    expect(epochsSeen).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6])
    // the history plots: loss per step, epoch means and validation at each epoch's last step
    const series = historySeries(h)
    expect(series.loss.map((s) => [s.name, s.y.length])).toEqual([
      ['loss', 48],
      ['epoch mean loss', 6],
    ])
    expect(Array.from(series.validation[0].x ?? [])).toEqual([8, 16, 24, 32, 40, 48])
    expect(series.validation[0].name).toBe('val')
    expect(
      sideBySide([lineChart({ series: series.loss, logY: true }), lineChart({ series: series.validation })]),
    ).toMatch(/^<svg[^>]*>.*<\/svg>$/)
  })

  it('stops early on a validation plateau and returns the best parameters', async () => {
    // Scripted validation figures; the parameters seen by evaluate are kept to compare with.
    const script = [1.0, 0.8, 0.7, 0.71, 0.705, 0.72, 0.5, 0.4]
    const seen: Params[] = []
    const result = await loop.fit({
      step: sgd(0.05),
      params: init(),
      state: { t: ops.scalar(0) },
      train,
      validation,
      evaluate: (p: Params) => {
        seen.push(p)
        return script[seen.length - 1]
      },
      epochs: 8,
      batchSize: 64,
      key: random.key(3),
      earlyStopping: { patience: 3 },
    })
    expect(result.history.epochs).toBe(6)
    expect(result.history.stoppedEarly).toBe(true)
    expect(result.history.bestEpoch).toBe(3)
    expect(result.history.validation).toEqual(script.slice(0, 6))
    expect(result.history.loss).toHaveLength(6 * 4)
    expect(Array.from(result.params.w.dataSync())).toEqual(Array.from(seen[2].w.dataSync()))
    expect(Array.from(result.lastParams.w.dataSync())).toEqual(Array.from(seen[5].w.dataSync()))
    expect(Array.from(result.params.w.dataSync())).not.toEqual(Array.from(result.lastParams.w.dataSync()))
    const last = await loop.fit({
      step: sgd(0.05),
      params: init(),
      state: { t: ops.scalar(0) },
      train,
      validation,
      evaluate: () => 1,
      epochs: 5,
      batchSize: 64,
      key: random.key(3),
      earlyStopping: { patience: 2, restoreBest: false },
    })
    expect(last.history.epochs).toBe(3)
    expect(last.params).toBe(last.lastParams)
  })

  it('stops when the real validation loss stops improving', async () => {
    // lr = 0: the parameters, and so the validation loss, never change after the first epoch.
    const result = await loop.fit({
      step: sgd(0),
      params: init(),
      state: { t: ops.scalar(0) },
      train,
      validation,
      evaluate,
      epochs: 10,
      batchSize: 128,
      key: random.key(4),
      earlyStopping: { patience: 2 },
    })
    expect(result.history.epochs).toBe(3)
    expect(result.history.bestEpoch).toBe(1)
    expect(new Set(result.history.validation).size).toBe(1)
  })

  it('reads the loss back only when progress is due, every readLossEvery steps and at epoch ends', async () => {
    let stepsRun = 0
    const readsAt: number[] = []
    /** A loss that records when it is read; reading it synchronously is an error. */
    class WatchedLoss extends TensorBase {
      constructor(
        readonly aval: Aval,
        private readonly inner: Tensor,
      ) {
        super()
      }
      dataSync(): never {
        throw new Error('fit read a loss synchronously')
      }
      override async data(): Promise<TypedArray> {
        readsAt.push(stepsRun)
        return this.inner.data()
      }
    }
    const inner = sgd(0.05)
    const step = async (p: Params, s: { t: Tensor<[]> }, b: Batch) => {
      const [p2, s2, loss] = await inner(p, s, b)
      stepsRun += 1
      return [p2, s2, new WatchedLoss(loss.aval, loss)] as const
    }
    const updates: ProgressStatus[] = []
    const ends: ProgressStatus[] = []
    const every5: ProgressReporter = {
      due: (n) => n % 5 === 0,
      update: (s) => updates.push(s),
      epochEnd: (s) => ends.push(s),
      finish: () => undefined,
    }
    const data = regression(5, 96)
    const r = await loop.fit({
      step,
      params: init(),
      state: { t: ops.scalar(0) },
      train: data,
      epochs: 2,
      batchSize: 16,
      key: random.key(0),
      progress: every5,
    })
    expect(readsAt).toHaveLength(12)
    expect(sorted(new Set(readsAt))).toEqual([5, 6, 10, 12])
    expect(updates.map((u) => [u.epoch, u.step, u.samples])).toEqual([
      [1, 5, 80],
      [2, 4, 160],
    ])
    expect(updates.map((u) => u.loss)).toEqual([r.history.loss[4], r.history.loss[9]])
    expect(ends.map((u) => [u.epoch, u.step, u.loss])).toEqual([
      [1, 6, r.history.epochLoss[0]],
      [2, 6, r.history.epochLoss[1]],
    ])
    expect(r.history.loss.every(Number.isFinite)).toBe(true)

    readsAt.length = 0
    stepsRun = 0
    await loop.fit({
      step,
      params: init(),
      state: { t: ops.scalar(0) },
      train: data,
      epochs: 2,
      batchSize: 16,
      key: random.key(0),
      readLossEvery: 4,
    })
    expect(sorted(new Set(readsAt))).toEqual([4, 6, 8, 12])
  })

  it('reports through a progress reporter to a stream', async () => {
    const lines: string[] = []
    let now = 0
    const progress = progressReporter({
      stream: { write: (s) => lines.push(s), isTTY: false },
      clock: () => (now += 100),
      everySteps: 3,
    })
    await loop.fit({
      step: sgd(0.1),
      params: init(),
      state: { t: ops.scalar(0) },
      train,
      validation,
      evaluate,
      metricName: 'val loss',
      epochs: 2,
      batchSize: 64,
      key: random.key(0),
      progress,
    })
    expect(lines.filter((l) => l.startsWith('epoch 1/2 step 3/4'))).toHaveLength(1)
    expect(lines.filter((l) => / step 4\/4 .*val loss /.test(l))).toHaveLength(2)
    expect(lines[lines.length - 1]).toMatch(/^done: 2 epochs, 8 steps, 512 samples in .*, loss .*, val loss .*\n$/)
  })

  it('keeps or drops the last partial batch', async () => {
    const data = regression(6, 100)
    const kept = await loop.fit({
      step: sgd(0.1),
      params: init(),
      state: { t: ops.scalar(0) },
      train: data,
      epochs: 1,
      batchSize: 32,
      key: random.key(0),
      dropLast: false,
    })
    expect(kept.history.steps).toBe(4)
    expect(kept.state.t.item()).toBe(4)
    const dropped = await loop.fit({
      step: sgd(0.1),
      params: init(),
      state: { t: ops.scalar(0) },
      train: data,
      epochs: 1,
      batchSize: 32,
      key: random.key(0),
    })
    expect(dropped.history.steps).toBe(3)
  })

  it('stops at the first non-finite loss, naming the step, with the last finite parameters (data with a NaN)', async () => {
    const x = Float32Array.from(train.x.dataSync())
    x[3 * 100 + 1] = Number.NaN
    const poisoned = { x: tensor(x, { shape: [256, 3] }), y: train.y }
    // The step donates its parameters: the error's parameters are host copies, not the donated ones.
    const step = jit(
      (p: Params, s: { t: Tensor<[]> }, batch: Batch) => {
        const [loss, g] = valueAndGrad(mse)(p, batch.x, batch.y)
        return [tree.treeMap2(p, g, (pi, gi) => ops.sub(pi, ops.mul(gi, 0.1))), { t: ops.add(s.t, 1) }, loss] as const
      },
      { backend, donateArgnums: [0, 1] },
    )
    const key = random.key(7)
    // The step (from 1) whose batch of 32 holds row 100, in each epoch's order.
    const stepOf = (e: number) =>
      epochBatches(random.foldIn(key, e), 256, 32).findIndex((b) => Array.from(b).includes(100)) + 1
    const run = (stopOnNonFinite?: boolean) =>
      loop.fit({
        step,
        params: init(),
        state: { t: ops.scalar(0) },
        train: poisoned,
        epochs: 3,
        batchSize: 32,
        key,
        stopOnNonFinite,
      })
    const error = await run().then(
      () => null,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(loop.NonFiniteError)
    const e = error as loop.NonFiniteError<Params>
    expect([e.step, e.value, e.paramsEpoch]).toEqual([stepOf(0), Number.NaN, 0])
    expect(e.message).toContain(`the loss is NaN at step ${stepOf(0)} (epoch 1)`)
    expect(Array.from(e.params.w.dataSync())).toEqual([0, 0, 0])
    expect(e.history.loss).toHaveLength(stepOf(0))
    expect(e.history.loss.slice(0, -1).every(Number.isFinite)).toBe(true)
    // Told to train on, it returns NaN parameters, as before.
    const on = await run(false)
    expect(Number.isNaN(on.params.b.item())).toBe(true)
  })

  it('keeps the parameters of the last finite epoch when training diverges later, and checks parameters too', async () => {
    const p0 = init()
    // A scripted step: finite for 12 steps (one and a half epochs of 8), then ∞ in one weight with a finite loss.
    const step = (p: Params, s: { t: number }) => {
      const t = s.t + 1
      const w = ops.add(p.w, t === 13 ? Number.POSITIVE_INFINITY : 1)
      return [{ w, b: p.b }, { t }, t > 13 ? Number.NaN : 1 / t] as const
    }
    const error = await loop
      .fit({ step, params: p0, state: { t: 0 }, train, epochs: 4, batchSize: 32, key: random.key(1) })
      .then(
        () => null,
        (e: unknown) => e,
      )
    const e = error as loop.NonFiniteError<Params>
    // Step 14's loss is NaN; the parameters kept are those after epoch 1 (8 steps of +1).
    expect([e.step, e.paramsEpoch]).toEqual([14, 1])
    expect(Array.from(e.params.w.dataSync())).toEqual([8, 8, 8])
    // Only the parameters go bad: caught at the epoch's end, naming the leaf and element.
    const quiet = (p: Params, s: { t: number }) => {
      const t = s.t + 1
      return [{ w: t === 3 ? ops.mul(p.w, Number.NaN) : p.w, b: p.b }, { t }, 0.5] as const
    }
    await expect(
      loop.fit({ step: quiet, params: p0, state: { t: 0 }, train, epochs: 2, batchSize: 32, key: random.key(1) }),
    ).rejects.toThrow('fit: params.w[0] is NaN at step 8 (epoch 1)')
  })

  it('rejects inconsistent options before training', async () => {
    const base = {
      step: sgd(0.1),
      params: init(),
      state: { t: ops.scalar(0) },
      train,
      epochs: 1,
      batchSize: 32,
      key: random.key(0),
    }
    await expect(loop.fit({ ...base, batchSize: 512 })).rejects.toThrow(
      'fit: 256 examples make no full batch of 512; lower batchSize or pass dropLast: false',
    )
    await expect(loop.fit({ ...base, epochs: 0 })).rejects.toThrow('fit: epochs must be a positive integer, got 0')
    await expect(loop.fit({ ...base, earlyStopping: { patience: 2 } })).rejects.toThrow(
      'fit: earlyStopping needs validation data and an evaluate function',
    )
    await expect(loop.fit({ ...base, validation })).rejects.toThrow('fit: validation data and evaluate go together')
    await expect(loop.fit({ ...base, train: { x: train.x, y: ops.zeros([10, 1]) } })).rejects.toThrow(
      'fit (train): dataset.y has 10 examples',
    )
  })
})
