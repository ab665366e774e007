import { describe, expect, it } from 'vitest'
import {
  etaSeconds,
  fitToWidth,
  formatCount,
  formatDuration,
  formatProgressLine,
  formatSummary,
  formatValue,
  progressBar,
  progressReporter,
  type ProgressStatus,
  type ProgressView,
} from '../src/train/progress.ts'

/** ESC, which starts the terminal's control sequences (ESC [K erases to the end of the line). */
const ESC = '\u001b'

const view = (over: Partial<ProgressView> = {}): ProgressView => ({
  epoch: 2,
  epochs: 10,
  step: 120,
  stepsPerEpoch: 500,
  samples: 19840,
  totalSamples: 160000,
  loss: 0.43214,
  elapsedSeconds: 30,
  samplesPerSecond: 1234,
  ...over,
})

describe('progress formatting', () => {
  it('formats durations', () => {
    expect(formatDuration(0)).toBe('0:00')
    expect(formatDuration(65.4)).toBe('1:05')
    expect(formatDuration(3723)).toBe('1:02:03')
    expect(formatDuration(Number.NaN)).toBe('--:--')
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('--:--')
  })
  it('formats counts with SI suffixes and values with four digits', () => {
    expect([950, 1234, 45600, 7.89e6, 12.345, 0].map(formatCount)).toEqual([
      '950',
      '1.23k',
      '45.6k',
      '7.89M',
      '12.3',
      '0',
    ])
    expect(formatCount(Number.NaN)).toBe('?')
    expect([0.43214, 12.5, 1e-5, 2.5e7, 0, Number.NaN, Number.POSITIVE_INFINITY].map(formatValue)).toEqual([
      '0.4321',
      '12.50',
      '1.000e-5',
      '2.500e+7',
      '0',
      'NaN',
      'inf',
    ])
  })
  it('draws bars of a fixed width in eighths of a cell', () => {
    expect(progressBar(0, 4)).toBe('▕    ▏')
    expect(progressBar(1, 4)).toBe('▕████▏')
    expect(progressBar(0.5, 10)).toBe('▕█████     ▏')
    expect(progressBar(0.55, 10)).toBe('▕█████▌    ▏')
    expect(progressBar(2, 3)).toBe('▕███▏')
    expect(progressBar(Number.NaN, 3)).toBe('▕   ▏')
    for (let f = 0; f <= 1; f += 0.01) expect(Array.from(progressBar(f, 12)).length).toBe(14)
  })
  it('estimates the time left from the throughput', () => {
    expect(etaSeconds(view({ samples: 1000, totalSamples: 3000, samplesPerSecond: 100 }))).toBe(20)
    expect(etaSeconds(view({ samplesPerSecond: Number.NaN }))).toBeNaN()
  })
  it('formats a progress line with and without a bar', () => {
    expect(formatProgressLine(view(), 10)).toBe(
      'epoch  2/10 ▕██▍       ▏ 120/500 loss 0.4321 · 1.23k samples/s · ETA 1:54',
    )
    expect(formatProgressLine(view({ metrics: { 'val acc': 0.9712 } }), 0)).toBe(
      'epoch  2/10 step 120/500 loss 0.4321 val acc 0.9712 · 1.23k samples/s · ETA 1:54',
    )
    expect(formatProgressLine(view({ loss: undefined, samplesPerSecond: Number.NaN }), 0)).toBe(
      'epoch  2/10 step 120/500 · ? samples/s · ETA --:--',
    )
  })
  it('formats the final summary', () => {
    expect(
      formatSummary(
        view({ epoch: 10, samples: 160000, elapsedSeconds: 65, loss: 0.1234, metrics: { val: 0.25 } }),
        5000,
      ),
    ).toBe('done: 10 epochs, 5000 steps, 160k samples in 1:05 (2.46k samples/s), loss 0.1234, val 0.2500')
    expect(formatSummary(view({ epoch: 1, samples: 10, elapsedSeconds: 0, loss: undefined }), 1)).toBe(
      'done: 1 epoch, 1 steps, 10 samples in 0:00 (? samples/s)',
    )
  })
  it('cuts lines to the terminal width', () => {
    expect(fitToWidth('abcdef', 10)).toBe('abcdef')
    expect(fitToWidth('abcdef', 4)).toBe('abc…')
    expect(fitToWidth('▕██▏xyz', 4)).toBe('▕██…')
  })
})

/** A stream and a clock under the test's control. */
function harness(isTTY: boolean, columns = 200) {
  const writes: string[] = []
  let now = 0
  return {
    writes,
    stream: { write: (s: string) => writes.push(s), isTTY, columns },
    clock: () => now,
    advance: (ms: number) => (now += ms),
  }
}
const status = (step: number, over: Partial<ProgressStatus> = {}): ProgressStatus => ({
  epoch: 1 + Math.floor((step - 1) / 10),
  epochs: 2,
  step: ((step - 1) % 10) + 1,
  stepsPerEpoch: 10,
  samples: step * 32,
  totalSamples: 640,
  loss: 1 / step,
  ...over,
})

describe('progress reporter on a terminal', () => {
  it('redraws one line in place at most every redrawMs, keeps a line per epoch, and ends with a summary', () => {
    const h = harness(true)
    const p = progressReporter({ stream: h.stream, clock: h.clock, redrawMs: 100, barWidth: 10 })
    expect(p.due(1)).toBe(true)
    h.advance(2000) // the first step compiles
    p.update(status(1))
    expect(h.writes).toHaveLength(1)
    // Before a second update the throughput is the overall one: 32 samples in 2 s; 608 left: 38 s.
    expect(h.writes[0]).toBe('\repoch 1/2 ▕█         ▏  1/10 loss 1.000 · 16 samples/s · ETA 0:38\x1b[K')
    h.advance(50)
    expect(p.due(2)).toBe(false)
    h.advance(50)
    expect(p.due(2)).toBe(true)
    p.update(status(2))
    // 32 samples in the 0.1 s since the first update: 320 samples/s; 576 left: 1.8 s.
    expect(h.writes[1]).toBe('\repoch 1/2 ▕██        ▏  2/10 loss 0.5000 · 320 samples/s · ETA 0:02\x1b[K')
    h.advance(10)
    p.epochEnd(status(10, { metrics: { val: 0.25 } }))
    expect(h.writes[2]).toMatch(
      new RegExp(
        String.raw`^\repoch 1\/2 ▕██████████▏ 10\/10 loss 0\.1000 val 0\.2500 · .* samples\/s · ETA .*${ESC}\[K\n$`,
      ),
    )
    p.update(status(11))
    p.finish(status(20), 20)
    expect(h.writes[4]).toMatch(
      new RegExp(
        String.raw`^\rdone: 2 epochs, 20 steps, 640 samples in 0:02 \(\d+ samples\/s\), loss 0\.05000${ESC}\[K\n$`,
      ),
    )
  })
  it('fits the line to the terminal width', () => {
    const h = harness(true, 40)
    const p = progressReporter({ stream: h.stream, clock: h.clock })
    p.update(status(3))
    const line = h.writes[0].replace(/^\r/, '').replace(new RegExp(String.raw`${ESC}\[K$`), '')
    expect(Array.from(line)).toHaveLength(39)
    expect(line.endsWith('…')).toBe(true)
  })
})

describe('progress reporter writing plain lines', () => {
  it('prints at most one line per interval, one per epoch, and always a final line', () => {
    const h = harness(false)
    const p = progressReporter({ stream: h.stream, clock: h.clock, intervalMs: 5000 })
    expect(p.due(1)).toBe(true)
    p.update(status(1))
    h.advance(4999)
    expect(p.due(2)).toBe(false)
    h.advance(1)
    expect(p.due(2)).toBe(true)
    p.update(status(2))
    p.epochEnd(status(10))
    p.finish(status(20), 20)
    expect(h.writes).toHaveLength(4)
    for (const w of h.writes) {
      expect(w.endsWith('\n')).toBe(true)
      expect(w).not.toMatch(new RegExp(String.raw`\r|${ESC}|▕`))
    }
    expect(h.writes[0]).toBe('epoch 1/2 step  1/10 loss 1.000 · ? samples/s · ETA --:--\n')
    expect(h.writes[3]).toMatch(/^done: 2 epochs, 20 steps, 640 samples in 0:05 \(128 samples\/s\), loss 0\.05000\n$/)
  })
  it('prints every N steps when asked, whatever the time', () => {
    const h = harness(false)
    const p = progressReporter({ stream: h.stream, clock: h.clock, everySteps: 3 })
    const shown: number[] = []
    for (let step = 1; step <= 10; step++)
      if (p.due(step)) {
        shown.push(step)
        p.update(status(step))
      }
    expect(shown).toEqual([3, 6, 9])
    expect(() => progressReporter({ stream: h.stream, everySteps: 0 })).toThrow(
      'progressReporter: everySteps must be a positive integer, got 0',
    )
  })
  it('writes a final line even when nothing else was shown', () => {
    const h = harness(false)
    const p = progressReporter({ stream: h.stream, clock: h.clock, everySteps: 1000 })
    expect(p.due(1)).toBe(false)
    p.finish(status(1), 1)
    expect(h.writes).toEqual(['done: 1 epoch, 1 steps, 32 samples in 0:00 (? samples/s), loss 1.000\n'])
  })
})
