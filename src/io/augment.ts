/**
 * Data augmentation for images, on the host, from an explicit key: the same
 * key gives the same batch, so a training run is reproducible.
 */
import { bits, type Key } from '../random.ts'
import { tensor } from '../ops.ts'
import { formatAval, type Tensor } from '../tensor.ts'

/** Options of `randomShift`: the images' size and the largest shift. */
export interface ShiftOptions {
  readonly height: number
  readonly width: number
  /** Each image moves by a whole number of pixels in [−maxShift, maxShift] along each axis (default 2). */
  readonly maxShift?: number
}

/**
 * Moves every image of a batch `[N, height·width]` by its own random offset,
 * filling the uncovered border with 0: small translations leave a digit's
 * class unchanged, so the network sees new examples every epoch.
 */
export function randomShift<N extends number | string, P extends number>(
  images: Tensor<[N, P]>,
  key: Key,
  options: ShiftOptions,
): Tensor<[N, P]> {
  const { height, width, maxShift = 2 } = options
  const shape = images.aval.shape
  if (shape.length !== 2 || shape[1] !== height * width || images.aval.dtype !== 'f32')
    throw new Error(
      `randomShift: expected f32[N,${height * width}] (${height}×${width} images), got ${formatAval(images.aval)}`,
    )
  if (!Number.isInteger(maxShift) || maxShift < 0)
    throw new Error(`randomShift: maxShift must be a non-negative integer, got ${maxShift}`)
  const n = shape[0]
  const source = images.toConcrete().values as Float32Array
  const out = new Float32Array(source.length)
  const r = Uint32Array.from(bits(key, [2 * n]).dataSync(), (v) => v >>> 0)
  const span = 2 * maxShift + 1
  for (let b = 0; b < n; b++) {
    const dy = (r[2 * b] % span) - maxShift
    const dx = (r[2 * b + 1] % span) - maxShift
    const base = b * height * width
    for (let i = Math.max(0, dy); i < Math.min(height, height + dy); i++) {
      const from = base + (i - dy) * width
      const to = base + i * width
      for (let j = Math.max(0, dx); j < Math.min(width, width + dx); j++) out[to + j] = source[from + j - dx]
    }
  }
  return tensor(out, { shape: [n, height * width] }) as unknown as Tensor<[N, P]>
}
