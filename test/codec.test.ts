import * as fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { decodeTensor, formatDecodeError, ops, tensor, tensorCodec, tensorRecord, type Tensor } from '../src/index.ts'
import { matchShape } from '../src/shape/codec.ts'
import { assertProperty } from './lib/property.ts'

/** The decoded tensor, or the test fails with the decoder's message. */
const ok = <A>(r: E.Either<string, A>): A => {
  if (E.isLeft(r)) throw new Error(`expected success, got: ${r.left}`)
  return r.right
}
const message = (r: E.Either<string, unknown>): string => {
  if (E.isRight(r)) throw new Error('expected a decoding error')
  return r.left
}
const rows = (n: number, m: number) =>
  Array.from({ length: n }, (_, i) => Array.from({ length: m }, (_, j) => i * m + j))

describe('tensorCodec decodes', () => {
  it('nested arrays to a tensor typed with the expected shape', () => {
    const x = ok(
      decodeTensor(tensorCodec([2, 3]), [
        [1, 2, 3],
        [4, 5, 6],
      ]),
    )
    expectTypeOf(x).toEqualTypeOf<Tensor<[2, 3], 'f32'>>()
    expect(x.shape).toEqual([2, 3])
    expect(x.dtype).toBe('f32')
    expect(Array.from(x.dataSync())).toEqual([1, 2, 3, 4, 5, 6])
  })
  it('named dims to any size', () => {
    const x = ok(decodeTensor(tensorCodec(['B', 784]), rows(32, 784)))
    expectTypeOf(x).toEqualTypeOf<Tensor<['B', 784], 'f32'>>()
    expect(x.shape).toEqual([32, 784])
  })
  it('{ shape, dtype, data } JSON, with or without the dtype', () => {
    const x = ok(decodeTensor(tensorCodec(['N', 2], 'f64'), { shape: [2, 2], dtype: 'f64', data: [1, 2, 3, 4] }))
    expect(x.dtype).toBe('f64')
    expect(x.toArray()).toEqual([
      [1, 2],
      [3, 4],
    ])
    expect(ok(decodeTensor(tensorCodec([3], 'i32'), { shape: [3], data: [1, 2, 3] })).dtype).toBe('i32')
  })
  it('scalars, typed arrays, booleans, and tensors', () => {
    expect(ok(decodeTensor(tensorCodec([]), 2.5)).item()).toBe(2.5)
    expect(ok(decodeTensor(tensorCodec(['N']), new Float32Array([1, 2]))).shape).toEqual([2])
    expect(Array.from(ok(decodeTensor(tensorCodec([3], 'bool'), [true, false, 1])).dataSync())).toEqual([1, 0, 1])
    const y = tensor([[1, 2]])
    expect(ok(decodeTensor(tensorCodec(['B', 2]), y))).toBe(y)
  })
  it('round trip: decode(encode(x)) equals x', () => {
    const codec = tensorCodec(['B', 3], 'i32')
    const x = ok(
      decodeTensor(codec, [
        [1, 2, 3],
        [4, 5, 6],
      ]),
    )
    const json = codec.encode(x)
    expect(json).toEqual({ shape: [2, 3], dtype: 'i32', data: [1, 2, 3, 4, 5, 6] })
    expect(ok(decodeTensor(codec, JSON.parse(JSON.stringify(json)))).toArray()).toEqual(x.toArray())
    expect(codec.is(x)).toBe(true)
    expect(codec.is(ops.zeros([2, 4], 'i32'))).toBe(false)
    expect(codec.is(ops.zeros([2, 3]))).toBe(false)
  })
})

describe('tensorCodec rejects, naming the expected and the actual shape', () => {
  it('a wrong size', () => {
    expect(message(decodeTensor(tensorCodec(['B', 784]), rows(32, 783)))).toBe(
      'expected shape [B, 784], got [32, 783]: axis 1 is 783, not 784',
    )
  })
  it('a wrong rank', () => {
    expect(message(decodeTensor(tensorCodec(['B', 3]), [1, 2, 3]))).toBe(
      'expected shape [B, 3], got [3]: rank 1, not 2',
    )
    expect(message(decodeTensor(tensorCodec([2, 2]), { shape: [4], data: [1, 2, 3, 4] }))).toBe(
      'expected shape [2, 2], got [4]: rank 1, not 2',
    )
  })
  it('inconsistent named dims', () => {
    expect(message(decodeTensor(tensorCodec(['B', 'B']), rows(2, 3)))).toBe(
      'expected shape [B, B], got [2, 3]: B is 2 at axis 0 but 3 at axis 1',
    )
  })
  it('ragged data, with the position', () => {
    expect(
      message(
        decodeTensor(tensorCodec([2, 3]), [
          [1, 2, 3],
          [4, 5],
        ]),
      ),
    ).toBe('ragged data: expected 3 entries at [1], got 2')
    expect(message(decodeTensor(tensorCodec([2, 2]), [[1, 2], 3]))).toBe(
      'ragged data: expected 2 entries at [1], got number 3',
    )
    expect(message(decodeTensor(tensorCodec([2]), [1, [2]]))).toBe(
      'ragged data: expected a number at [1], got an array',
    )
  })
  it('non-numbers and NaN, with the position', () => {
    expect(
      message(
        decodeTensor(tensorCodec([2, 2]), [
          [1, 2],
          [3, 'x'],
        ]),
      ),
    ).toBe('expected a number, got "x" at [1, 1]')
    expect(message(decodeTensor(tensorCodec([3]), [1, Number.NaN, 3]))).toBe('expected a number, got NaN at [1]')
    expect(message(decodeTensor(tensorCodec([2, 2]), { shape: [2, 2], data: [1, 2, null, 4] }))).toBe(
      'expected a number, got null at data[2] ([1, 0])',
    )
    expect(message(decodeTensor(tensorCodec([2], 'i32'), [1, 2.5]))).toBe('expected an i32, got 2.5 at [1]')
    expect(message(decodeTensor(tensorCodec([1], 'bool'), [2]))).toBe(
      'expected a bool (true, false, 0 or 1), got number 2 at [0]',
    )
  })
  it('a wrong dtype', () => {
    expect(message(decodeTensor(tensorCodec([2]), { shape: [2], dtype: 'f64', data: [1, 2] }))).toBe(
      'expected dtype f32, got f64',
    )
    expect(message(decodeTensor(tensorCodec([2]), { shape: [2], dtype: 'float', data: [1, 2] }))).toBe(
      'dtype must be one of f32, f64, i32, bool, got "float"',
    )
    expect(message(decodeTensor(tensorCodec([2]), tensor([1, 2], { dtype: 'f64' })))).toBe(
      'expected dtype f32, got f64',
    )
  })
  it('malformed JSON and non-data', () => {
    expect(message(decodeTensor(tensorCodec([2, 3]), { shape: [2, 3], data: [1, 2, 3, 4, 5] }))).toBe(
      'data has 5 values, but shape [2, 3] needs 6',
    )
    expect(message(decodeTensor(tensorCodec([2]), { shape: [2, -1], data: [] }))).toBe(
      'shape must be a list of non-negative integers, got [2,-1]',
    )
    expect(message(decodeTensor(tensorCodec([2]), { shape: [2], data: 'ab' }))).toBe(
      'data must be a list of numbers, got "ab"',
    )
    expect(message(decodeTensor(tensorCodec([2]), 'hello'))).toBe(
      'expected nested arrays of numbers or { shape, dtype, data }, got "hello"',
    )
  })
  it('never throws (any JSON value gives a tensor or a message)', () => {
    const codec = tensorCodec(['B', 2])
    assertProperty(
      fc.property(fc.jsonValue(), (u) => {
        const r = decodeTensor(codec, u)
        return E.isLeft(r) ? r.left.length > 0 : r.right.shape[1] === 2
      }),
    )
  })
})

describe('named dims across fields, and reporting inside larger codecs', () => {
  const batch = tensorRecord({ x: tensorCodec(['B', 2]), y: tensorCodec(['B'], 'i32') })
  it('a record decodes when the names agree', () => {
    const { x, y } = ok(decodeTensor(batch, { x: rows(3, 2), y: [0, 1, 1] }))
    expectTypeOf(x).toEqualTypeOf<Tensor<['B', 2], 'f32'>>()
    expectTypeOf(y).toEqualTypeOf<Tensor<['B'], 'i32'>>()
    expect([x.shape, y.shape]).toEqual([[3, 2], [3]])
  })
  it('and names the field where a size differs', () => {
    expect(message(decodeTensor(batch, { x: rows(3, 2), y: [0, 1] }))).toBe(
      'y: expected shape [B], got [2]: B is 3 at x, axis 0 but 2 at y, axis 0',
    )
    expect(message(decodeTensor(batch, { x: rows(3, 3), y: [0, 1, 1] }))).toBe(
      'x: expected shape [B, 2], got [3, 3]: axis 1 is 3, not 2',
    )
  })
  it('formatDecodeError prefixes the path inside io-ts combinators', () => {
    const file = t.type({ weights: tensorCodec([2, 2]), bias: tensorCodec([2]) })
    const r = file.decode({
      weights: [
        [1, 2],
        [3, 4],
      ],
      bias: [1, 2, 3],
    })
    expect(E.isLeft(r) && formatDecodeError(r.left)).toBe('bias: expected shape [2], got [3]: axis 0 is 3, not 2')
  })
  it('matchShape returns the sizes bound to names', () => {
    expect(matchShape(['B', 'T', 8], [4, 16, 8])).toEqual(
      E.right({ B: { size: 4, at: 'axis 0' }, T: { size: 16, at: 'axis 1' } }),
    )
  })
})

describe('deep input', () => {
  it('a 20,000-deep nested array is refused as a Left, not a stack overflow', () => {
    let deep: unknown = 1
    for (let i = 0; i < 20000; i++) deep = [deep]
    const r = decodeTensor(tensorCodec(['N']), deep)
    expect(r._tag).toBe('Left')
    expect((r as { left: string }).left).toContain('20000 levels deep: a tensor has at most 64 axes')
  })
})
