import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { tensor } from '../src/index.ts'
import {
  chartLayout,
  colorOf,
  formatTick,
  heatmap,
  lineChart,
  logTicks,
  niceDomain,
  niceStep,
  niceTicks,
  scale,
  sideBySide,
  svgSize,
  writeSvg,
} from '../src/plot/svg.ts'
import { assertProperty } from './lib/property.ts'
import { all, decodeEntities, type Element, parseXml } from './lib/xml.ts'

const texts = (e: Element) => all(e, 'text').map((t) => decodeEntities(t.text))
const seriesPath = (svg: Element, name: string) => {
  const g = all(svg, 'g').find((x) => x.attrs.class === 'series' && x.attrs['data-name'] === name)
  if (g === undefined) throw new Error(`no series ${name}`)
  return g
}
/** The subpaths of an SVG path: each a list of [x, y]. */
const subpaths = (d: string): number[][][] =>
  d
    .split('M')
    .filter((s) => s.trim() !== '')
    .map((s) => s.split('L').map((p) => p.trim().split(/\s+/).map(Number)))

describe('ticks and scales', () => {
  it('chooses 1, 2 and 5 steps', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1])
    expect(niceTicks(0, 100)).toEqual([0, 20, 40, 60, 80, 100])
    expect(niceTicks(-1, 1)).toEqual([-1, -0.5, 0, 0.5, 1])
    expect(niceTicks(0.1, 0.35)).toEqual([0.1, 0.15, 0.2, 0.25, 0.3, 0.35])
    expect(niceTicks(3, 97)).toEqual([20, 40, 60, 80])
    expect(niceTicks(0, 7000, 4)).toEqual([0, 2000, 4000, 6000])
    expect(niceStep(0, 1e-6)).toBeCloseTo(2e-7, 20)
    expect(niceDomain(3, 97)).toEqual([0, 100])
    expect(niceDomain(0.013, 0.0871)).toEqual([0, 0.1])
    expect(niceDomain(5, 5)).toEqual([4.4, 5.6])
    expect(niceTicks(2, 2)).toEqual([2])
    expect(() => niceTicks(1, Number.NaN)).toThrow('niceTicks: expected a finite interval, got [1, NaN]')
  })
  it('gives 2 to 6 evenly spaced round ticks inside any interval', () => {
    assertProperty(
      fc.property(
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 1e-3, max: 1e6, noNaN: true }),
        (lo, width) => {
          const hi = lo + width
          fc.pre(hi > lo)
          const ticks = niceTicks(lo, hi)
          expect(ticks.length).toBeGreaterThanOrEqual(2)
          expect(ticks.length).toBeLessThanOrEqual(6)
          const step = niceStep(lo, hi)
          expect([1, 2, 5, 10]).toContain(Number((step / 10 ** Math.floor(Math.log10(step))).toPrecision(6)))
          ticks.forEach((t, i) => {
            expect(t).toBeGreaterThanOrEqual(lo - step * 1e-6)
            expect(t).toBeLessThanOrEqual(hi + step * 1e-6)
            if (i > 0) expect(t - ticks[i - 1]).toBeCloseTo(step, 6)
            expect(String(t).length).toBeLessThan(20) // no 0.30000000000000004
          })
        },
      ),
    )
  })
  it('puts log ticks on powers of ten, with 2 and 5 over few decades', () => {
    expect(logTicks(1e-3, 10)).toEqual([0.001, 0.01, 0.1, 1, 10])
    expect(logTicks(1, 100)).toEqual([1, 2, 5, 10, 20, 50, 100])
    expect(() => logTicks(0, 1)).toThrow('logTicks: expected 0 < min ≤ max, got [0, 1]')
  })
  it('formats tick labels from the step', () => {
    expect([0, 0.2, 1].map((t) => formatTick(t, 0.2))).toEqual(['0', '0.2', '1.0'])
    expect(formatTick(2e-5)).toBe('2e-5')
    expect(formatTick(1234567)).toBe('1.23e6')
    expect(formatTick(250, 50)).toBe('250')
  })
  it('maps domains onto ranges, linearly or in log10', () => {
    const s = scale([0, 10], [100, 300])
    expect([s(0), s(5), s(10)]).toEqual([100, 200, 300])
    const l = scale([1, 100], [200, 0], true)
    expect([l(1), l(10), l(100)]).toEqual([200, 100, 0])
  })
})

describe('lineChart', () => {
  const fixed = {
    width: 300,
    height: 200,
    margin: { top: 10, right: 10, bottom: 10, left: 10 },
    xDomain: [0, 10] as const,
    yDomain: [0, 100] as const,
  }

  it('is well-formed, with title, axis labels, ticks and a legend', () => {
    const svg = lineChart({
      title: 'Training <loss> & "accuracy"',
      xLabel: 'step',
      yLabel: 'loss',
      series: [
        { name: 'train', y: [1, 0.6, 0.4, 0.3] },
        { name: "val's", y: [1.1, 0.8, 0.7, 0.72], dashed: true },
      ],
    })
    const root = parseXml(svg)
    expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg')
    const words = texts(root)
    expect(words).toContain('Training <loss> & "accuracy"')
    expect(words).toEqual(
      expect.arrayContaining(['step', 'loss', 'train', "val's", '0', '0.2', '0.4', '0.6', '0.8', '1.0', '1.2']),
    )
    expect(all(root, 'g').filter((g) => g.attrs.class === 'legend')).toHaveLength(1)
    expect(all(root, 'path')).toHaveLength(2)
  })

  it('maps points to the documented pixel coordinates', () => {
    const svg = parseXml(lineChart({ ...fixed, series: [{ name: 'a', x: [0, 5, 10], y: [0, 50, 100] }] }))
    // plot area: left 10, top 10, 280 × 180
    expect(subpaths(all(seriesPath(svg, 'a'), 'path')[0].attrs.d)).toEqual([
      [
        [10, 190],
        [150, 100],
        [290, 10],
      ],
    ])
    const layout = chartLayout({ ...fixed, series: [{ name: 'a', y: [1] }] })
    expect([layout.left, layout.top, layout.width, layout.height]).toEqual([10, 10, 280, 180])
    expect(layout.x(2.5)).toBe(80)
    expect(layout.y(25)).toBe(145)
  })

  it('draws a log-scale y axis', () => {
    const svg = parseXml(
      lineChart({ ...fixed, yDomain: [1, 100], logY: true, series: [{ name: 'a', x: [0, 5, 10], y: [1, 10, 100] }] }),
    )
    expect(subpaths(all(seriesPath(svg, 'a'), 'path')[0].attrs.d)).toEqual([
      [
        [10, 190],
        [150, 100],
        [290, 10],
      ],
    ])
    expect(texts(svg)).toEqual(expect.arrayContaining(['1', '2', '5', '10', '20', '50', '100']))
    const auto = chartLayout({ logY: true, series: [{ name: 'a', y: [0.02, 0.5, 3] }] })
    expect(auto.y.domain).toEqual([0.01, 10])
    expect(auto.yTicks).toEqual([0.01, 0.1, 1, 10])
  })

  it('skips NaN, infinite (and, on a log scale, non-positive) points, breaking the line', () => {
    const y = [10, Number.NaN, 30, 40, Number.POSITIVE_INFINITY, 60, 70]
    const svg = lineChart({ ...fixed, series: [{ name: 'a', y }] })
    expect(svg).not.toMatch(/NaN|Infinity/)
    const root = parseXml(svg)
    const g = seriesPath(root, 'a')
    const px = (i: number) => 10 + i * 28
    const py = (v: number) => 190 - v * 1.8
    expect(subpaths(all(g, 'path')[0].attrs.d)).toEqual([
      [[px(0), py(10)]],
      [
        [px(2), py(30)],
        [px(3), py(40)],
      ],
      [
        [px(5), py(60)],
        [px(6), py(70)],
      ],
    ])
    // the lone point between two gaps is still visible
    expect(all(g, 'circle').map((c) => [Number(c.attrs.cx), Number(c.attrs.cy)])).toEqual([[px(0), py(10)]])
    const log = parseXml(lineChart({ logY: true, series: [{ name: 'b', y: [1, 0, -1, 10, 100] }] }))
    expect(subpaths(all(seriesPath(log, 'b'), 'path')[0].attrs.d).map((s) => s.length)).toEqual([1, 2])
  })

  it('rejects empty input with a clear error', () => {
    expect(() => lineChart({ series: [] })).toThrow('lineChart: no series to draw')
    expect(() => lineChart({ series: [{ name: 'loss', y: [] }] })).toThrow("lineChart: series 'loss' has no points")
    expect(() => lineChart({ series: [{ name: 'loss', y: [Number.NaN, Number.POSITIVE_INFINITY] }] })).toThrow(
      "lineChart: series 'loss' has no finite points to draw (2 points, all NaN or infinite)",
    )
    expect(() => lineChart({ logY: true, series: [{ name: 'acc', y: [0, -1] }] })).toThrow(
      "series 'acc' has no positive finite points",
    )
    expect(() => lineChart({ series: [{ name: 'loss', y: [1, 2], x: [0] }] })).toThrow(
      "lineChart: series 'loss' has 1 x values but 2 y values",
    )
    expect(() => lineChart({ width: 50, series: [{ name: 'a', y: [1] }] })).toThrow(
      'lineChart: a 50×400 chart leaves no room for the plot inside its margins',
    )
  })

  it('draws a single point and a flat line', () => {
    expect(() => parseXml(lineChart({ series: [{ name: 'a', y: [3] }] }))).not.toThrow()
    const flat = chartLayout({ series: [{ name: 'a', y: [2, 2, 2] }] })
    expect(flat.y.domain[0]).toBeLessThan(2)
    expect(flat.y.domain[1]).toBeGreaterThan(2)
  })
})

describe('heatmap', () => {
  it('draws one cell per value in the right place and colour, NaN left blank', () => {
    const svg = heatmap({
      values: [
        [0, 0.5, 1],
        [1, Number.NaN, 0],
      ],
      colors: 'grey',
      cellSize: 10,
      domain: [0, 1],
      colorBar: false,
    })
    const root = parseXml(svg)
    const cells = all(root, 'g').find((g) => g.attrs.class === 'cells')!.children
    expect(cells).toHaveLength(5)
    const at = cells.map((c) => [Number(c.attrs.x), Number(c.attrs.y), c.attrs.fill])
    const [x0, y0] = [at[0][0] as number, at[0][1] as number]
    expect(at).toEqual([
      [x0, y0, '#000000'],
      [x0 + 10, y0, '#808080'],
      [x0 + 20, y0, '#ffffff'],
      [x0, y0 + 10, '#ffffff'],
      [x0 + 20, y0 + 10, '#000000'],
    ])
    expect(cells.every((c) => c.attrs.width === '10' && c.attrs.height === '10')).toBe(true)
  })

  it('shows labels, a title and a colour bar with nice ticks', () => {
    const attention = Array.from({ length: 4 }, (_, i) =>
      Array.from({ length: 4 }, (_, j) => (j <= i ? 1 / (i + 1) : 0)),
    )
    const root = parseXml(
      heatmap({
        values: attention,
        title: 'attention',
        rowLabels: ['the', 'cat', 'sat', '<eos>'],
        colLabels: ['the', 'cat', 'sat', '<eos>'],
      }),
    )
    expect(texts(root)).toEqual(expect.arrayContaining(['attention', '<eos>', 'cat', '0', '0.5', '1.0']))
    expect(all(root, 'linearGradient')).toHaveLength(1)
    expect(all(root, 'stop')[0].attrs['stop-color']).toBe(colorOf('viridis', 1))
  })

  it('takes tensors and row-major values, and centres the diverging map on 0', () => {
    const fromTensor = heatmap({
      values: tensor([
        [-2, 1],
        [0, 2],
      ]),
      colors: 'diverging',
      cellSize: 5,
      colorBar: false,
    })
    const fills = all(parseXml(fromTensor), 'rect')
      .filter((r) => r.attrs.width === '5')
      .map((r) => r.attrs.fill)
    expect(fills).toEqual([
      colorOf('diverging', 0),
      colorOf('diverging', 0.75),
      colorOf('diverging', 0.5),
      colorOf('diverging', 1),
    ])
    const digit = heatmap({
      values: { rows: 28, cols: 28, data: new Float32Array(784).fill(0.5) },
      colors: 'grey',
      colorBar: false,
    })
    expect(all(parseXml(digit), 'g').find((g) => g.attrs.class === 'cells')!.children).toHaveLength(784)
  })

  it('rejects malformed matrices', () => {
    expect(() => heatmap({ values: [] })).toThrow('heatmap: the matrix is empty (0×0)')
    expect(() => heatmap({ values: [[1, 2], [3]] })).toThrow('heatmap: row 1 has 1 values, expected 2 like row 0')
    expect(() => heatmap({ values: tensor([1, 2, 3]) })).toThrow('heatmap: expected a matrix (rank 2), got shape [3]')
    expect(() => heatmap({ values: { rows: 2, cols: 2, data: [1, 2, 3] } })).toThrow(
      'heatmap: 2×2 needs 4 values, got 3',
    )
    expect(() => heatmap({ values: [[1, 2]], rowLabels: ['a', 'b'] })).toThrow(
      'heatmap: rowLabels has 2 labels for 1 rows',
    )
  })
})

describe('figures', () => {
  it('sets panels side by side with unique ids', () => {
    const a = lineChart({ width: 300, height: 200, series: [{ name: 'a', y: [1, 2] }] })
    const b = lineChart({ width: 300, height: 250, series: [{ name: 'b', y: [2, 1] }] })
    const c = heatmap({
      values: [
        [1, 2],
        [3, 4],
      ],
      cellSize: 20,
    })
    const fig = sideBySide([a, b, c], { columns: 2, gap: 10, title: 'panels' })
    const root = parseXml(fig)
    const ids = all(root, 'clipPath')
      .map((e) => e.attrs.id)
      .concat(all(root, 'linearGradient').map((e) => e.attrs.id))
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids).toHaveLength(3)
    const panels = root.children.filter((e) => e.name === 'svg')
    expect(panels.map((p) => [Number(p.attrs.x), Number(p.attrs.y)])).toEqual([
      [10, 34],
      [320, 34],
      [10, 294],
    ])
    const size = svgSize(fig)
    expect(size.width).toBe(10 + 300 + 10 + 300 + 10)
    expect(size.height).toBe(34 + 250 + 10 + svgSize(c).height + 10)
    // every url(#…) points at an id of the figure
    for (const [, ref] of fig.matchAll(/url\(#([^)]+)\)/g)) expect(ids).toContain(ref)
    expect(() => sideBySide([])).toThrow('sideBySide: no panels to arrange')
    expect(() => sideBySide(['<g/>'])).toThrow(/sideBySide: expected an <svg width/)
  })

  it('writes an SVG file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adjoint-plot-'))
    try {
      const path = join(dir, 'loss.svg')
      await writeSvg(path, lineChart({ series: [{ name: 'loss', y: [3, 2, 1] }] }))
      const written = await readFile(path, 'utf8')
      expect(written.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg')).toBe(true)
      expect(() => parseXml(written)).not.toThrow()
      await expect(writeSvg(path, 'not svg')).rejects.toThrow(
        'writeSvg: expected SVG text starting with <svg, got "not svg"',
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
