import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { importMnistPackage, readMnistPackage } from '../src/io/mnist.ts'
import { imageGrid } from '../src/plot/images.ts'
import { scatterChart } from '../src/plot/scatter.ts'
import { colorOf, svgSize } from '../src/plot/svg.ts'
import { assertProperty } from './lib/property.ts'
import { all, type Element, parseXml } from './lib/xml.ts'

const imageGroups = (svg: Element) => all(svg, 'g').filter((g) => g.attrs.class === 'image')

/**
 * The colour each pixel of an image group shows, found the way a renderer
 * paints: the last rect covering the pixel's centre wins; undefined where no
 * rect covers it.
 */
function paint(group: Element, height: number, width: number): (string | undefined)[] {
  const out: (string | undefined)[] = new Array(height * width).fill(undefined)
  for (const rect of group.children) {
    expect(rect.name).toBe('rect')
    const x = Number(rect.attrs.x ?? 0)
    const y = Number(rect.attrs.y ?? 0)
    const w = Number(rect.attrs.width)
    const h = Number(rect.attrs.height)
    for (let r = 0; r < height; r++)
      for (let c = 0; c < width; c++)
        if (c + 0.5 > x && c + 0.5 < x + w && r + 0.5 > y && r + 0.5 < y + h) out[r * width + c] = rect.attrs.fill
  }
  return out
}

/** What each pixel should show, written from the law in the module's header rather than from its code. */
function expectedColours(image: ArrayLike<number>, lo: number, hi: number, levels = 64): (string | undefined)[] {
  return Array.from(image, (v) => {
    if (!Number.isFinite(v)) return undefined
    const t = hi === lo ? 0 : Math.min(1, Math.max(0, (v - lo) / (hi - lo)))
    return colorOf('grey', Math.round(t * (levels - 1)) / (levels - 1))
  })
}

describe('imageGrid', () => {
  it('draws a 2×2 image with black and white pixels where they belong', () => {
    const svg = imageGrid({ images: [[0, 1, 1, 0]], height: 2, width: 2, pixel: 5, gap: 4 })
    const root = parseXml(svg)
    expect(svgSize(svg)).toEqual({ width: 2 * 5 + 2 * 4, height: 2 * 5 + 2 * 4 })
    const [group] = imageGroups(root)
    expect(group.attrs.transform).toBe('translate(4 4) scale(5)')
    expect(paint(group, 2, 2)).toEqual(['#000000', '#ffffff', '#ffffff', '#000000'])
  })

  it('matches the per-pixel law on random images, NaN pixels left blank', () => {
    const value = fc.oneof(
      fc.constant(Number.NaN),
      fc.integer({ min: -3, max: 3 }),
      fc.double({ min: -3, max: 3, noNaN: true }),
    )
    const grid = fc
      .record({
        h: fc.integer({ min: 1, max: 5 }),
        w: fc.integer({ min: 1, max: 6 }),
        n: fc.integer({ min: 1, max: 4 }),
      })
      .chain(({ h, w, n }) =>
        fc.record({
          h: fc.constant(h),
          w: fc.constant(w),
          images: fc.array(fc.array(value, { minLength: h * w, maxLength: h * w }), { minLength: n, maxLength: n }),
          each: fc.boolean(),
        }),
      )
    assertProperty(
      fc.property(grid, ({ h, w, images, each }) => {
        const root = parseXml(imageGrid({ images, height: h, width: w, normalize: each ? 'each' : 'all' }))
        const groups = imageGroups(root)
        expect(groups.length).toBe(images.length)
        const range = (xs: number[]) => {
          const finite = xs.filter(Number.isFinite)
          return finite.length === 0 ? [0, 1] : [Math.min(...finite), Math.max(...finite)]
        }
        const common = range(images.flat())
        images.forEach((image, i) => {
          const [lo, hi] = each ? range(image) : common
          expect(paint(groups[i], h, w)).toEqual(expectedColours(image, lo, hi))
        })
      }),
    )
  })

  it('the painting check rejects a grid whose runs are off by one pixel (planted bug)', () => {
    const image = [0, 0, 1, 1, 0, 0.5, 0.5, 1, 1, 1, 0, 0]
    const svg = imageGrid({ images: [image], height: 3, width: 4 })
    const shifted = svg.replace(/<rect x="(\d+)" y="1"/, (_, x) => `<rect x="${Number(x) + 1}" y="1"`)
    expect(shifted).not.toBe(svg)
    const paintOf = (s: string) => paint(imageGroups(parseXml(s))[0], 3, 4)
    expect(paintOf(svg)).toEqual(expectedColours(image, 0, 1))
    expect(paintOf(shifted)).not.toEqual(expectedColours(image, 0, 1))
  })

  it('merges runs: a constant image is one rect, stripes one rect per row', () => {
    const constant = new Float32Array(28 * 28).fill(0.3)
    const groupOf = (images: ArrayLike<number>[], h: number, w: number) =>
      imageGroups(parseXml(imageGrid({ images, height: h, width: w })))[0]
    expect(groupOf([constant], 28, 28).children.length).toBeLessThanOrEqual(28)
    // With a blank there is no background rect: each row is its own runs.
    const holed = Float32Array.from(constant)
    holed[5 * 28 + 10] = Number.NaN
    const g = groupOf([holed], 28, 28)
    expect(g.children.length).toBe(27 + 2)
    expect(paint(g, 28, 28)[5 * 28 + 10]).toBeUndefined()
    const stripes = Array.from({ length: 6 * 7 }, (_, i) => Math.floor(i / 7) % 2)
    expect(groupOf([stripes], 6, 7).children.length).toBeLessThanOrEqual(6)
  })

  it('uses a domain and normalises all images together or each alone', () => {
    const a = [0, 1, 0, 1]
    const b = [0, 10, 0, 10]
    const colours = (options: object) =>
      imageGroups(parseXml(imageGrid({ images: [a, b], height: 2, width: 2, ...options }))).map((g) => paint(g, 2, 2))
    expect(colours({})[0][1]).toBe(colorOf('grey', Math.round(63 / 10) / 63))
    expect(colours({ normalize: 'each' })[0][1]).toBe('#ffffff')
    expect(colours({ domain: [0, 2] })[0][1]).toBe(colorOf('grey', Math.round(63 / 2) / 63))
    expect(colours({ domain: [0, 2] })[1][1]).toBe('#ffffff') // clamped
  })

  it('lays images out in columns with escaped captions under them', () => {
    const images = Array.from({ length: 5 }, () => [0, 1, 0, 1])
    const svg = imageGrid({
      images,
      height: 2,
      width: 2,
      pixel: 10,
      gap: 2,
      columns: 2,
      labels: ['a', 'b', 'c', 'd', '<e&>'],
    })
    const root = parseXml(svg)
    expect(svgSize(svg)).toEqual({ width: 2 * 20 + 3 * 2, height: 2 + 3 * (20 + 14 + 2) })
    expect(imageGroups(root).map((g) => g.attrs.transform)).toEqual([
      'translate(2 2) scale(10)',
      'translate(24 2) scale(10)',
      'translate(2 38) scale(10)',
      'translate(24 38) scale(10)',
      'translate(2 74) scale(10)',
    ])
    expect(all(root, 'text').map((t) => t.text)).toEqual(['a', 'b', 'c', 'd', '&lt;e&amp;&gt;'])
    expect(svgSize(imageGrid({ images: Array.from({ length: 10 }, () => a4), height: 2, width: 2 }))).toEqual(
      svgSize(imageGrid({ images: Array.from({ length: 10 }, () => a4), height: 2, width: 2, columns: 4 })),
    )
  })
  const a4 = [0, 0.25, 0.5, 1]

  it('keeps 64 MNIST digits well under 1 MB', async () => {
    const entries = readMnistPackage(await importMnistPackage())
    if (entries._tag === 'Left') throw new Error(entries.left)
    const digits = entries.right.filter((_, i) => i % 150 === 0).slice(0, 64)
    const svg = imageGrid({ images: digits.map((d) => d.image), height: 28, width: 28 })
    expect(imageGroups(parseXml(svg)).length).toBe(64)
    expect(svg.length).toBeLessThan(600_000)
  })

  it('names what it expected and what came', () => {
    expect(() => imageGrid({ images: [], height: 2, width: 2 })).toThrow(
      'imageGrid: expected a non-empty list of images, got an empty list',
    )
    expect(() =>
      imageGrid({
        images: [
          [1, 2, 3, 4],
          [1, 2, 3],
        ],
        height: 2,
        width: 2,
      }),
    ).toThrow('imageGrid: image 1 has 3 values, expected height×width = 2×2 = 4')
    expect(() => imageGrid({ images: [[1, 2]], height: 1.5, width: 2 })).toThrow(
      'imageGrid: height and width must be positive integers, got 1.5×2',
    )
    expect(() => imageGrid({ images: [[1, 2]], height: 2, width: -1 })).toThrow(
      'imageGrid: height and width must be positive integers, got 2×-1',
    )
    expect(() => imageGrid({ images: [[1]], height: 1, width: 1, labels: [] })).toThrow(
      'imageGrid: labels has 0 captions for 1 images',
    )
    expect(() => imageGrid({ images: [[1]], height: 1, width: 1, domain: [1, 0] })).toThrow(
      'imageGrid: domain must be a finite increasing interval, got [1, 0]',
    )
    expect(() => imageGrid({ images: [[1]], height: 1, width: 1, columns: 0 })).toThrow(
      'imageGrid: columns must be a positive integer, got 0',
    )
  })
})

describe('scatterChart', () => {
  const seriesGroups = (e: Element) => all(e, 'g').filter((g) => g.attrs.class === 'series')

  it('puts each point where the linear law says, skipping non-finite ones', () => {
    const svg = scatterChart({
      series: [{ name: 'a', x: [2, 5, Number.NaN, 1], y: [3, 5, 1, Number.POSITIVE_INFINITY] }],
      xDomain: [0, 10],
      yDomain: [0, 10],
      width: 120,
      height: 120,
      margin: { top: 10, right: 10, bottom: 10, left: 10 },
    })
    const root = parseXml(svg)
    expect(svgSize(svg)).toEqual({ width: 120, height: 120 })
    const [group] = seriesGroups(root)
    expect(group.attrs['data-skipped']).toBe('2')
    // px = left + (x − x₀)/(x₁ − x₀)·width, py = top + height − (y − y₀)/(y₁ − y₀)·height
    expect(group.children.map((c) => [Number(c.attrs.cx), Number(c.attrs.cy)])).toEqual([
      [30, 80],
      [60, 60],
    ])
    expect(all(root, 'g').some((g) => g.attrs.class === 'legend')).toBe(false)
  })

  it('widens the default domains to nice ticks and draws a legend for several series', () => {
    const root = parseXml(
      scatterChart({
        title: 'p & q',
        series: [
          { name: 'data', x: [0.13, 0.87], y: [-3, 7] },
          { name: '<gen>', x: [0.5], y: [2], color: '#123456', radius: 4, opacity: 0.5 },
        ],
      }),
    )
    const groups = seriesGroups(root)
    expect(groups.map((g) => g.children.length)).toEqual([2, 1])
    expect(groups[1].attrs).toMatchObject({ fill: '#123456', 'fill-opacity': '0.5', 'data-name': '&lt;gen&gt;' })
    expect(groups[1].children[0].attrs.r).toBe('4')
    expect(all(root, 'circle').length).toBe(3 + 2) // and one per series in the legend
    const labels = all(root, 'text').map((t) => t.text)
    expect(labels).toContain('0')
    expect(labels).toContain('1.0')
    expect(labels).toContain('-4')
    expect(labels).toContain('8')
    expect(labels).toContain('p &amp; q')
    expect(labels).toContain('&lt;gen&gt;')
    expect(all(root, 'g').filter((g) => g.attrs.class === 'legend').length).toBe(1)
  })

  it('gives one unit the same length on both axes with equalAspect', () => {
    for (const [w, h] of [
      [400, 300],
      [300, 500],
    ]) {
      const root = parseXml(
        scatterChart({
          series: [{ name: 'a', x: [0, 1, 0, 10], y: [0, 0, 1, 0.5] }],
          equalAspect: true,
          width: w,
          height: h,
        }),
      )
      const [o, ex, ey] = seriesGroups(root)[0].children.map((c) => [Number(c.attrs.cx), Number(c.attrs.cy)])
      expect(ex[0] - o[0]).toBeGreaterThan(0)
      expect(Math.abs(ex[0] - o[0] - (o[1] - ey[1]))).toBeLessThan(0.02)
    }
  })

  it('names what it expected and what came', () => {
    expect(() => scatterChart({ series: [] })).toThrow('scatterChart: no series to draw')
    expect(() => scatterChart({ series: [{ name: 'fake', x: [1, 2, 3], y: [1, 2] }] })).toThrow(
      "scatterChart: series 'fake' has 3 x values but 2 y values",
    )
    expect(() => scatterChart({ series: [{ name: 'a', x: [Number.NaN], y: [1] }] })).toThrow(
      'scatterChart: no finite points to draw and no xDomain given to draw an empty chart',
    )
    expect(() => scatterChart({ series: [{ name: 'a', x: [1], y: [1] }], xDomain: [2, 2] })).toThrow(
      'scatterChart: xDomain must be a finite increasing interval, got [2, 2]',
    )
    expect(() => scatterChart({ series: [{ name: 'a', x: [1], y: [1], radius: 0 }] })).toThrow(
      "scatterChart: series 'a' has radius 0, expected a positive number",
    )
    expect(() => scatterChart({ series: [{ name: 'a', x: [1], y: [1] }], width: 50 })).toThrow(
      'scatterChart: a 50×480 chart leaves no room',
    )
  })
})
