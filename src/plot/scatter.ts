/**
 * A scatter chart as SVG text (2-D point clouds: GAN samples against the
 * data, embeddings, decision regions): several named point sets, nice
 * ticks, labels, a legend.
 *
 * Laws:
 *  - a point (x, y) lands where `chartLayout` puts it for the same domains:
 *    px = left + (x − x₀)/(x₁ − x₀) · width,  py = top + height − (y − y₀)/(y₁ − y₀) · height;
 *  - the default domains are the finite extent of all series, widened to nice ticks;
 *  - with `equalAspect`, one unit is as long on x as on y: the narrower domain
 *    is widened about its centre until (x₁ − x₀)/width = (y₁ − y₀)/height;
 *  - a point with a non-finite coordinate is skipped; its series' group counts
 *    them in `data-skipped`;
 *  - every text is XML-escaped.
 */
import {
  type AxesChartOptions,
  chartFrame,
  type ChartLayout,
  chartLayout,
  el,
  num,
  text,
  type LineChartOptions,
  niceDomain,
  PALETTE,
} from './svg.ts'

/** One series of a scatter plot: its name, the points' coordinates, and their colour and size. */
export interface ScatterSeries {
  readonly name: string
  readonly x: ArrayLike<number>
  readonly y: ArrayLike<number>
  /** Default: the series' colour in `PALETTE`. */
  readonly color?: string
  /** Dot radius in SVG units (default 2.5). */
  readonly radius?: number
  /** Dot opacity in [0, 1] (default 0.7, so that dense clouds show their density). */
  readonly opacity?: number
}

/** Width 560 and height 480 by default; points outside fixed domains are clipped. */
export interface ScatterChartOptions extends AxesChartOptions {
  readonly series: readonly ScatterSeries[]
  /** Same length for one unit on both axes (circles look round). */
  readonly equalAspect?: boolean
}

function validate(options: ScatterChartOptions): void {
  if (options.series.length === 0) throw new Error('scatterChart: no series to draw')
  for (const s of options.series) {
    if (s.x.length !== s.y.length)
      throw new Error(`scatterChart: series '${s.name}' has ${s.x.length} x values but ${s.y.length} y values`)
    if (s.radius !== undefined && !(s.radius > 0 && Number.isFinite(s.radius)))
      throw new Error(`scatterChart: series '${s.name}' has radius ${s.radius}, expected a positive number`)
    if (s.opacity !== undefined && !(s.opacity >= 0 && s.opacity <= 1))
      throw new Error(`scatterChart: series '${s.name}' has opacity ${s.opacity}, expected a number in [0, 1]`)
  }
  for (const [domain, axis] of [
    [options.xDomain, 'x'],
    [options.yDomain, 'y'],
  ] as const)
    if (domain !== undefined && !(Number.isFinite(domain[0]) && Number.isFinite(domain[1]) && domain[1] > domain[0]))
      throw new Error(`scatterChart: ${axis}Domain must be a finite increasing interval, got [${domain.join(', ')}]`)
}

/** The finite extent of one coordinate over the points whose both coordinates are finite. */
function extent(series: readonly ScatterSeries[], axis: 'x' | 'y'): [number, number] | undefined {
  let lo = Number.POSITIVE_INFINITY
  let hi = Number.NEGATIVE_INFINITY
  for (const s of series)
    for (let i = 0; i < s.x.length; i++)
      if (Number.isFinite(s.x[i]) && Number.isFinite(s.y[i])) {
        const v = s[axis][i]
        if (v < lo) lo = v
        if (v > hi) hi = v
      }
  return lo <= hi ? [lo, hi] : undefined
}

/** The layout `chartLayout` gives a line chart with these domains and the same size, margins and title. */
function layoutFor(options: ScatterChartOptions, xDomain: [number, number], yDomain: [number, number]): ChartLayout {
  const line: LineChartOptions = {
    series: [{ name: 'extent', x: xDomain, y: yDomain }],
    title: options.title,
    width: options.width ?? 560,
    height: options.height ?? 480,
    margin: options.margin,
    xDomain,
    yDomain,
  }
  try {
    return chartLayout(line)
  } catch (e) {
    throw e instanceof Error ? new Error(e.message.replace(/^lineChart:/, 'scatterChart:')) : e
  }
}

function plotLayout(options: ScatterChartOptions): ChartLayout {
  const domainOf = (given: readonly [number, number] | undefined, axis: 'x' | 'y'): [number, number] => {
    if (given !== undefined) return [given[0], given[1]]
    const e = extent(options.series, axis)
    if (e === undefined)
      throw new Error(`scatterChart: no finite points to draw and no ${axis}Domain given to draw an empty chart`)
    return niceDomain(e[0], e[1])
  }
  const xDomain = domainOf(options.xDomain, 'x')
  const yDomain = domainOf(options.yDomain, 'y')
  const l = layoutFor(options, xDomain, yDomain)
  if (!options.equalAspect) return l
  const unit = Math.max((xDomain[1] - xDomain[0]) / l.width, (yDomain[1] - yDomain[0]) / l.height)
  const widen = ([a, b]: [number, number], pixels: number): [number, number] => {
    const centre = (a + b) / 2
    return [centre - (unit * pixels) / 2, centre + (unit * pixels) / 2]
  }
  return layoutFor(options, widen(xDomain, l.width), widen(yDomain, l.height))
}

function legend(l: ChartLayout, series: readonly ScatterSeries[], colors: readonly string[]): string {
  const rowHeight = 16
  const boxWidth = 30 + 7 * Math.max(...series.map((s) => s.name.length))
  const x0 = l.left + l.width - boxWidth - 8
  const y0 = l.top + 8
  const rows = series.map((s, i) => {
    const y = y0 + 6 + rowHeight * (i + 0.5)
    return el('circle', { cx: x0 + 12, cy: y, r: 4, fill: colors[i] }) + text(x0 + 22, y + 4, s.name, { fill: '#111' })
  })
  const box = el('rect', {
    x: x0,
    y: y0,
    width: boxWidth,
    height: rowHeight * series.length + 12,
    fill: 'white',
    'fill-opacity': 0.85,
    stroke: '#bbb',
  })
  return el('g', { class: 'legend' }, box + rows.join(''))
}

/** Point clouds of one or more named series on common axes. */
export function scatterChart(options: ScatterChartOptions): string {
  validate(options)
  const l = plotLayout(options)
  const colors = options.series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length])
  const clip = `clip-${Math.round(l.left)}-${Math.round(l.top)}-${Math.round(l.width)}-${Math.round(l.height)}`
  const groups = options.series.map((s, i) => {
    const r = num(s.radius ?? 2.5)
    const dots: string[] = []
    let skipped = 0
    for (let j = 0; j < s.x.length; j++)
      if (Number.isFinite(s.x[j]) && Number.isFinite(s.y[j]))
        dots.push(`<circle cx="${num(l.x(s.x[j]))}" cy="${num(l.y(s.y[j]))}" r="${r}"/>`)
      else skipped++
    return el(
      'g',
      {
        class: 'series',
        'data-name': s.name,
        'data-skipped': skipped,
        fill: colors[i],
        'fill-opacity': s.opacity ?? 0.7,
      },
      dots.join(''),
    )
  })
  const legendSvg = (options.legend ?? options.series.length > 1) ? legend(l, options.series, colors) : ''
  return chartFrame(l, options, clip, groups.join(''), legendSvg, options.width ?? 560, options.height ?? 480)
}
