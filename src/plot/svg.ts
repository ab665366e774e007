/**
 * Charts as SVG text: pure functions from data to a string, no DOM. A line
 * chart (training curves: several named series, "nice" ticks, labels,
 * legend, optional log-scale y), a heat map (attention matrices, weights,
 * digits) with a colour bar, and `sideBySide` to set several of them in one
 * figure. `writeSvg` saves one (Node only).
 *
 * Laws:
 *  - a data point (x, y) lands at
 *      px = left + (x − x₀)/(x₁ − x₀) · width,  py = top + height − (y − y₀)/(y₁ − y₀) · height
 *    for the plot area (left, top, width, height) and domain [x₀, x₁] × [y₀, y₁]
 *    (with log₁₀ y on a log scale);
 *  - non-finite points (and y ≤ 0 on a log scale) are skipped, breaking the
 *    line there rather than joining across the gap;
 *  - every text is XML-escaped, so the output is well-formed whatever the names.
 */
import { writeFileAtomic } from '../io/files.ts'
import { Tensor } from '../tensor.ts'

// ---------------------------------------------------------------- scales and ticks

/** A step of 1, 2 or 5 times a power of ten giving about `count` intervals over [min, max] (Heckbert's nice numbers). */
export function niceStep(min: number, max: number, count = 5): number {
  const range = max - min
  if (!(range > 0) || !Number.isFinite(range)) return 1
  const raw = range / Math.max(1, count)
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const residual = raw / magnitude
  const nice = residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 5 ? 5 : 10
  return nice * magnitude
}

/** Digits after the point that a multiple of `step` needs. */
const decimalsOf = (step: number): number => Math.max(0, -Math.floor(Math.log10(step) + 1e-9))

/** The multiples of a nice step within [min, max]: niceTicks(0, 1) is 0, 0.2, 0.4, 0.6, 0.8, 1. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max)
    throw new Error(`niceTicks: expected a finite interval, got [${min}, ${max}]`)
  if (min === max) return [min]
  const step = niceStep(min, max, count)
  const decimals = decimalsOf(step)
  const first = Math.ceil(min / step - 1e-9)
  const last = Math.floor(max / step + 1e-9)
  return Array.from({ length: last - first + 1 }, (_, i) => Number(((first + i) * step).toFixed(decimals)))
}

/** [min, max] widened to multiples of the nice step, so that the axis starts and ends on a tick. */
export function niceDomain(min: number, max: number, count = 5): [number, number] {
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1
    return niceDomain(min - pad, max + pad, count)
  }
  const step = niceStep(min, max, count)
  const decimals = decimalsOf(step)
  return [
    Number((Math.floor(min / step + 1e-9) * step).toFixed(decimals)),
    Number((Math.ceil(max / step - 1e-9) * step).toFixed(decimals)),
  ]
}

/** Ticks of a log scale: the powers of ten in [min, max], with 2 and 5 between them when there are few decades. */
export function logTicks(min: number, max: number): number[] {
  if (!(min > 0) || !(max >= min) || !Number.isFinite(max))
    throw new Error(`logTicks: expected 0 < min ≤ max, got [${min}, ${max}]`)
  const lo = Math.floor(Math.log10(min) + 1e-9)
  const hi = Math.ceil(Math.log10(max) - 1e-9)
  const multiples = hi - lo <= 2 ? [1, 2, 5] : [1]
  const ticks: number[] = []
  for (let e = lo; e <= hi; e++)
    for (const m of multiples) {
      const v = Number((m * 10 ** e).toPrecision(12))
      if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) ticks.push(v)
    }
  return ticks
}

/** A tick label: as many decimals as the step needs, exponent notation for very large or small values. */
export function formatTick(v: number, step?: number): string {
  if (v === 0) return '0'
  const a = Math.abs(v)
  if (a >= 1e6 || a < 1e-4) return Number(v.toPrecision(3)).toExponential().replace('e+', 'e')
  if (step === undefined) return String(Number(v.toPrecision(6)))
  return v.toFixed(decimalsOf(step))
}

/** A linear or log₁₀ map from the data `domain` to the SVG `range`, called on a value. */
export interface Scale {
  readonly domain: readonly [number, number]
  readonly range: readonly [number, number]
  readonly log: boolean
  (v: number): number
}

/** Maps the domain linearly (or log₁₀-linearly) onto the range. */
export function scale(domain: readonly [number, number], range: readonly [number, number], log = false): Scale {
  const f = log ? Math.log10 : (v: number) => v
  const [d0, d1] = [f(domain[0]), f(domain[1])]
  const span = d1 - d0 === 0 ? 1 : d1 - d0
  const map = (v: number) => range[0] + ((f(v) - d0) / span) * (range[1] - range[0])
  return Object.assign(map, { domain, range, log })
}

// ---------------------------------------------------------------- XML helpers

/** s with the characters that XML gives meaning to (& < > " ') escaped. */
export const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')

/** A coordinate or size as SVG text: at most two decimals. */
export const num = (v: number): string => String(Math.round(v * 100) / 100)

export type Attrs = Readonly<Record<string, string | number | undefined>>
const attrs = (a: Attrs): string =>
  Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? num(v) : escapeXml(v as string)}"`)
    .join('')
/** An element with attributes (escaped) and children (already SVG). */
export const el = (name: string, a: Attrs, children?: string): string =>
  children === undefined ? `<${name}${attrs(a)}/>` : `<${name}${attrs(a)}>${children}</${name}>`
/** A text element at (x, y), its content escaped. */
export const text = (x: number, y: number, s: string, a: Attrs = {}) => el('text', { x, y, ...a }, escapeXml(s))

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"'
/** The root element of a chart of this size, on a white background. */
export const svgRoot = (width: number, height: number, body: string): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}" ${FONT} font-size="12">` +
  `<rect width="100%" height="100%" fill="white"/>${body}</svg>`

/** Ten distinguishable colours (Tableau 10). */
export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
] as const

// ---------------------------------------------------------------- line charts

/** One line of a line chart: its name, its points and colour. */
export interface Series {
  readonly name: string
  readonly y: ArrayLike<number>
  /** x of each point (default 0, 1, 2, …). */
  readonly x?: ArrayLike<number>
  readonly color?: string
  readonly dashed?: boolean
}

/** The space around a chart's plotting area, in SVG units. */
export interface Margin {
  readonly top: number
  readonly right: number
  readonly bottom: number
  readonly left: number
}

/** What every chart on axes takes besides its series. */
export interface AxesChartOptions {
  readonly title?: string
  readonly xLabel?: string
  readonly yLabel?: string
  readonly width?: number
  readonly height?: number
  readonly margin?: Partial<Margin>
  /** Fixed axis ranges (default: the data's extent, widened to nice ticks where the chart says so). */
  readonly xDomain?: readonly [number, number]
  readonly yDomain?: readonly [number, number]
  /** Default: shown when there is more than one series. */
  readonly legend?: boolean
}

/** Options of a line chart: its series and whether the y axis is logarithmic. */
export interface LineChartOptions extends AxesChartOptions {
  readonly series: readonly Series[]
  /** Log₁₀ y axis (points with y ≤ 0 are skipped). */
  readonly logY?: boolean
}

/** The plot area and scales of a line chart (what `lineChart` draws with). */
export interface ChartLayout {
  readonly left: number
  readonly top: number
  readonly width: number
  readonly height: number
  readonly x: Scale
  readonly y: Scale
  readonly xTicks: readonly number[]
  readonly yTicks: readonly number[]
}

interface Point {
  readonly x: number
  readonly y: number
}

/** Each series' points with the undrawable ones (non-finite; y ≤ 0 on a log scale) replaced by gaps (null). */
function seriesPoints(options: LineChartOptions): (Point | null)[][] {
  if (options.series.length === 0) throw new Error('lineChart: no series to draw')
  return options.series.map((s) => {
    const n = s.y.length
    if (n === 0) throw new Error(`lineChart: series '${s.name}' has no points`)
    if (s.x !== undefined && s.x.length !== n)
      throw new Error(`lineChart: series '${s.name}' has ${s.x.length} x values but ${n} y values`)
    const points: (Point | null)[] = []
    for (let i = 0; i < n; i++) {
      const x = s.x === undefined ? i : s.x[i]
      const y = s.y[i]
      points.push(Number.isFinite(x) && Number.isFinite(y) && (!options.logY || y > 0) ? { x, y } : null)
    }
    if (points.every((p) => p === null))
      throw new Error(
        `lineChart: series '${s.name}' has no ${options.logY ? 'positive finite' : 'finite'} points to draw (${n} points, all ${options.logY ? 'NaN, infinite or ≤ 0' : 'NaN or infinite'})`,
      )
    return points
  })
}

const defaultMargin: Margin = { top: 40, right: 20, bottom: 50, left: 70 }

function layout(options: LineChartOptions, points: readonly (readonly (Point | null)[])[]): ChartLayout {
  const width = options.width ?? 640
  const height = options.height ?? 400
  const m = { ...defaultMargin, ...(options.title === undefined ? { top: 20 } : {}), ...options.margin }
  const plot = { left: m.left, top: m.top, width: width - m.left - m.right, height: height - m.top - m.bottom }
  if (!(plot.width > 0 && plot.height > 0))
    throw new Error(`lineChart: a ${width}×${height} chart leaves no room for the plot inside its margins`)
  const finite = points.flat().filter((p): p is Point => p !== null)
  const extent = (f: (p: Point) => number): [number, number] => [Math.min(...finite.map(f)), Math.max(...finite.map(f))]
  let xDomain: readonly [number, number] = options.xDomain ?? extent((p) => p.x)
  if (xDomain[0] === xDomain[1]) xDomain = niceDomain(xDomain[0], xDomain[1])
  const [ylo, yhi] = extent((p) => p.y)
  const logY = options.logY ?? false
  const yDomain: readonly [number, number] =
    options.yDomain ??
    (logY ? [10 ** Math.floor(Math.log10(ylo) + 1e-9), 10 ** Math.ceil(Math.log10(yhi) - 1e-9)] : niceDomain(ylo, yhi))
  if (!(xDomain[1] > xDomain[0])) throw new Error(`lineChart: xDomain must be increasing, got [${xDomain.join(', ')}]`)
  if (!(yDomain[1] >= yDomain[0]) || (logY && !(yDomain[0] > 0)))
    throw new Error(
      `lineChart: yDomain must be increasing${logY ? ' and positive on a log scale' : ''}, got [${yDomain.join(', ')}]`,
    )
  const yRange: [number, number] = [plot.top + plot.height, plot.top]
  const yFixed: [number, number] =
    yDomain[0] === yDomain[1]
      ? logY
        ? [yDomain[0] / 10, yDomain[1] * 10]
        : niceDomain(yDomain[0], yDomain[1])
      : [yDomain[0], yDomain[1]]
  const x = scale(xDomain, [plot.left, plot.left + plot.width])
  const y = scale(yFixed, yRange, logY)
  const xTicks = niceTicks(xDomain[0], xDomain[1], Math.max(2, Math.round(plot.width / 90)))
  const yTicks = logY
    ? logTicks(yFixed[0], yFixed[1])
    : niceTicks(yFixed[0], yFixed[1], Math.max(2, Math.round(plot.height / 60)))
  return { ...plot, x, y, xTicks, yTicks }
}

/** The plot area, scales and ticks `lineChart` uses for these options. */
export const chartLayout = (options: LineChartOptions): ChartLayout => layout(options, seriesPoints(options))

/** SVG path data for points with gaps: a new subpath after each gap. */
export function pathData(
  points: readonly (Point | null)[],
  x: (v: number) => number,
  y: (v: number) => number,
): string {
  const parts: string[] = []
  let pen = false
  for (const p of points) {
    if (p === null) {
      pen = false
      continue
    }
    parts.push(`${pen ? 'L' : 'M'}${num(x(p.x))} ${num(y(p.y))}`)
    pen = true
  }
  return parts.join(' ')
}

/**
 * A chart: its axes, its marks clipped to the plot area (clip path `clip`),
 * its legend and title, on a `width`×`height` root.
 */
export function chartFrame(
  l: ChartLayout,
  options: { readonly xLabel?: string; readonly yLabel?: string; readonly title?: string },
  clip: string,
  marks: string,
  legendSvg: string,
  width: number,
  height: number,
): string {
  const body = [
    el('defs', {}, el('clipPath', { id: clip }, el('rect', { x: l.left, y: l.top, width: l.width, height: l.height }))),
    axes(l, options),
    el('g', { 'clip-path': `url(#${clip})` }, marks),
    legendSvg,
    options.title === undefined
      ? ''
      : text(width / 2, 24, options.title, {
          'text-anchor': 'middle',
          'font-size': 15,
          'font-weight': 'bold',
          fill: '#111',
        }),
  ]
  return svgRoot(width, height, body.join(''))
}

/** The grid, ticks, frame and axis labels of a chart's plot area. */
export function axes(l: ChartLayout, options: { readonly xLabel?: string; readonly yLabel?: string }): string {
  const bottom = l.top + l.height
  const right = l.left + l.width
  const out: string[] = []
  const xStep = l.xTicks.length > 1 ? l.xTicks[1] - l.xTicks[0] : undefined
  const yStep = l.yTicks.length > 1 && !l.y.log ? l.yTicks[1] - l.yTicks[0] : undefined
  for (const t of l.xTicks) {
    const px = l.x(t)
    out.push(el('line', { x1: px, y1: l.top, x2: px, y2: bottom, stroke: '#e5e5e5' }))
    out.push(el('line', { x1: px, y1: bottom, x2: px, y2: bottom + 5, stroke: '#333' }))
    out.push(text(px, bottom + 18, formatTick(t, xStep), { 'text-anchor': 'middle', fill: '#333' }))
  }
  for (const t of l.yTicks) {
    const py = l.y(t)
    out.push(el('line', { x1: l.left, y1: py, x2: right, y2: py, stroke: '#e5e5e5' }))
    out.push(el('line', { x1: l.left - 5, y1: py, x2: l.left, y2: py, stroke: '#333' }))
    out.push(text(l.left - 8, py + 4, formatTick(t, yStep), { 'text-anchor': 'end', fill: '#333' }))
  }
  out.push(el('rect', { x: l.left, y: l.top, width: l.width, height: l.height, fill: 'none', stroke: '#333' }))
  if (options.xLabel !== undefined)
    out.push(text(l.left + l.width / 2, bottom + 40, options.xLabel, { 'text-anchor': 'middle', fill: '#111' }))
  if (options.yLabel !== undefined) {
    const cx = l.left - 52
    const cy = l.top + l.height / 2
    out.push(
      text(cx, cy, options.yLabel, {
        'text-anchor': 'middle',
        fill: '#111',
        transform: `rotate(-90 ${num(cx)} ${num(cy)})`,
      }),
    )
  }
  return out.join('')
}

function legend(l: ChartLayout, series: readonly Series[], colors: readonly string[]): string {
  const rowHeight = 16
  const widest = Math.max(...series.map((s) => s.name.length))
  const boxWidth = 34 + widest * 7
  const x0 = l.left + l.width - boxWidth - 8
  const y0 = l.top + 8
  const rows = series.map((s, i) => {
    const y = y0 + 6 + rowHeight * i + rowHeight / 2
    return (
      el('line', {
        x1: x0 + 6,
        y1: y,
        x2: x0 + 24,
        y2: y,
        stroke: colors[i],
        'stroke-width': 2,
        'stroke-dasharray': s.dashed ? '5 3' : undefined,
      }) + text(x0 + 30, y + 4, s.name, { fill: '#111' })
    )
  })
  return el(
    'g',
    { class: 'legend' },
    el('rect', {
      x: x0,
      y: y0,
      width: boxWidth,
      height: rowHeight * series.length + 12,
      fill: 'white',
      'fill-opacity': 0.85,
      stroke: '#bbb',
    }) + rows.join(''),
  )
}

/** A line chart of one or more series. */
export function lineChart(options: LineChartOptions): string {
  const points = seriesPoints(options)
  const l = layout(options, points)
  const colors = options.series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length])
  const clip = `clip-${Math.round(l.left)}-${Math.round(l.top)}-${Math.round(l.width)}-${Math.round(l.height)}`
  const lines = options.series.map((s, i) => {
    const d = pathData(points[i], l.x, l.y)
    // A point with gaps on both sides draws no line; mark it with a dot.
    const lone = points[i].filter(
      (p, j) => p !== null && points[i][j - 1] == null && points[i][j + 1] == null,
    ) as Point[]
    const dots = lone.map((p) => el('circle', { cx: l.x(p.x), cy: l.y(p.y), r: 2, fill: colors[i] })).join('')
    return el(
      'g',
      { class: 'series', 'data-name': s.name },
      el('path', {
        d,
        fill: 'none',
        stroke: colors[i],
        'stroke-width': 1.5,
        'stroke-linejoin': 'round',
        'stroke-dasharray': s.dashed ? '5 3' : undefined,
      }) + dots,
    )
  })
  const legendSvg = (options.legend ?? options.series.length > 1) ? legend(l, options.series, colors) : ''
  return chartFrame(l, options, clip, lines.join(''), legendSvg, options.width ?? 640, options.height ?? 400)
}

// ---------------------------------------------------------------- heat maps

/** A matrix: nested rows, a rank-2 tensor, or row-major values with their size. */
export type Matrix =
  | readonly (readonly number[])[]
  | Tensor
  | { readonly rows: number; readonly cols: number; readonly data: ArrayLike<number> }

/** The colour maps of a heatmap. */
export type ColorMap = 'grey' | 'viridis' | 'diverging'

/** Options of a heatmap: the matrix of values, its title and colours. */
export interface HeatmapOptions {
  readonly values: Matrix
  readonly title?: string
  /** 'grey': black (low) to white (high), for digits; 'viridis' (default); 'diverging': blue, white at 0, red. */
  readonly colors?: ColorMap
  /** Values mapped to the ends of the colour map (default: the data's range; symmetric about 0 for 'diverging'). */
  readonly domain?: readonly [number, number]
  /** Cell size in pixels (default: the matrix fills about 320 pixels). */
  readonly cellSize?: number
  readonly rowLabels?: readonly string[]
  readonly colLabels?: readonly string[]
  readonly xLabel?: string
  readonly yLabel?: string
  /** Default true. */
  readonly colorBar?: boolean
}

function readMatrix(m: Matrix): { rows: number; cols: number; data: ArrayLike<number> } {
  if (m instanceof Tensor) {
    if (m.aval.shape.length !== 2)
      throw new Error(`heatmap: expected a matrix (rank 2), got shape [${m.aval.shape.join(', ')}]`)
    return { rows: m.aval.shape[0], cols: m.aval.shape[1], data: m.dataSync() }
  }
  if (Array.isArray(m)) {
    const rows = m as readonly (readonly number[])[]
    const cols = rows[0]?.length ?? 0
    rows.forEach((r, i) => {
      if (!Array.isArray(r) || r.length !== cols)
        throw new Error(
          `heatmap: row ${i} has ${Array.isArray(r) ? r.length : 'no'} values, expected ${cols} like row 0`,
        )
    })
    return { rows: rows.length, cols, data: rows.flat() }
  }
  const { rows, cols, data } = m as { rows: number; cols: number; data: ArrayLike<number> }
  if (!(Number.isInteger(rows) && Number.isInteger(cols) && rows >= 0 && cols >= 0))
    throw new Error(`heatmap: rows and cols must be non-negative integers, got ${rows}×${cols}`)
  if (data.length !== rows * cols)
    throw new Error(`heatmap: ${rows}×${cols} needs ${rows * cols} values, got ${data.length}`)
  return { rows, cols, data }
}

const VIRIDIS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 74, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [109, 205, 89],
  [180, 222, 44],
  [253, 231, 37],
]
const DIVERGING: readonly (readonly [number, number, number])[] = [
  [59, 76, 192],
  [221, 221, 221],
  [180, 4, 38],
]

const hex = (c: readonly number[]) => `#${c.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`
const interpolate = (stops: readonly (readonly [number, number, number])[], t: number): string => {
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1)
  const i = Math.min(stops.length - 2, Math.floor(x))
  const f = x - i
  return hex(stops[i].map((a, k) => a + (stops[i + 1][k] - a) * f))
}

/** The colour of t ∈ [0, 1] in a colour map. */
export function colorOf(map: ColorMap, t: number): string {
  switch (map) {
    case 'grey':
      return hex([0, 0, 0].map(() => 255 * Math.min(1, Math.max(0, t))))
    case 'viridis':
      return interpolate(VIRIDIS, t)
    case 'diverging':
      return interpolate(DIVERGING, t)
    default:
      return map satisfies never
  }
}

/** A matrix drawn as coloured cells, with optional labels and a colour bar. NaN cells are left blank. */
export function heatmap(options: HeatmapOptions): string {
  const { rows, cols, data } = readMatrix(options.values)
  if (rows === 0 || cols === 0) throw new Error(`heatmap: the matrix is empty (${rows}×${cols})`)
  const map = options.colors ?? 'viridis'
  for (const [labels, count, what] of [
    [options.rowLabels, rows, 'rowLabels'],
    [options.colLabels, cols, 'colLabels'],
  ] as const)
    if (labels !== undefined && labels.length !== count)
      throw new Error(
        `heatmap: ${what} has ${labels.length} labels for ${count} ${what === 'rowLabels' ? 'rows' : 'columns'}`,
      )
  let lo = Number.POSITIVE_INFINITY
  let hi = Number.NEGATIVE_INFINITY
  for (let i = 0; i < data.length; i++)
    if (Number.isFinite(data[i])) {
      lo = Math.min(lo, data[i])
      hi = Math.max(hi, data[i])
    }
  if (lo > hi) [lo, hi] = [0, 1]
  if (map === 'diverging') [lo, hi] = [-Math.max(Math.abs(lo), Math.abs(hi)), Math.max(Math.abs(lo), Math.abs(hi))]
  const domain = options.domain ?? [lo, hi]
  const span = domain[1] - domain[0] === 0 ? 1 : domain[1] - domain[0]
  const cell = options.cellSize ?? Math.max(1, Math.min(40, Math.floor(320 / Math.max(rows, cols))))
  const rowLabelWidth =
    options.rowLabels === undefined ? 0 : 8 + 7 * Math.max(...options.rowLabels.map((s) => s.length))
  const colLabelHeight =
    options.colLabels === undefined ? 0 : 8 + 6 * Math.max(...options.colLabels.map((s) => s.length))
  const left = 10 + rowLabelWidth + (options.yLabel === undefined ? 0 : 20)
  const top = (options.title === undefined ? 10 : 34) + colLabelHeight
  const gridW = cols * cell
  const gridH = rows * cell
  const showBar = options.colorBar ?? true
  const barX = left + gridW + 16
  const width = showBar ? barX + 16 + 60 : left + gridW + 10
  const height = top + gridH + (options.xLabel === undefined ? 10 : 34)

  const cells: string[] = []
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const v = data[r * cols + c]
      if (!Number.isFinite(v)) continue
      cells.push(
        `<rect x="${num(left + c * cell)}" y="${num(top + r * cell)}" width="${num(cell)}" height="${num(cell)}" fill="${colorOf(map, (v - domain[0]) / span)}"/>`,
      )
    }
  const out = [el('g', { class: 'cells', 'shape-rendering': 'crispEdges' }, cells.join(''))]
  out.push(el('rect', { x: left, y: top, width: gridW, height: gridH, fill: 'none', stroke: '#333' }))
  options.rowLabels?.forEach((s, r) =>
    out.push(text(left - 6, top + (r + 0.5) * cell + 4, s, { 'text-anchor': 'end', fill: '#333' })),
  )
  options.colLabels?.forEach((s, c) => {
    const x = left + (c + 0.5) * cell
    const y = top - 6
    out.push(text(x, y, s, { 'text-anchor': 'start', fill: '#333', transform: `rotate(-90 ${num(x)} ${num(y)})` }))
  })
  if (options.title !== undefined)
    out.push(
      text(width / 2, 22, options.title, {
        'text-anchor': 'middle',
        'font-size': 15,
        'font-weight': 'bold',
        fill: '#111',
      }),
    )
  if (options.xLabel !== undefined)
    out.push(text(left + gridW / 2, top + gridH + 26, options.xLabel, { 'text-anchor': 'middle', fill: '#111' }))
  if (options.yLabel !== undefined) {
    const cx = 16
    const cy = top + gridH / 2
    out.push(
      text(cx, cy, options.yLabel, {
        'text-anchor': 'middle',
        fill: '#111',
        transform: `rotate(-90 ${num(cx)} ${num(cy)})`,
      }),
    )
  }
  if (showBar) out.push(colorBar(map, domain, barX, top, gridH))
  return svgRoot(width, height, out.join(''))
}

function colorBar(map: ColorMap, domain: readonly [number, number], x: number, top: number, height: number): string {
  const id = `bar-${map}`
  const stops = Array.from({ length: 11 }, (_, i) =>
    el('stop', { offset: `${i * 10}%`, 'stop-color': colorOf(map, 1 - i / 10) }),
  ).join('')
  const gradient = el('defs', {}, el('linearGradient', { id, x1: 0, y1: 0, x2: 0, y2: 1 }, stops))
  const y = scale(domain[0] === domain[1] ? [domain[0], domain[0] + 1] : domain, [top + height, top])
  const ticks = niceTicks(
    Math.min(domain[0], domain[1]),
    Math.max(domain[0], domain[1]),
    Math.max(2, Math.round(height / 50)),
  )
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : undefined
  const marks = ticks.map(
    (t) =>
      el('line', { x1: x + 12, y1: y(t), x2: x + 16, y2: y(t), stroke: '#333' }) +
      text(x + 19, y(t) + 4, formatTick(t, step), { fill: '#333' }),
  )
  return el(
    'g',
    { class: 'color-bar' },
    gradient + el('rect', { x, y: top, width: 12, height, fill: `url(#${id})`, stroke: '#333' }) + marks.join(''),
  )
}

// ---------------------------------------------------------------- figures

/** The width and height of an SVG this module made (read from its root element). */
export function svgSize(svg: string): { width: number; height: number } {
  const root = /^<svg\b[^>]*>/.exec(svg)?.[0]
  const width = root === undefined ? undefined : /\swidth="([\d.]+)"/.exec(root)?.[1]
  const height = root === undefined ? undefined : /\sheight="([\d.]+)"/.exec(root)?.[1]
  if (width === undefined || height === undefined)
    throw new Error(
      `sideBySide: expected an <svg width=".." height=".."> element, got ${JSON.stringify(svg.slice(0, 40))}`,
    )
  return { width: Number(width), height: Number(height) }
}

/** Options of charts laid out side by side: the panels per row, the gap and a title. */
export interface SideBySideOptions {
  /** Panels per row (default: all in one row). */
  readonly columns?: number
  /** Pixels between panels (default 10). */
  readonly gap?: number
  readonly title?: string
}

/** Several charts in one figure, row by row: each panel keeps its own size, ids are made unique per panel. */
export function sideBySide(svgs: readonly string[], options: SideBySideOptions = {}): string {
  if (svgs.length === 0) throw new Error('sideBySide: no panels to arrange')
  const columns = options.columns ?? svgs.length
  if (!(Number.isInteger(columns) && columns > 0))
    throw new Error(`sideBySide: columns must be a positive integer, got ${columns}`)
  const gap = options.gap ?? 10
  const sizes = svgs.map(svgSize)
  const rowCount = Math.ceil(svgs.length / columns)
  const colWidths = Array.from({ length: columns }, (_, c) =>
    Math.max(0, ...sizes.filter((_, i) => i % columns === c).map((s) => s.width)),
  )
  const rowHeights = Array.from({ length: rowCount }, (_, r) =>
    Math.max(...sizes.slice(r * columns, (r + 1) * columns).map((s) => s.height)),
  )
  const top = options.title === undefined ? gap : 34
  const width = colWidths.reduce((a, b) => a + b, 0) + gap * (columns + 1)
  const height = top + rowHeights.reduce((a, b) => a + b, 0) + gap * rowCount
  const panels = svgs.map((svg, i) => {
    const r = Math.floor(i / columns)
    const c = i % columns
    const x = gap + colWidths.slice(0, c).reduce((a, b) => a + b, 0) + gap * c
    const y = top + rowHeights.slice(0, r).reduce((a, b) => a + b, 0) + gap * r
    // Ids (clip paths, gradients) must stay unique once the panels share a document.
    const unique = svg.replace(/\bid="([^"]+)"/g, `id="p${i}-$1"`).replace(/url\(#([^)]+)\)/g, `url(#p${i}-$1)`)
    return unique.replace(/^<svg\b/, `<svg x="${num(x)}" y="${num(y)}"`)
  })
  const title =
    options.title === undefined
      ? ''
      : text(width / 2, 22, options.title, {
          'text-anchor': 'middle',
          'font-size': 16,
          'font-weight': 'bold',
          fill: '#111',
        })
  return svgRoot(width, height, title + panels.join(''))
}

/** Writes an SVG file (Node only; atomically, as `saveParams` does). */
export async function writeSvg(path: string, svg: string): Promise<void> {
  if (typeof svg !== 'string' || !/^<svg\b/.test(svg))
    throw new Error(
      `writeSvg: expected SVG text starting with <svg, got ${typeof svg === 'string' ? JSON.stringify(svg.slice(0, 20)) : typeof svg}`,
    )
  await writeFileAtomic(path, `<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`, 'writeSvg')
}
