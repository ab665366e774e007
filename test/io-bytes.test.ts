/**
 * Parameters as bytes, for places without a file system: `paramsToBytes` /
 * `paramsToBlob` and `paramsFromBytes` (a Uint8Array, ArrayBuffer, Blob or
 * fetch Response), checked against bytes laid out by hand from the
 * safetensors description; and the error a file function gives where Node's
 * file system is missing or replaced by a bundler's empty stand-in.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ops, tensor, type Tensor } from '../src/index.ts'
import { readFileBytes, writeFileAtomic } from '../src/io/files.ts'
import { loadParams, paramsFromBytes, paramsToBlob, paramsToBytes, saveParams } from '../src/io/safetensors.ts'
import { Tensor as TensorBase, type Aval } from '../src/tensor.ts'
import type { TypedArray } from '../src/dtype.ts'

/** A tensor read only through `await data()`, as a device tensor is. */
class DeviceLike extends TensorBase {
  constructor(
    readonly aval: Aval,
    private readonly host: TypedArray,
  ) {
    super()
  }
  dataSync(): never {
    throw new Error('a device tensor is read with await data()')
  }
  override async data(): Promise<TypedArray> {
    return this.host.slice()
  }
}

/** Safetensors bytes laid out by hand: u64 LE header length, the JSON padded to 8, then the data. */
function handmade(header: Record<string, unknown>, data: readonly number[]): Uint8Array {
  let json = JSON.stringify(header)
  while (json.length % 8 !== 0) json += ' '
  const out = new Uint8Array(8 + json.length + data.length)
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true)
  out.set(new TextEncoder().encode(json), 8)
  out.set(data, 8 + json.length)
  return out
}
const f32le = (...xs: number[]): number[] => [...new Uint8Array(new Float32Array(xs).buffer)]
const i32le = (...xs: number[]): number[] => [...new Uint8Array(new Int32Array(xs).buffer)]

const params = () => ({
  layers: [{ w: tensor([[0.5, -1.25]]), b: tensor([3]) }],
  steps: tensor([7, -2], { dtype: 'i32' }),
})
/** The same parameters, laid out by hand in the order the encoder writes them (flatten order: keys sorted). */
const paramsBytes = () =>
  handmade(
    {
      'layers.0.b': { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      'layers.0.w': { dtype: 'F32', shape: [1, 2], data_offsets: [4, 12] },
      steps: { dtype: 'I32', shape: [2], data_offsets: [12, 20] },
    },
    [...f32le(3), ...f32le(0.5, -1.25), ...i32le(7, -2)],
  )

const valuesOf = async (tree: ReturnType<typeof params>) => ({
  w: Array.from(await tree.layers[0].w.data()),
  b: Array.from(await tree.layers[0].b.data()),
  steps: Array.from(await tree.steps.data()),
})
const expected = { w: [0.5, -1.25], b: [3], steps: [7, -2] }

/** The data section of safetensors bytes, found from the header length alone. */
const dataSection = (bytes: Uint8Array): number[] => {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true))
  return Array.from(bytes.subarray(8 + n))
}

describe('parameters to bytes and back', () => {
  it('paramsToBytes writes the values where the safetensors layout puts them', async () => {
    const bytes = await paramsToBytes(params())
    expect(dataSection(bytes)).toEqual(dataSection(paramsBytes()))
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true))
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)))
    expect(header['layers.0.w']).toEqual({ dtype: 'F32', shape: [1, 2], data_offsets: [4, 12] })
    expect(header.steps).toEqual({ dtype: 'I32', shape: [2], data_offsets: [12, 20] })
  })

  it('paramsFromBytes reads bytes laid out by hand into the template', async () => {
    const back = await paramsFromBytes(paramsBytes(), params())
    expect(await valuesOf(back)).toEqual(expected)
    expect(back.steps.dtype).toBe('i32')
  })

  it('round trips through a Uint8Array, an ArrayBuffer and a view at an offset in a larger buffer', async () => {
    const bytes = await paramsToBytes(params())
    expect(await valuesOf(await paramsFromBytes(bytes, params()))).toEqual(expected)
    expect(await valuesOf(await paramsFromBytes(bytes.slice().buffer, params()))).toEqual(expected)
    const larger = new Uint8Array(bytes.length + 13)
    larger.set(bytes, 5)
    expect(await valuesOf(await paramsFromBytes(larger.subarray(5, 5 + bytes.length), params()))).toEqual(expected)
  })

  it('round trips through a Blob and a fetch Response', async () => {
    const blob = await paramsToBlob(params(), { epoch: '3' })
    expect(blob.type).toBe('application/octet-stream')
    expect(blob.size).toBe((await paramsToBytes(params(), { epoch: '3' })).length)
    expect(await valuesOf(await paramsFromBytes(blob, params()))).toEqual(expected)
    const response = new Response(blob, { status: 200 })
    expect(await valuesOf(await paramsFromBytes(response, params()))).toEqual(expected)
  })

  it('without a template gives every tensor by its dotted name', async () => {
    const all = await paramsFromBytes(await paramsToBlob(params()))
    expect(Object.keys(all).sort()).toEqual(['layers.0.b', 'layers.0.w', 'steps'])
    expect(Array.from(all.steps.dataSync())).toEqual([7, -2])
  })

  it('reads device tensors through data() before encoding', async () => {
    const tree = { w: new DeviceLike({ shape: [3], dtype: 'f32' }, new Float32Array([1, 2, 3])) }
    const back = await paramsFromBytes(await paramsToBytes(tree), { w: tensor([0, 0, 0]) as Tensor<[3]> })
    expect(Array.from(back.w.dataSync())).toEqual([1, 2, 3])
  })
})

describe('parameters from bad bytes', () => {
  it('rejects truncated and corrupt bytes with the reason', async () => {
    const bytes = paramsBytes()
    await expect(paramsFromBytes(bytes.subarray(0, bytes.length - 1), params())).rejects.toThrow(
      'paramsFromBytes: steps: data_offsets [12, 20] exceed the data section (19 bytes; truncated file?)',
    )
    await expect(paramsFromBytes(new Uint8Array([1, 2, 3]), params())).rejects.toThrow(
      'paramsFromBytes: the file is 3 bytes, too short for the 8-byte header length',
    )
    const garbled = bytes.slice()
    garbled[8] = 0x5b // '[' where the header's '{' was
    await expect(paramsFromBytes(garbled, params())).rejects.toThrow(
      /^paramsFromBytes: the header must be a JSON object starting with '\{', got "\[/,
    )
  })

  it('rejects bytes that do not match the template, naming each difference', async () => {
    const other = { layers: [{ w: tensor([[1, 2, 3]]), b: tensor([3]) }], steps: tensor([7, -2]) }
    await expect(paramsFromBytes(paramsBytes(), other)).rejects.toThrow(
      'paramsFromBytes: layers.0.w: expected shape [1, 3], got [1, 2]; steps: expected dtype F32, got I32',
    )
  })

  it('rejects what is not bytes, a Blob or a Response, saying what came', async () => {
    await expect(paramsFromBytes('weights.safetensors' as never)).rejects.toThrow(
      'paramsFromBytes: expected a Uint8Array, ArrayBuffer, Blob or Response, got string',
    )
    await expect(paramsFromBytes({ size: 3 } as never)).rejects.toThrow(
      'paramsFromBytes: expected a Uint8Array, ArrayBuffer, Blob or Response, got Object',
    )
  })

  it('rejects a response that is not a success, with its status', async () => {
    await expect(paramsFromBytes(new Response('not found', { status: 404 }), params())).rejects.toThrow(
      'paramsFromBytes: the response has status 404, not a success (2xx)',
    )
  })

  it('rejects a source whose reading fails, with the reason', async () => {
    const broken = { arrayBuffer: () => Promise.reject(new Error('the connection was reset')) }
    await expect(paramsFromBytes(broken as never, params())).rejects.toThrow(
      'paramsFromBytes: reading the Object failed: the connection was reset',
    )
  })

  it('names itself when the tree cannot be encoded', async () => {
    await expect(paramsToBytes({ w: [1, 2] })).rejects.toThrow(/^paramsToBytes: /)
    await expect(paramsToBlob({ a: { b: tensor([1]) }, 'a.b': tensor([2]) })).rejects.toThrow(
      /^paramsToBytes: encodeSafetensors: two tensors would both be named a\.b/,
    )
  })
})

describe('file functions without a file system', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  // What a bundler gives in a browser: an empty stand-in for node:fs/promises (Vite), or a module that cannot load.
  it('saveParams and loadParams name themselves and the browser way when the module is an empty stand-in', async () => {
    vi.spyOn(process, 'getBuiltinModule').mockReturnValue({})
    await expect(saveParams('/tmp/w.safetensors', params())).rejects.toThrow(
      "saveParams: needs Node's file system (node:fs/promises), which this environment does not provide (the module found in its place has no file functions); in a browser, use io.paramsToBytes(params) or io.paramsToBlob(params)",
    )
    await expect(loadParams('/tmp/w.safetensors', params())).rejects.toThrow(
      /^loadParams: needs Node's file system .*; in a browser, use io\.paramsFromBytes\(await fetch\(url\), template\)/,
    )
  })

  it('writeFileAtomic and readFileBytes say why the import failed and what a browser offers', async () => {
    vi.spyOn(process, 'getBuiltinModule').mockImplementation(() => {
      throw new TypeError('Failed to resolve module specifier "node:fs/promises"')
    })
    await expect(writeFileAtomic('/tmp/x.bin', new Uint8Array(1))).rejects.toThrow(
      /^writeFileAtomic: needs Node's file system \(node:fs\/promises\), which this environment does not provide \(importing it failed: Failed to resolve module specifier "node:fs\/promises"\); in a browser, keep the bytes in memory/,
    )
    await expect(readFileBytes('/tmp/x.bin')).rejects.toThrow(
      /^readFileBytes: needs Node's file system .*; in a browser, get the bytes with fetch\(url\)/,
    )
  })

  it('the encoding still works there: bytes need no file system', async () => {
    vi.spyOn(process, 'getBuiltinModule').mockReturnValue({})
    const bytes = await paramsToBytes({ w: ops.add(tensor([1]), tensor([1])) })
    expect(Array.from((await paramsFromBytes(bytes)).w.dataSync())).toEqual([2])
  })
})
