import { describe, expect, it } from 'vitest'
import { io, random, tensor } from '../src/index.ts'

/** The image moved by (dy, dx), zero where nothing moved in. */
function shifted(src: ArrayLike<number>, h: number, w: number, dy: number, dx: number): number[] {
  return Array.from({ length: h * w }, (_, k) => {
    const [i, j] = [Math.floor(k / w) - dy, (k % w) - dx]
    return i >= 0 && i < h && j >= 0 && j < w ? src[i * w + j] : 0
  })
}

describe('randomShift', () => {
  const h = 5
  const w = 4
  const n = 64
  const images = tensor(
    Array.from({ length: n * h * w }, (_, k) => 1 + (k % 97) / 97),
    { shape: [n, h * w] },
  )

  it('moves each image by its own offset within ±maxShift, filling with 0', () => {
    const out = io.randomShift(images, random.key(3), { height: h, width: w, maxShift: 2 }).dataSync()
    const src = images.dataSync()
    const seen = new Set<string>()
    for (let b = 0; b < n; b++) {
      const image = Array.from(src.slice(b * h * w, (b + 1) * h * w))
      const got = Array.from(out.slice(b * h * w, (b + 1) * h * w))
      const offsets = []
      for (let dy = -2; dy <= 2; dy++)
        for (let dx = -2; dx <= 2; dx++)
          if (shifted(image, h, w, dy, dx).every((v, k) => Math.abs(v - got[k]) < 1e-6)) offsets.push(`${dy},${dx}`)
      expect(offsets).toHaveLength(1)
      seen.add(offsets[0])
    }
    // 64 draws from 25 offsets: most of them appear.
    expect(seen.size).toBeGreaterThan(15)
  })

  it('is a function of the key', () => {
    const a = io.randomShift(images, random.key(5), { height: h, width: w }).dataSync()
    const b = io.randomShift(images, random.key(5), { height: h, width: w }).dataSync()
    const c = io.randomShift(images, random.key(6), { height: h, width: w }).dataSync()
    expect(Array.from(a)).toEqual(Array.from(b))
    expect(Array.from(a)).not.toEqual(Array.from(c))
  })

  it('maxShift 0 is the identity; a wrong shape is named', () => {
    expect(Array.from(io.randomShift(images, random.key(1), { height: h, width: w, maxShift: 0 }).dataSync())).toEqual(
      Array.from(images.dataSync()),
    )
    expect(() => io.randomShift(images, random.key(1), { height: 4, width: 4 })).toThrow(
      'randomShift: expected f32[N,16] (4×4 images), got f32[64,20]',
    )
  })
})
