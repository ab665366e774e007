/**
 * Progress of a long loop. The formatting is pure (a status in, a line out);
 * a reporter decides when to show it and writes to an injected stream with
 * an injected clock:
 *  - on a terminal, one line redrawn in place at most every `redrawMs`
 *    (a bar, epoch and step of the total, loss, samples/s, ETA), and a line
 *    that stays at the end of each epoch;
 *  - elsewhere (a log file, CI), plain lines: one every `everySteps` steps if
 *    given, else at most one every `intervalMs`, one per epoch, and always a
 *    final line.
 *
 * A training loop asks `due(step)` before reading the loss back (a read
 * forces the device to finish its queued work), so the reporting rate is
 * also the rate of synchronisation.
 */

/** Where a training loop stands. Steps and epochs count from 1 once done. */
export interface ProgressStatus {
  readonly epoch: number
  readonly epochs: number
  /** Steps done in this epoch. */
  readonly step: number
  readonly stepsPerEpoch: number
  /** Examples processed since the start, over all epochs. */
  readonly samples: number
  readonly totalSamples: number
  /** The latest training loss read, if any. */
  readonly loss?: number
  /** Other figures to show, e.g. `{ 'val acc': 0.97 }`. */
  readonly metrics?: Readonly<Record<string, number>>
}

/** A status with the measurements a reporter adds to it. */
export interface ProgressView extends ProgressStatus {
  readonly elapsedSeconds: number
  /** Throughput; NaN while unknown. */
  readonly samplesPerSecond: number
}

// ---------------------------------------------------------------- pure formatting

/** `m:ss` below an hour, `h:mm:ss` above, `--:--` when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--'
  const s = Math.round(seconds)
  const two = (n: number) => String(n).padStart(2, '0')
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`
}

/** Three significant digits with an SI suffix: 950, 1.23k, 45.6k, 7.89M. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '?'
  const units: readonly [number, string][] = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ]
  for (const [scale, suffix] of units) if (Math.abs(n) >= scale) return `${Number((n / scale).toPrecision(3))}${suffix}`
  return Math.abs(n) >= 100 ? n.toFixed(0) : String(Number(n.toPrecision(3)))
}

/** A loss or metric: four significant digits, exponent notation when far from 1. */
export function formatValue(x: number): string {
  if (Number.isNaN(x)) return 'NaN'
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf'
  if (x === 0) return '0'
  const a = Math.abs(x)
  return a < 1e-3 || a >= 1e5 ? x.toExponential(3) : x.toPrecision(4)
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉']

/** A bar of `width` cells filled to `fraction` (clamped to [0, 1]), in eighths of a cell. */
export function progressBar(fraction: number, width: number): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0
  const eighths = Math.round(f * width * 8)
  const full = Math.floor(eighths / 8)
  const part = EIGHTHS[eighths % 8]
  return `▕${'█'.repeat(full)}${part}${' '.repeat(width - full - (part === '' ? 0 : 1))}▏`
}

/** Seconds left at the current throughput; NaN while unknown. */
export const etaSeconds = (v: ProgressView): number =>
  v.samplesPerSecond > 0 ? Math.max(0, v.totalSamples - v.samples) / v.samplesPerSecond : Number.NaN

const padTo = (s: string, n: number) => s.padStart(n)

/**
 * One line of progress: `epoch 2/10 ▕███▌   ▏ 120/500 loss 0.4321 · 1.23k samples/s · ETA 0:42`.
 * `barWidth` 0 gives the plain form without a bar (for logs).
 */
export function formatProgressLine(v: ProgressView, barWidth = 20): string {
  const digits = String(v.stepsPerEpoch).length
  const parts = [`epoch ${padTo(String(v.epoch), String(v.epochs).length)}/${v.epochs}`]
  if (barWidth > 0)
    parts.push(
      progressBar(v.stepsPerEpoch > 0 ? v.step / v.stepsPerEpoch : 0, barWidth),
      `${padTo(String(v.step), digits)}/${v.stepsPerEpoch}`,
    )
  else parts.push(`step ${padTo(String(v.step), digits)}/${v.stepsPerEpoch}`)
  if (v.loss !== undefined) parts.push(`loss ${formatValue(v.loss)}`)
  for (const [name, value] of Object.entries(v.metrics ?? {})) parts.push(`${name} ${formatValue(value)}`)
  const tail = [`${formatCount(v.samplesPerSecond)} samples/s`, `ETA ${formatDuration(etaSeconds(v))}`]
  return `${parts.join(' ')} · ${tail.join(' · ')}`
}

/** The final line: `done: 10 epochs, 5000 steps, 160k samples in 1:05 (2.46k samples/s), loss 0.1234, val acc 0.9712`. */
export function formatSummary(v: ProgressView, steps: number): string {
  const rate = v.elapsedSeconds > 0 ? v.samples / v.elapsedSeconds : Number.NaN
  const figures = [
    ...(v.loss === undefined ? [] : [`loss ${formatValue(v.loss)}`]),
    ...Object.entries(v.metrics ?? {}).map(([name, value]) => `${name} ${formatValue(value)}`),
  ]
  const epochs = `${v.epoch} epoch${v.epoch === 1 ? '' : 's'}`
  return `done: ${epochs}, ${steps} steps, ${formatCount(v.samples)} samples in ${formatDuration(v.elapsedSeconds)} (${formatCount(rate)} samples/s)${figures.length > 0 ? `, ${figures.join(', ')}` : ''}`
}

/** Cuts a line to `columns` characters (code points), marking the cut with '…'. */
export function fitToWidth(line: string, columns: number): string {
  const chars = Array.from(line)
  return chars.length <= columns ? line : `${chars.slice(0, Math.max(0, columns - 1)).join('')}…`
}

// ---------------------------------------------------------------- the reporter

/** What a reporter writes to: a Node stream (`process.stderr`) or anything like it. */
export interface ProgressStream {
  write(chunk: string): unknown
  readonly isTTY?: boolean
  readonly columns?: number
}

/** Shows the progress of a training loop: what `progress` returns and the loop calls. */
export interface ProgressReporter {
  /** Whether an update after `step` steps in all would be shown now (the loop reads the loss only then). */
  due(step: number): boolean
  /** Shows the status (redrawn on a terminal, a line elsewhere). */
  update(status: ProgressStatus): void
  /** A line that stays, for the end of an epoch. */
  epochEnd(status: ProgressStatus): void
  /** The final line; `steps` is the number of steps run in all. */
  finish(status: ProgressStatus, steps: number): void
}

/** Options of `progress`: where it writes and its clock. */
export interface ProgressOptions {
  /** Default: `process.stderr` in Node, else lines to `console.log`. */
  readonly stream?: ProgressStream
  /** Milliseconds, monotonic; default `performance.now`. */
  readonly clock?: () => number
  /** Redraw in place; default: the stream's `isTTY`. */
  readonly tty?: boolean
  /** Terminal: the least time between redraws (default 100 ms). */
  readonly redrawMs?: number
  /** Plain lines: the least time between lines (default 5 s) when `everySteps` is not given. */
  readonly intervalMs?: number
  /** Plain lines: one every this many steps instead of by time. */
  readonly everySteps?: number
  /** Bar width in cells on a terminal (default 20). */
  readonly barWidth?: number
}

const defaultStream = (): ProgressStream => {
  const stderr = typeof process === 'undefined' ? undefined : process.stderr
  if (stderr !== undefined) return stderr
  return { write: (chunk: string) => console.log(chunk.replace(/\n$/, '')), isTTY: false }
}

/**
 * A reporter for `fit` or any loop of the same shape. Throughput is measured
 * from the first update on, so that the first step (which compiles a jitted
 * function) does not drag the figure down for the rest of the run.
 */
export function progressReporter(options: ProgressOptions = {}): ProgressReporter {
  const stream = options.stream ?? defaultStream()
  const clock = options.clock ?? (() => performance.now())
  const tty = options.tty ?? stream.isTTY === true
  const redrawMs = options.redrawMs ?? 100
  const intervalMs = options.intervalMs ?? 5000
  const everySteps = options.everySteps
  if (everySteps !== undefined && !(Number.isInteger(everySteps) && everySteps > 0))
    throw new Error(`progressReporter: everySteps must be a positive integer, got ${everySteps}`)
  const barWidth = options.barWidth ?? 20
  const started = clock()
  let lastShown = Number.NEGATIVE_INFINITY
  let lastStep = 0
  let first: { time: number; samples: number } | undefined
  let drawn = false

  const view = (s: ProgressStatus): ProgressView => {
    const now = clock()
    first ??= { time: now, samples: s.samples }
    const since = (now - first.time) / 1000
    const elapsedSeconds = (now - started) / 1000
    const samplesPerSecond =
      since > 0 ? (s.samples - first.samples) / since : elapsedSeconds > 0 ? s.samples / elapsedSeconds : Number.NaN
    return { ...s, elapsedSeconds, samplesPerSecond }
  }
  const width = () => Math.max(20, (stream.columns ?? 100) - 1)
  const line = (s: ProgressStatus, bar: boolean) => {
    const text = formatProgressLine(view(s), bar ? barWidth : 0)
    return bar ? fitToWidth(text, width()) : text
  }

  return {
    due(step) {
      if (tty) return clock() - lastShown >= redrawMs
      if (everySteps !== undefined) return step - lastStep >= everySteps
      return clock() - lastShown >= intervalMs
    },
    update(s) {
      const step = (s.epoch - 1) * s.stepsPerEpoch + s.step
      lastShown = clock()
      lastStep = step
      if (tty) {
        stream.write(`\r${line(s, true)}\x1b[K`)
        drawn = true
      } else stream.write(`${line(s, false)}\n`)
    },
    epochEnd(s) {
      lastShown = clock()
      lastStep = (s.epoch - 1) * s.stepsPerEpoch + s.step
      stream.write(tty ? `\r${line(s, true)}\x1b[K\n` : `${line(s, false)}\n`)
      drawn = false
    },
    finish(s, steps) {
      const text = formatSummary(view(s), steps)
      stream.write(tty && drawn ? `\r${text}\x1b[K\n` : `${text}\n`)
      drawn = false
    },
  }
}

/** A reporter that shows nothing and is never due (the loop then reads the loss only at epoch ends). */
export const silentProgress: ProgressReporter = {
  due: () => false,
  update: () => undefined,
  epochEnd: () => undefined,
  finish: () => undefined,
}
