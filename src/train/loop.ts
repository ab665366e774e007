/**
 * A training loop made of pure parts: epoch permutations from a key, batches
 * sliced from a dataset, early stopping as a value, metrics; and `fit`,
 * which runs a (jitted) step over them.
 *
 * A dataset is a pytree of host tensors that share a leading axis of N
 * examples, e.g. `{ images: Tensor<['N', 784]>, labels: Tensor<['N'], 'i32'> }`.
 *
 * Laws:
 *  - `epochBatches(k, n, b)` visits every index in 0..n−1 exactly once per
 *    epoch (without `dropLast`; with it, all but n mod b of them), never one
 *    twice; the same key gives the same batches;
 *  - `takeRows(d, idx)` has leading axis idx.length, and its row i of every
 *    leaf is row idx[i] of that leaf of d;
 *  - early stopping: the best metric never gets worse, and `stop` becomes true
 *    exactly when `patience` epochs in a row brought no improvement of more
 *    than `minDelta`.
 */
import { permutation, foldIn, type Key } from '../random.ts'
import { ConcreteTensor, Tensor, concrete, formatAval, formatShape, sizeOf } from '../tensor.ts'
import { allocate } from '../dtype.ts'
import { flatten, leafPaths, unflatten } from '../tree.ts'
import type { Series } from '../plot/svg.ts'
import { silentProgress, type ProgressReporter, type ProgressStatus } from './progress.ts'

// ---------------------------------------------------------------- datasets

const where = (path: string) => (path === '' || path === '(top)' ? 'the dataset' : `dataset${path}`)

/** The number of examples: the leading axis that every leaf shares (an error names the leaf that differs). */
export function datasetSize(data: unknown, caller = 'datasetSize'): number {
  const [leaves, def] = flatten(data, '')
  if (leaves.length === 0) throw new Error(`${caller}: the dataset has no tensors`)
  const paths = leafPaths(def)
  let n: number | undefined
  leaves.forEach((x, i) => {
    if (x.aval.shape.length === 0)
      throw new Error(`${caller}: ${where(paths[i])} is a scalar; every leaf needs a leading axis of examples`)
    const rows = x.aval.shape[0]
    if (n === undefined) n = rows
    else if (rows !== n)
      throw new Error(
        `${caller}: ${where(paths[i])} has ${rows} examples (shape ${formatShape(x.aval.shape)}), but ${where(paths[0])} has ${n}`,
      )
  })
  return n as number
}

/** Rows `indices` of every leaf, copied on the host into new tensors. */
export function takeRows<D>(data: D, indices: ArrayLike<number>): D {
  const n = datasetSize(data, 'takeRows')
  for (let i = 0; i < indices.length; i++)
    if (!(Number.isInteger(indices[i]) && indices[i] >= 0 && indices[i] < n))
      throw new Error(`takeRows: index ${indices[i]} at position ${i} is outside 0..${n - 1}`)
  const [leaves, def] = flatten(data, '')
  const picked = leaves.map((x) => {
    const source = x.toConcrete().values
    const rowSize = sizeOf(x.aval.shape.slice(1))
    const out = allocate(x.aval.dtype, indices.length * rowSize)
    for (let i = 0; i < indices.length; i++)
      out.set(source.subarray(indices[i] * rowSize, (indices[i] + 1) * rowSize), i * rowSize)
    return concrete([indices.length, ...x.aval.shape.slice(1)], x.aval.dtype, out)
  })
  return unflatten(def, picked) as D
}

/** Rows start..end−1 of every leaf. */
export function sliceRows<D>(data: D, start: number, end: number): D {
  const n = datasetSize(data, 'sliceRows')
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= n))
    throw new Error(`sliceRows: rows ${start}..${end} do not lie within 0..${n}`)
  return takeRows(
    data,
    Int32Array.from({ length: end - start }, (_, i) => start + i),
  )
}

/** Options of the batching of a data set: whether to drop a short last batch and whether to shuffle. */
export interface BatchOptions {
  /** Drop the last batch when it would be smaller than `batchSize` (default true: every step then has one shape, so a jitted step compiles once). */
  readonly dropLast?: boolean
  /** Shuffle (default true); false gives the indices in order. */
  readonly shuffle?: boolean
}

/**
 * The index batches of one epoch: a permutation of 0..n−1 drawn from `key`
 * (use `random.foldIn(key, epoch)` for a new order each epoch), cut into
 * consecutive batches. No example is drawn twice.
 */
export function epochBatches(key: Key, n: number, batchSize: number, options: BatchOptions = {}): Int32Array[] {
  if (!(Number.isInteger(n) && n >= 0))
    throw new Error(`epochBatches: the number of examples must be a non-negative integer, got ${n}`)
  if (!(Number.isInteger(batchSize) && batchSize > 0))
    throw new Error(`epochBatches: batchSize must be a positive integer, got ${batchSize}`)
  const order =
    options.shuffle === false
      ? Int32Array.from({ length: n }, (_, i) => i)
      : (permutation(key, n).dataSync() as Int32Array)
  return cutBatches(order, batchSize, options.dropLast ?? true)
}

const cutBatches = (order: Int32Array, batchSize: number, dropLast: boolean): Int32Array[] => {
  const n = order.length
  const count = dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize)
  return Array.from({ length: count }, (_, b) => order.slice(b * batchSize, Math.min(n, (b + 1) * batchSize)))
}

/** Options of the split of a data set into training and validation parts. */
export interface ValidationSplitOptions {
  /** The share of examples held out, in (0, 1). */
  readonly fraction?: number
  /** The number of examples held out (instead of `fraction`). */
  readonly count?: number
  /** Shuffle with this key before splitting; without one, the last examples are held out. */
  readonly key?: Key
}

/** Holds out part of a dataset for validation. */
export function splitValidation<D>(
  data: D,
  options: ValidationSplitOptions,
): { readonly train: D; readonly validation: D } {
  const n = datasetSize(data, 'splitValidation')
  if ((options.fraction === undefined) === (options.count === undefined))
    throw new Error('splitValidation: give exactly one of fraction and count')
  if (options.fraction !== undefined && !(options.fraction > 0 && options.fraction < 1))
    throw new Error(`splitValidation: fraction must lie in (0, 1), got ${options.fraction}`)
  const count = options.count ?? Math.round((options.fraction as number) * n)
  if (!(Number.isInteger(count) && count >= 1 && count <= n - 1))
    throw new Error(`splitValidation: the validation set must hold 1 to ${n - 1} of the ${n} examples, got ${count}`)
  const order =
    options.key === undefined
      ? Int32Array.from({ length: n }, (_, i) => i)
      : (permutation(options.key, n).dataSync() as Int32Array)
  return { train: takeRows(data, order.subarray(0, n - count)), validation: takeRows(data, order.subarray(n - count)) }
}

// ---------------------------------------------------------------- metrics

/** The mean of the numbers (NaN for none). */
export const mean = (xs: readonly number[]): number =>
  xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length

/**
 * The share of rows whose largest logit is at the label (argmax ties go to
 * the first index, as in NumPy).
 */
export async function accuracy(logits: Tensor, labels: Tensor): Promise<number> {
  const [n, classes] = logits.aval.shape
  if (logits.aval.shape.length !== 2)
    throw new Error(`accuracy: logits must have shape [N, C], got ${formatAval(logits.aval)}`)
  if (labels.aval.dtype !== 'i32' || labels.aval.shape.length !== 1 || labels.aval.shape[0] !== n)
    throw new Error(
      `accuracy: labels must be i32 of shape [${n}] to match logits ${formatShape(logits.aval.shape)}, got ${formatAval(labels.aval)}`,
    )
  if (n === 0) throw new Error('accuracy: no examples')
  const [z, y] = await Promise.all([logits.data(), labels.data()])
  let right = 0
  for (let i = 0; i < n; i++) {
    let best = 0
    for (let c = 1; c < classes; c++) if (z[i * classes + c] > z[i * classes + best]) best = c
    if (best === y[i]) right++
  }
  return right / n
}

/**
 * The mean of a per-example figure over a dataset, computed batch by batch in
 * order: `f(batch)` returns the batch's mean (e.g. a jitted loss), and the
 * batches are weighted by their sizes, so the result is the mean over all
 * examples whatever the batch size.
 */
export async function meanOverBatches<D>(
  data: D,
  batchSize: number,
  f: (batch: D) => Promise<number | Tensor> | number | Tensor,
): Promise<number> {
  const n = datasetSize(data, 'meanOverBatches')
  if (!(Number.isInteger(batchSize) && batchSize > 0))
    throw new Error(`meanOverBatches: batchSize must be a positive integer, got ${batchSize}`)
  if (n === 0) throw new Error('meanOverBatches: the dataset has no examples')
  let total = 0
  for (const rows of cutBatches(
    Int32Array.from({ length: n }, (_, i) => i),
    batchSize,
    false,
  )) {
    const value = await f(takeRows(data, rows))
    total += (await scalarValue(value, 'meanOverBatches')) * rows.length
  }
  return total / n
}
async function scalarValue(x: number | Tensor, caller: string): Promise<number> {
  if (typeof x === 'number') return x
  if (!(x instanceof Tensor)) throw new TypeError(`${caller}: expected a number or a scalar tensor, got ${typeof x}`)
  if (x.size !== 1) throw new Error(`${caller}: expected a scalar, got ${formatAval(x.aval)}`)
  return (await x.data())[0]
}

// ---------------------------------------------------------------- early stopping

/** Options of early stopping: the patience, the least improvement and which direction is better. */
export interface EarlyStoppingOptions {
  /** Epochs without improvement before stopping. */
  readonly patience: number
  /** The least change that counts as an improvement (default 0). */
  readonly minDelta?: number
  /** Whether lower (a loss, the default) or higher (an accuracy) is better. */
  readonly mode?: 'min' | 'max'
  /** `fit` returns the best parameters rather than the last (default true). */
  readonly restoreBest?: boolean
}

/** The state of early stopping: the best metric so far, its epoch and parameters, and the epochs since. */
export interface EarlyStoppingState<P> {
  readonly best: number
  /** The epoch (from 1) of the best metric; 0 before any. */
  readonly bestEpoch: number
  readonly bestParams: P | undefined
  /** Epochs since the last improvement. */
  readonly wait: number
  readonly stop: boolean
}

function checkEarlyStopping(options: EarlyStoppingOptions): void {
  if (!(Number.isInteger(options.patience) && options.patience >= 1))
    throw new Error(`earlyStopping: patience must be a positive integer, got ${options.patience}`)
  if (options.minDelta !== undefined && !(options.minDelta >= 0))
    throw new Error(`earlyStopping: minDelta must be non-negative, got ${options.minDelta}`)
  if (options.mode !== undefined && options.mode !== 'min' && options.mode !== 'max')
    throw new Error(`earlyStopping: mode must be 'min' or 'max', got ${String(options.mode)}`)
}

/** The state of early stopping before the first epoch. */
export const earlyStoppingInit = <P>(options: EarlyStoppingOptions): EarlyStoppingState<P> => {
  checkEarlyStopping(options)
  return Object.freeze({
    best: (options.mode ?? 'min') === 'min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY,
    bestEpoch: 0,
    bestParams: undefined,
    wait: 0,
    stop: false,
  })
}

/** Whether `metric` improves on the best so far by more than `minDelta` (NaN never does). */
export function improves(options: EarlyStoppingOptions, state: EarlyStoppingState<unknown>, metric: number): boolean {
  const delta = options.minDelta ?? 0
  return (options.mode ?? 'min') === 'min' ? metric < state.best - delta : metric > state.best + delta
}

/** The state after an epoch that ended with `metric` and `params`. */
export function earlyStoppingUpdate<P>(
  options: EarlyStoppingOptions,
  state: EarlyStoppingState<P>,
  epoch: number,
  metric: number,
  params: P,
): EarlyStoppingState<P> {
  checkEarlyStopping(options)
  if (improves(options, state, metric))
    return Object.freeze({ best: metric, bestEpoch: epoch, bestParams: params, wait: 0, stop: false })
  const wait = state.wait + 1
  return Object.freeze({ ...state, wait, stop: wait >= options.patience })
}

// ---------------------------------------------------------------- fit

/**
 * One optimisation step of `fit`: the parameters, optimiser state and a batch in; the new
 * parameters and state and the batch loss out.
 */
export type StepFn<P, S, D> = (
  params: P,
  state: S,
  batch: D,
) => Promise<readonly [P, S, Tensor | number]> | readonly [P, S, Tensor | number]

/**
 * Options of `fit`: the step, the initial parameters and state, the data, and the epochs,
 * batching, validation and early stopping.
 */
export interface FitOptions<P, S, D> {
  /** One optimisation step on a batch, typically jitted; it returns the new parameters, optimiser state and the batch loss. */
  readonly step: StepFn<P, S, D>
  readonly params: P
  readonly state: S
  readonly train: D
  readonly validation?: D
  /** A figure of merit on the validation data after each epoch (a loss by default; say `mode: 'max'` in `earlyStopping` for an accuracy). */
  readonly evaluate?: (params: P, data: D) => Promise<number | Tensor> | number | Tensor
  /** Its name in progress lines (default 'val'). */
  readonly metricName?: string
  readonly epochs: number
  readonly batchSize: number
  /** The key for the epoch order: epoch e (from 0) shuffles with `foldIn(key, e)`. */
  readonly key: Key
  readonly dropLast?: boolean
  readonly progress?: ProgressReporter
  /** Also read the loss every this many steps, whatever the progress reporter (it is always read at the end of an epoch). */
  readonly readLossEvery?: number
  readonly earlyStopping?: EarlyStoppingOptions
  /** Called after each epoch with the history so far. */
  readonly onEpoch?: (epoch: number, history: FitHistory) => void
  /**
   * Stop with a `NonFiniteError` when a loss is NaN or ±∞, or the parameters
   * hold one at the end of an epoch (default true): the error names the step
   * and the value, and carries the last parameters known to be finite.
   */
  readonly stopOnNonFinite?: boolean
}

/** The record of a `fit`: the loss of every step and epoch, and the validation figures. */
export interface FitHistory {
  /** The training loss of every step, in order. */
  readonly loss: readonly number[]
  /** The size-weighted mean training loss of each epoch. */
  readonly epochLoss: readonly number[]
  /** The validation figure after each epoch (empty without `evaluate`). */
  readonly validation: readonly number[]
  /** The name of the validation figure (`metricName`). */
  readonly metricName: string
  readonly epochs: number
  readonly steps: number
  readonly stepsPerEpoch: number
  /** Early stopping ended the run before `epochs` epochs. */
  readonly stoppedEarly: boolean
  /** The epoch (from 1) of the best validation figure, with early stopping. */
  readonly bestEpoch?: number
}

/** The result of `fit`: the parameters and optimiser state, and the history. */
export interface FitResult<P, S> {
  /** The best parameters with early stopping (and `restoreBest`), else the last. */
  readonly params: P
  readonly lastParams: P
  /** The optimiser state after the last step. */
  readonly state: S
  readonly history: FitHistory
}

/**
 * What `fit` throws when training diverges or the data hold a NaN: the step
 * (from 1) whose loss is not finite, or after which a parameter is not; the
 * value; and the parameters at the end of the last epoch whose losses and
 * parameters were all finite (the initial ones if there was none), as host
 * tensors, with the history up to the step.
 */
export class NonFiniteError<P = unknown> extends Error {
  override readonly name = 'NonFiniteError'
  constructor(
    message: string,
    readonly step: number,
    readonly value: number,
    /** The last parameters known to be finite. */
    readonly params: P,
    /** The epoch (from 0, the initial parameters) after which `params` were recorded. */
    readonly paramsEpoch: number,
    readonly history: FitHistory,
  ) {
    super(message)
  }
}

/** The path and value of the first non-finite element among a pytree's host leaves, or undefined. */
function firstNonFinite(tree: unknown, what: string): { path: string; index: number; value: number } | undefined {
  const [leaves, def] = flatten(tree, what)
  const paths = leafPaths(def)
  for (const [i, x] of leaves.entries()) {
    if (!(x instanceof ConcreteTensor) || !(x.aval.dtype === 'f32' || x.aval.dtype === 'f64')) continue
    const index = x.values.findIndex((v) => !Number.isFinite(v))
    if (index >= 0) return { path: paths[i], index, value: x.values[index] }
  }
  return undefined
}

/**
 * Parameters as host tensors: a later step may donate (reuse) the storage of
 * device parameters, so the best ones are copied out when they are recorded.
 */
async function snapshot<P>(params: P): Promise<P> {
  const [leaves, def] = flatten(params, 'params')
  const host = await Promise.all(
    leaves.map(async (x) => (x instanceof ConcreteTensor ? x : concrete(x.aval.shape, x.aval.dtype, await x.data()))),
  )
  return unflatten(def, host) as P
}

const positiveInteger = (name: string, x: number | undefined) => {
  if (x !== undefined && !(Number.isInteger(x) && x > 0))
    throw new Error(`fit: ${name} must be a positive integer, got ${x}`)
}

/**
 * Trains for `epochs` epochs (fewer with early stopping). The loss tensors a
 * step returns are read back in batches, only when the progress reporter is
 * due, every `readLossEvery` steps and at the end of each epoch, so that the
 * device never waits for the host after each step.
 */
export async function fit<P, S, D>(options: FitOptions<P, S, D>): Promise<FitResult<P, S>> {
  const { step, train, validation, evaluate, epochs, batchSize, key, earlyStopping } = options
  positiveInteger('epochs', epochs)
  positiveInteger('batchSize', batchSize)
  positiveInteger('readLossEvery', options.readLossEvery)
  const progress = options.progress ?? silentProgress
  const metricName = options.metricName ?? 'val'
  const dropLast = options.dropLast ?? true
  const n = datasetSize(train, 'fit (train)')
  if (validation !== undefined) datasetSize(validation, 'fit (validation)')
  if ((validation === undefined) !== (evaluate === undefined))
    throw new Error('fit: validation data and evaluate go together: give both or neither')
  if (earlyStopping !== undefined && evaluate === undefined)
    throw new Error('fit: earlyStopping needs validation data and an evaluate function')
  const stepsPerEpoch = dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize)
  if (stepsPerEpoch === 0)
    throw new Error(`fit: ${n} examples make no full batch of ${batchSize}; lower batchSize or pass dropLast: false`)
  const samplesPerEpoch = dropLast ? stepsPerEpoch * batchSize : n

  let params = options.params
  let state = options.state
  const loss: number[] = []
  const batchSizes: number[] = []
  const epochLoss: number[] = []
  const scores: number[] = []
  let pending: { readonly at: number; readonly value: Tensor }[] = []
  let stopping = earlyStopping === undefined ? undefined : earlyStoppingInit<P>(earlyStopping)
  let samples = 0
  let steps = 0
  let epoch = 0
  const guard = options.stopOnNonFinite ?? true
  // The last parameters known to be finite, on the host (a step may donate the device's): checked at each epoch end.
  let safe = guard ? { params: await snapshot(params), epoch: 0 } : undefined
  /** Losses up to `steps` are read: the first that is not finite stops the run. */
  let checked = 0

  const readPending = async () => {
    if (pending.length === 0) return
    const batch = pending
    pending = []
    const values = await Promise.all(batch.map((p) => scalarValue(p.value, "fit: the step's loss")))
    batch.forEach((p, i) => (loss[p.at] = values[i]))
  }
  const status = (
    epochIndex: number,
    stepInEpoch: number,
    lossValue: number | undefined,
    metrics?: Record<string, number>,
  ): ProgressStatus => ({
    epoch: epochIndex,
    epochs,
    step: stepInEpoch,
    stepsPerEpoch,
    samples,
    totalSamples: samplesPerEpoch * epochs,
    loss: lossValue,
    metrics,
  })
  const history = (): FitHistory => ({
    loss: [...loss],
    epochLoss: [...epochLoss],
    validation: [...scores],
    metricName,
    epochs: epoch,
    steps,
    stepsPerEpoch,
    stoppedEarly: (stopping?.stop ?? false) && epoch < epochs,
    bestEpoch: stopping === undefined || stopping.bestEpoch === 0 ? undefined : stopping.bestEpoch,
  })

  const diverged = (step: number, value: number, what: string): NonFiniteError<P> => {
    const kept = safe as { params: P; epoch: number }
    const since = kept.epoch === 0 ? 'the initial parameters' : `the parameters after epoch ${kept.epoch}`
    return new NonFiniteError(
      `fit: ${what} is ${value} at step ${step} (epoch ${Math.ceil(step / stepsPerEpoch)}); ` +
        `training stopped, and the error's params are ${since}, the last known to be finite. ` +
        'A NaN in the data or a step size too large are the usual causes (stopOnNonFinite: false trains on).',
      step,
      value,
      kept.params,
      kept.epoch,
      { ...history(), loss: loss.slice(0, step), steps: step },
    )
  }
  const checkLosses = () => {
    if (!guard) return
    // Losses still on the device (pending, in step order) are checked once read.
    const read = pending.length > 0 ? pending[0].at : steps
    for (; checked < read; checked++)
      if (!Number.isFinite(loss[checked])) throw diverged(checked + 1, loss[checked], 'the loss')
  }

  while (epoch < epochs && !(stopping?.stop ?? false)) {
    const batches = epochBatches(foldIn(key, epoch), n, batchSize, { dropLast })
    epoch += 1
    const first = steps
    for (let b = 0; b < batches.length; b++) {
      const out = await step(params, state, takeRows(train, batches[b]))
      ;[params, state] = [out[0], out[1]]
      const value = out[2]
      if (typeof value === 'number') loss[steps] = value
      else {
        loss[steps] = Number.NaN
        pending.push({ at: steps, value })
      }
      batchSizes[steps] = batches[b].length
      samples += batches[b].length
      steps += 1
      const show = progress.due(steps)
      if (show || (options.readLossEvery !== undefined && steps % options.readLossEvery === 0)) await readPending()
      checkLosses()
      if (show) progress.update(status(epoch, b + 1, loss[steps - 1]))
    }
    await readPending()
    checkLosses()
    if (guard) {
      const now = await snapshot(params)
      const bad = firstNonFinite(now, 'params')
      if (bad !== undefined)
        throw diverged(steps, bad.value, `${bad.path === '(top)' ? 'params' : `params${bad.path}`}[${bad.index}]`)
      safe = { params: now, epoch }
    }
    let weighted = 0
    let count = 0
    for (let i = first; i < steps; i++) {
      weighted += loss[i] * batchSizes[i]
      count += batchSizes[i]
    }
    epochLoss.push(weighted / count)
    const metrics: Record<string, number> = {}
    if (evaluate !== undefined && validation !== undefined) {
      const score = await scalarValue(await evaluate(params, validation), 'fit: evaluate')
      scores.push(score)
      metrics[metricName] = score
      if (earlyStopping !== undefined && stopping !== undefined) {
        const best = improves(earlyStopping, stopping, score) ? (safe?.params ?? (await snapshot(params))) : params
        stopping = earlyStoppingUpdate(earlyStopping, stopping, epoch, score, best)
      }
    }
    progress.epochEnd(status(epoch, batches.length, epochLoss[epoch - 1], metrics))
    options.onEpoch?.(epoch, history())
  }
  const last = history()
  progress.finish(
    status(
      epoch,
      stepsPerEpoch,
      last.epochLoss[epoch - 1],
      scores.length > 0 ? { [metricName]: scores[scores.length - 1] } : undefined,
    ),
    steps,
  )
  const restore =
    earlyStopping !== undefined && (earlyStopping.restoreBest ?? true) && stopping?.bestParams !== undefined
  return { params: restore ? (stopping?.bestParams as P) : params, lastParams: params, state, history: last }
}

/**
 * A history as chart series, on a common x axis of steps: the loss of every
 * step and the mean loss of each epoch (placed at the epoch's last step), and
 * the validation figure per epoch, for `plot.lineChart`, e.g.
 * `sideBySide([lineChart({ series: loss, logY: true }), lineChart({ series: validation })])`.
 */
export function historySeries(history: FitHistory): { readonly loss: Series[]; readonly validation: Series[] } {
  const ends = history.epochLoss.map((_, e) => (e + 1) * history.stepsPerEpoch)
  return {
    loss: [
      { name: 'loss', y: history.loss },
      { name: 'epoch mean loss', x: ends, y: history.epochLoss, dashed: true },
    ],
    validation:
      history.validation.length === 0
        ? []
        : [{ name: history.metricName, x: ends.slice(0, history.validation.length), y: history.validation }],
  }
}
