/**
 * A grid of small images as SVG text (digits, Hopfield patterns, RBM filters
 * and samples): each image is height×width values, row-major, drawn as
 * pixels of one colour map, with an optional caption under each.
 *
 * Laws:
 *  - pixel (r, c) of image i is the square of side 1 at (c, r) inside the
 *    image's group `<g class="image" data-index="i">`, which is translated
 *    to the image's place in the grid and scaled by `pixel`;
 *  - a value v maps to t = (v − lo)/(hi − lo), clamped to [0, 1] and rounded
 *    to one of `levels` steps, then to `colorOf(colors, t)`;
 *  - non-finite pixels are left blank (the figure's white background shows);
 *  - the most common colour of an image without blanks is one rect under the
 *    whole image, and every horizontal run of another colour is one rect, so
 *    a constant image costs one rect and a digit a few hundred.
 */
import { type ColorMap, colorOf, escapeXml, num, svgRoot } from './svg.ts'

/** Options of an image grid: the images, their size and the layout. */
export interface ImageGridOptions {
  /** The images, each `height × width` values in row-major order (rows top to bottom). */
  readonly images: readonly ArrayLike<number>[]
  readonly height: number
  readonly width: number
  /** Images per row (default ⌈√n⌉). */
  readonly columns?: number
  /** Side of one pixel in SVG units (default: an image about 84 units across, so 3 for 28×28). */
  readonly pixel?: number
  /** SVG units between images and around the grid (default 4). */
  readonly gap?: number
  readonly title?: string
  /** One short caption per image, drawn under it. */
  readonly labels?: readonly string[]
  /** 'grey' (default): black (low) to white (high); 'viridis'; 'diverging': blue, white at 0, red. */
  readonly colors?: ColorMap
  /** Values mapped to the ends of the colour map; overrides `normalize`. */
  readonly domain?: readonly [number, number]
  /**
   * Without `domain`: 'all' (default) maps every image with the common range
   * of all finite values, 'each' maps each image with its own range. Either
   * range is made symmetric about 0 for 'diverging'.
   */
  readonly normalize?: 'each' | 'all'
  /** Colour steps (default 64): fewer steps make longer runs of one colour and a smaller file. */
  readonly levels?: number
}

/** The finite range of some values, or undefined when there are none. */
function finiteRange(images: readonly ArrayLike<number>[]): [number, number] | undefined {
  let lo = Number.POSITIVE_INFINITY
  let hi = Number.NEGATIVE_INFINITY
  for (const image of images)
    for (let i = 0; i < image.length; i++) {
      const v = image[i]
      if (Number.isFinite(v)) {
        if (v < lo) lo = v
        if (v > hi) hi = v
      }
    }
  return lo <= hi ? [lo, hi] : undefined
}

function validate(options: ImageGridOptions): void {
  const { images, height, width } = options
  if (!Array.isArray(images) || images.length === 0)
    throw new Error(
      `imageGrid: expected a non-empty list of images, got ${Array.isArray(images) ? 'an empty list' : typeof images}`,
    )
  if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0))
    throw new Error(`imageGrid: height and width must be positive integers, got ${height}×${width}`)
  images.forEach((image, i) => {
    if (image?.length !== height * width)
      throw new Error(
        `imageGrid: image ${i} has ${image?.length ?? 'no'} values, expected height×width = ${height}×${width} = ${height * width}`,
      )
  })
  const { columns, pixel, gap, labels, domain, levels } = options
  if (columns !== undefined && !(Number.isInteger(columns) && columns > 0))
    throw new Error(`imageGrid: columns must be a positive integer, got ${columns}`)
  if (pixel !== undefined && !(pixel > 0 && Number.isFinite(pixel)))
    throw new Error(`imageGrid: pixel must be a positive number, got ${pixel}`)
  if (gap !== undefined && !(gap >= 0 && Number.isFinite(gap)))
    throw new Error(`imageGrid: gap must be a non-negative number, got ${gap}`)
  if (labels !== undefined && labels.length !== images.length)
    throw new Error(`imageGrid: labels has ${labels.length} captions for ${images.length} images`)
  if (domain !== undefined && !(Number.isFinite(domain[0]) && Number.isFinite(domain[1]) && domain[1] > domain[0]))
    throw new Error(`imageGrid: domain must be a finite increasing interval, got [${domain.join(', ')}]`)
  if (levels !== undefined && !(Number.isInteger(levels) && levels >= 2 && levels <= 256))
    throw new Error(`imageGrid: levels must be an integer from 2 to 256, got ${levels}`)
}

/** The rects of one image in pixel units: the most common colour as one background rect, then runs of the others. */
function imageRects(
  image: ArrayLike<number>,
  height: number,
  width: number,
  color: (v: number) => number,
  palette: readonly string[],
): string {
  const level = new Int16Array(height * width)
  const counts = new Int32Array(palette.length)
  let blanks = 0
  for (let i = 0; i < level.length; i++) {
    const v = image[i]
    if (Number.isFinite(v)) counts[(level[i] = color(v))]++
    else {
      level[i] = -1
      blanks++
    }
  }
  // With blanks there is no rect under the whole image: every run is drawn.
  let background = -1
  if (blanks === 0)
    for (let k = 0; k < counts.length; k++) if (background < 0 || counts[k] > counts[background]) background = k
  const out: string[] =
    background < 0 ? [] : [`<rect width="${width}" height="${height}" fill="${palette[background]}"/>`]
  for (let r = 0; r < height; r++) {
    let c = 0
    while (c < width) {
      const k = level[r * width + c]
      let end = c + 1
      while (end < width && level[r * width + end] === k) end++
      if (k >= 0 && k !== background)
        out.push(`<rect x="${c}" y="${r}" width="${end - c}" height="1" fill="${palette[k]}"/>`)
      c = end
    }
  }
  return out.join('')
}

/** Images in a grid, row by row, each with its pixels as merged runs of one colour. */
export function imageGrid(options: ImageGridOptions): string {
  validate(options)
  const { images, height, width, labels, title } = options
  const n = images.length
  const map = options.colors ?? 'grey'
  const levels = options.levels ?? 64
  const palette = Array.from({ length: levels }, (_, k) => colorOf(map, k / (levels - 1)))
  const columns = options.columns ?? Math.ceil(Math.sqrt(n))
  const rows = Math.ceil(n / columns)
  const pixel = options.pixel ?? Math.max(1, Math.round(84 / Math.max(height, width)))
  const gap = options.gap ?? 4
  const caption = labels === undefined ? 0 : 14
  const cellW = width * pixel
  const cellH = height * pixel + caption
  const top = title === undefined ? gap : 30
  const gridW = columns * cellW + (columns + 1) * gap
  const figureW = title === undefined ? gridW : Math.max(gridW, 8 * title.length + 20)
  const left = (figureW - gridW) / 2 + gap
  const figureH = top + rows * cellH + rows * gap

  const rangeOf = (imgs: readonly ArrayLike<number>[]): [number, number] => {
    if (options.domain !== undefined) return [options.domain[0], options.domain[1]]
    const [lo, hi] = finiteRange(imgs) ?? [0, 1]
    if (map !== 'diverging') return [lo, hi]
    const a = Math.max(Math.abs(lo), Math.abs(hi))
    return [-a, a]
  }
  const common = options.normalize === 'each' ? undefined : rangeOf(images)
  const body = images.map((image, i) => {
    const [lo, hi] = common ?? rangeOf([image])
    const span = hi - lo === 0 ? 1 : hi - lo
    const color = (v: number) => Math.round(Math.min(1, Math.max(0, (v - lo) / span)) * (levels - 1))
    const x = left + (i % columns) * (cellW + gap)
    const y = top + Math.floor(i / columns) * (cellH + gap)
    const pixels = `<g class="image" data-index="${i}" transform="translate(${num(x)} ${num(y)}) scale(${num(pixel)})">${imageRects(image, height, width, color, palette)}</g>`
    const label =
      labels === undefined
        ? ''
        : `<text x="${num(x + cellW / 2)}" y="${num(y + height * pixel + 11)}" text-anchor="middle" font-size="10" fill="#333">${escapeXml(labels[i])}</text>`
    return pixels + label
  })
  const heading =
    title === undefined
      ? ''
      : `<text x="${num(figureW / 2)}" y="20" text-anchor="middle" font-size="15" font-weight="bold" fill="#111">${escapeXml(title)}</text>`
  return svgRoot(figureW, figureH, `${heading}<g shape-rendering="crispEdges">${body.join('')}</g>`)
}
