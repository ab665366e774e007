import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ops, random, tensor, type Tensor } from '../src/index.ts'
import {
  decodeSafetensors,
  encodeSafetensors,
  loadParams,
  readSafetensorsHeader,
  saveParams,
  tensorNames,
} from '../src/io/safetensors.ts'
import { Tensor as TensorBase, concrete, type Aval } from '../src/tensor.ts'
import type { TypedArray } from '../src/dtype.ts'
import { flatten } from '../src/tree.ts'
import type { DType } from '../src/dtype.ts'
import { assertProperty } from './lib/property.ts'

const ok = <A>(r: E.Either<string, A>): A => {
  if (E.isLeft(r)) throw new Error(`expected success, got: ${r.left}`)
  return r.right
}
const failure = (r: E.Either<string, unknown>): string => {
  if (E.isRight(r)) throw new Error('expected a decoding error')
  return r.left
}

/** Bytes of a typed array, to compare values exactly (NaN payloads, signed zeros). */
const bytesOf = (x: Tensor): number[] => {
  const v = x.dataSync()
  return Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))
}
const expectSameTree = (a: unknown, b: unknown) => {
  const [la, da] = flatten(a)
  const [lb, db] = flatten(b)
  expect(db).toEqual(da)
  la.forEach((x, i) => {
    expect(lb[i].aval).toEqual(x.aval)
    expect(bytesOf(lb[i])).toEqual(bytesOf(x))
  })
}

/** A tensor whose values can only be read asynchronously, as a device tensor's. */
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

// ---------------------------------------------------------------- an independent reader

/**
 * A minimal safetensors reader written from the format's description alone:
 * u64 little-endian header length, JSON, then little-endian data. It shares
 * no code with src/io/safetensors.ts.
 */
function referenceRead(bytes: Uint8Array): Record<string, { dtype: string; shape: number[]; values: number[] }> {
  let n = 0
  for (let i = 7; i >= 0; i--) n = n * 256 + bytes[i]
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'))
  const base = 8 + n
  const out: Record<string, { dtype: string; shape: number[]; values: number[] }> = {}
  for (const [name, info] of Object.entries<any>(header)) {
    if (name === '__metadata__') continue
    const [begin, end] = info.data_offsets
    const buf = Buffer.from(bytes.subarray(base + begin, base + end))
    const values: number[] = []
    const width = { F32: 4, F64: 8, I32: 4, BOOL: 1 }[info.dtype as string]!
    for (let at = 0; at < buf.length; at += width)
      values.push(
        info.dtype === 'F32'
          ? buf.readFloatLE(at)
          : info.dtype === 'F64'
            ? buf.readDoubleLE(at)
            : info.dtype === 'I32'
              ? buf.readInt32LE(at)
              : buf.readUInt8(at),
      )
    out[name] = { dtype: info.dtype, shape: info.shape, values }
  }
  return out
}

/** A file assembled by hand: header JSON (padded as given) and raw data bytes. */
function handmade(header: unknown, data: number[] = [], pad = true): Uint8Array {
  let json = typeof header === 'string' ? header : JSON.stringify(header)
  if (pad) while (Buffer.byteLength(json) % 8 !== 0) json += ' '
  const h = Buffer.from(json, 'utf8')
  const out = Buffer.alloc(8 + h.length + data.length)
  out.writeBigUInt64LE(BigInt(h.length), 0)
  h.copy(out, 8)
  Buffer.from(data).copy(out, 8 + h.length)
  return new Uint8Array(out)
}
const f32le = (...xs: number[]) =>
  xs.flatMap((x) => {
    const b = Buffer.alloc(4)
    b.writeFloatLE(x)
    return [...b]
  })

// ---------------------------------------------------------------- arbitraries

const dtypeArb = fc.constantFrom<DType>('f32', 'f64', 'i32', 'bool')
const valueArb = (dtype: DType): fc.Arbitrary<number> =>
  dtype === 'f32'
    ? fc.float()
    : dtype === 'f64'
      ? fc.double()
      : dtype === 'i32'
        ? fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
        : fc.constantFrom(0, 1)
const tensorArb: fc.Arbitrary<Tensor> = fc
  .tuple(dtypeArb, fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }))
  .chain(([dtype, shape]) =>
    fc
      .array(valueArb(dtype), {
        minLength: shape.reduce((a, b) => a * b, 1),
        maxLength: shape.reduce((a, b) => a * b, 1),
      })
      .map((values) => tensor(values, { shape, dtype }) as Tensor),
  )
const keyArb = fc.stringMatching(/^[a-z_][a-z0-9_]{0,5}$/)
const treeArb = fc.letrec<{ node: unknown; record: Record<string, unknown> }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tensorArb,
    fc.array(tie('node'), { maxLength: 3 }),
    tie('record'),
  ),
  record: fc.dictionary(keyArb, tie('node'), { maxKeys: 4 }),
})).record

// ---------------------------------------------------------------- tests

describe('safetensors encoding', () => {
  it('round trips random trees exactly, with and without a template', () => {
    assertProperty(
      fc.property(treeArb, fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), (tree, metadata) => {
        const bytes = encodeSafetensors(tree, metadata)
        const withTemplate = ok(decodeSafetensors(bytes, tree))
        expectSameTree(tree, withTemplate.tree)
        expect(withTemplate.metadata).toEqual(metadata)
        const [leaves, def] = flatten(tree)
        const byName = ok(decodeSafetensors(bytes)).tree
        const names = tensorNames(def)
        expect(Object.keys(byName).sort()).toEqual([...names].sort())
        names.forEach((n, i) => expect(bytesOf(byName[n])).toEqual(bytesOf(leaves[i])))
      }),
    )
  })

  it('names tensors by dotted tree paths and pads the header to a multiple of 8', () => {
    const tree = {
      layers: [
        { w: ops.zeros([2, 3]), b: ops.zeros([3]) },
        { w: ops.zeros([3, 1]), b: ops.zeros([1]) },
      ],
      scale: tensor(2),
    }
    const bytes = encodeSafetensors(tree)
    const header = ok(readSafetensorsHeader(bytes))
    expect(header.entries.map((e) => e.name)).toEqual(['layers.0.b', 'layers.0.w', 'layers.1.b', 'layers.1.w', 'scale'])
    expect(header.dataStart % 8).toBe(0)
    expect(bytes.length).toBe(header.dataStart + 4 * (6 + 3 + 3 + 1 + 1))
  })

  it('writes exactly the documented byte layout', () => {
    const bytes = encodeSafetensors({ w: tensor([1, 2]) }, { format: 'pt' })
    const json = '{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    const expected = handmade(json, f32le(1, 2))
    expect(Array.from(bytes)).toEqual(Array.from(expected))
    // header length 88 = 86 bytes of JSON + 2 spaces
    expect(Array.from(bytes.subarray(0, 8))).toEqual([88, 0, 0, 0, 0, 0, 0, 0])
    expect(Array.from(bytes.subarray(8 + 86, 8 + 88))).toEqual([0x20, 0x20])
    expect(Array.from(bytes.subarray(96))).toEqual([0, 0, 0x80, 0x3f, 0, 0, 0, 0x40])
  })

  it('is read alike by an independent minimal reader', () => {
    const k = random.split(random.key(3), 3)
    const tree = {
      w: random.normal(k[0], [3, 4]),
      d: random.normal(k[1], [5], { dtype: 'f64' }),
      i: tensor([-7, 0, 2147483647, -2147483648], { dtype: 'i32' }),
      m: tensor([1, 0, 1], { dtype: 'bool' }),
    }
    const read = referenceRead(encodeSafetensors(tree))
    expect(read.w).toEqual({ dtype: 'F32', shape: [3, 4], values: Array.from(tree.w.dataSync()) })
    expect(read.d).toEqual({ dtype: 'F64', shape: [5], values: Array.from(tree.d.dataSync()) })
    expect(read.i).toEqual({ dtype: 'I32', shape: [4], values: [-7, 0, 2147483647, -2147483648] })
    expect(read.m).toEqual({ dtype: 'BOOL', shape: [3], values: [1, 0, 1] })
  })

  it('reads a file laid out by hand (unsorted offsets, whitespace, no padding needed)', () => {
    const header = {
      b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
      a: { dtype: 'I32', shape: [2], data_offsets: [0, 8] },
    }
    const data = [...[5, 0, 0, 0, 0xfb, 0xff, 0xff, 0xff], ...f32le(0.5)]
    const { tree } = ok(decodeSafetensors(handmade(header, data)))
    expect(tree.a.dtype).toBe('i32')
    expect(Array.from(tree.a.dataSync())).toEqual([5, -5])
    expect(Array.from(tree.b.dataSync())).toEqual([0.5])
    const loose = handmade(
      `{ "a" : {"dtype":"I32","shape":[2],"data_offsets":[0,8]} }\n\t  `,
      [1, 0, 0, 0, 2, 0, 0, 0],
      false,
    )
    expect(Array.from(ok(decodeSafetensors(loose)).tree.a.dataSync())).toEqual([1, 2])
  })

  it('refuses a name given twice (JSON would keep the last) and the name __proto__', () => {
    const entry = '{"dtype":"I32","shape":[1],"data_offsets":[0,4]}'
    const twice = handmade(
      `{"a":${entry},"b":${entry.replace('[0,4]', '[4,8]')},"a" :${entry}}`,
      [1, 0, 0, 0, 2, 0, 0, 0],
      false,
    )
    expect(failure(decodeSafetensors(twice))).toBe('the header names a twice; each tensor name must be unique')
    // A key inside an entry or in the metadata is not a tensor name.
    const nested = handmade(`{"__metadata__":{"a":"x"},"a":${entry}}`, [1, 0, 0, 0], false)
    expect(Array.from(ok(decodeSafetensors(nested)).tree.a.dataSync())).toEqual([1])
    const proto = handmade(`{"__proto__":${entry}}`, [1, 0, 0, 0], false)
    expect(failure(decodeSafetensors(proto))).toContain('a tensor may not be named __proto__')
  })

  it('stores values by dtype even when a tensor holds another array type', () => {
    const odd = concrete([3], 'f32', new Float64Array([0.1, 2, -3]))
    const read = referenceRead(encodeSafetensors({ odd }))
    expect(read.odd.values).toEqual([Math.fround(0.1), 2, -3])
  })

  it('refuses trees it cannot name or store', () => {
    expect(() => encodeSafetensors({ w: ops.zeros([2]), b: 3 })).toThrow(
      /expected a Tensor, an array or a plain record at \.b, got the number 3/,
    )
    expect(() => encodeSafetensors({ 'a.b': ops.zeros([1]), a: { b: ops.zeros([1]) } })).toThrow(
      /two tensors would both be named a\.b/,
    )
    expect(() => encodeSafetensors({ __metadata__: ops.zeros([1]) })).toThrow(/reserved/)
    expect(() => encodeSafetensors({ w: ops.zeros([1]) }, { n: 3 as unknown as string })).toThrow(
      /metadata values must be strings/,
    )
  })
})

describe('safetensors validation', () => {
  const template = { layers: [{ w: ops.zeros([4, 3]), b: ops.zeros([3]) }] }
  const good = encodeSafetensors(template)
  const wHeader = (w: unknown, extra: Record<string, unknown> = {}) => ({ 'layers.0.w': w, ...extra })

  it('reports a file too short for the length field', () => {
    expect(failure(decodeSafetensors(good.subarray(0, 5)))).toBe(
      'the file is 5 bytes, too short for the 8-byte header length',
    )
  })
  it('reports a header length beyond the file', () => {
    const bytes = good.slice()
    new DataView(bytes.buffer).setBigUint64(0, 10n ** 12n, true)
    expect(failure(decodeSafetensors(bytes))).toMatch(
      /^the header length 1000000000000 exceeds the file: only \d+ bytes follow/,
    )
    const huge = good.slice()
    new DataView(huge.buffer).setBigUint64(0, 2n ** 64n - 1n, true)
    expect(failure(decodeSafetensors(huge))).toMatch(/the header length 18446744073709551615 exceeds the file/)
  })
  it('reports a truncated file', () => {
    const header = ok(readSafetensorsHeader(good))
    expect(failure(decodeSafetensors(good.subarray(0, good.length - 4)))).toMatch(
      /data_offsets \[\d+, \d+\] exceed the data section \(\d+ bytes; truncated file\?\)/,
    )
    expect(failure(decodeSafetensors(good.subarray(0, header.dataStart - 3)))).toMatch(
      /the header length \d+ exceeds the file/,
    )
  })
  it('reports bad JSON, bad UTF-8 and a header of the wrong form', () => {
    expect(failure(decodeSafetensors(handmade('{"a": {"dtype": "F32",')))).toMatch(/^the header is not valid JSON: /)
    const latin = handmade('{"x":1}   ')
    latin[10] = 0xff
    expect(failure(decodeSafetensors(latin))).toBe('the header is not valid UTF-8')
    expect(failure(decodeSafetensors(handmade('[1, 2, 3]')))).toMatch(/must be a JSON object starting with '\{'/)
    expect(failure(decodeSafetensors(handmade({ w: [1, 2] })))).toBe(
      'w: expected { dtype, shape, data_offsets }, got [1,2]',
    )
    expect(failure(decodeSafetensors(handmade({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } })))).toBe(
      'w: shape.1: expected a non-negative integer, got -1',
    )
    expect(failure(decodeSafetensors(handmade({ w: { dtype: 'F32', shape: [2] } })))).toMatch(/^w: data_offsets: /)
    expect(failure(decodeSafetensors(handmade({ __metadata__: { n: 3 } })))).toBe(
      '__metadata__: n: expected a string, got 3',
    )
  })
  it('reports unsupported dtypes', () => {
    expect(
      failure(decodeSafetensors(handmade(wHeader({ dtype: 'F16', shape: [2], data_offsets: [0, 4] }), [0, 0, 0, 0]))),
    ).toBe('layers.0.w: dtype F16 is not supported (expected one of F32, F64, I32, BOOL)')
  })
  it('reports offsets that overlap, leave holes, run backwards or disagree with the shape', () => {
    const overlap = handmade(
      {
        a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
        b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
      },
      new Array(16).fill(0),
    )
    expect(failure(decodeSafetensors(overlap))).toBe('b: data_offsets [8, 16] overlap those of a [0, 16]')
    const hole = handmade(
      { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } },
      new Array(12).fill(0),
    )
    expect(failure(decodeSafetensors(hole))).toBe(
      'bytes 4 to 8 of the data section belong to no tensor (after a, before b)',
    )
    const trailing = handmade({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Array(8).fill(0))
    expect(failure(decodeSafetensors(trailing))).toBe('bytes 4 to 8 of the data section belong to no tensor (after a)')
    const backwards = handmade({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, new Array(4).fill(0))
    expect(failure(decodeSafetensors(backwards))).toBe('a: data_offsets [4, 0] run backwards')
    const short = handmade({ a: { dtype: 'F64', shape: [2, 3], data_offsets: [0, 24] } }, new Array(24).fill(0))
    expect(failure(decodeSafetensors(short))).toBe(
      'a: shape [2, 3] of F64 takes 48 bytes, but data_offsets [0, 24] span 24',
    )
  })
  it('reports BOOL bytes other than 0 and 1', () => {
    expect(
      failure(decodeSafetensors(handmade({ m: { dtype: 'BOOL', shape: [3], data_offsets: [0, 3] } }, [1, 0, 7]))),
    ).toBe('m: BOOL element 2 is the byte 7, expected 0 or 1')
  })
  it('checks names, shapes and dtypes against a template', () => {
    expect(E.isRight(decodeSafetensors(good, template))).toBe(true)
    const wide = encodeSafetensors({ layers: [{ w: ops.zeros([4, 2]), b: ops.zeros([3]) }] })
    expect(failure(decodeSafetensors(wide, template))).toBe('layers.0.w: expected shape [4, 3], got [4, 2]')
    const f64 = encodeSafetensors({ layers: [{ w: ops.zeros([4, 3], 'f64'), b: ops.zeros([3]) }] })
    expect(failure(decodeSafetensors(f64, template))).toBe('layers.0.w: expected dtype F32, got F64')
    const extra = encodeSafetensors({ layers: [{ w: ops.zeros([4, 3]), b: ops.zeros([3]), g: ops.zeros([3]) }] })
    expect(failure(decodeSafetensors(extra, template))).toBe('tensors not in the template: layers.0.g')
    const missing = encodeSafetensors({ layers: [{ w: ops.zeros([4, 3]) }] })
    expect(failure(decodeSafetensors(missing, template))).toBe('missing tensors that the template expects: layers.0.b')
    const both = encodeSafetensors({ layers: [{ w: ops.zeros([784, 128]) }], extra: ops.zeros([1]) })
    expect(failure(decodeSafetensors(both, { layers: [{ w: ops.zeros([784, 256]), b: ops.zeros([256]) }] }))).toBe(
      'missing tensors that the template expects: layers.0.b; tensors not in the template: extra; layers.0.w: expected shape [784, 256], got [784, 128]',
    )
  })
})

describe('saveParams and loadParams', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adjoint-safetensors-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })
  const params = { dense: { w: random.normal(random.key(1), [8, 4]), b: ops.zeros([4]) } }

  it('round trips through a file into the template structure', async () => {
    const path = join(dir, 'params.safetensors')
    await saveParams(path, params)
    const loaded = await loadParams(path, params)
    expectSameTree(params, loaded)
    expect(Object.keys(await loadParams(path)).sort()).toEqual(['dense.b', 'dense.w'])
    expect(await readdir(dir)).toEqual(['params.safetensors'])
  })

  it('removes the temporary file a killed writer left behind, and no other', async () => {
    const path = join(dir, 'orphans.safetensors')
    // A process that has exited: its id names no running writer.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number
    const orphan = `orphans.safetensors.${dead}-1-beef.tmp`
    const ours = `orphans.safetensors.${process.pid}-99999-beef.tmp`
    await writeFile(join(dir, orphan), new Uint8Array(64))
    await writeFile(join(dir, ours), new Uint8Array(64))
    await saveParams(path, params)
    const left = await readdir(dir)
    expect(left).not.toContain(orphan)
    expect(left).toContain(ours)
    await rm(join(dir, ours))
  })

  it('replaces an existing file in full', async () => {
    const path = join(dir, 'replace.safetensors')
    await saveParams(path, { big: ops.zeros([1000]) })
    await saveParams(path, params)
    expectSameTree(params, await loadParams(path, params))
  })

  it('rejects a corrupt or mismatched file with the path and the reason', async () => {
    const path = join(dir, 'corrupt.safetensors')
    const bytes = encodeSafetensors(params)
    await writeFile(path, bytes.subarray(0, bytes.length - 1))
    await expect(loadParams(path, params)).rejects.toThrow(
      `loadParams: ${path}: dense.w: data_offsets [16, 144] exceed the data section (143 bytes; truncated file?)`,
    )
    await writeFile(path, bytes)
    await expect(loadParams(path, { dense: { w: ops.zeros([8, 5]), b: ops.zeros([4]) } })).rejects.toThrow(
      'dense.w: expected shape [8, 5], got [8, 4]',
    )
    await expect(loadParams(join(dir, 'absent.safetensors'), params)).rejects.toThrow(
      /loadParams: could not read .*absent\.safetensors: ENOENT/,
    )
  })

  it('leaves an existing file intact when the tree cannot be encoded', async () => {
    const path = join(dir, 'keep.safetensors')
    await saveParams(path, params)
    const before = await readFile(path)
    await expect(saveParams(path, { dense: { w: params.dense.w, b: [1, 2] } })).rejects.toThrow(
      /saveParams: nothing written to .*keep\.safetensors: expected a Tensor, an array or a plain record at \.dense\.b\[0\], got the number 1/,
    )
    expect(Buffer.compare(await readFile(path), before)).toBe(0)
    expect((await readdir(dir)).filter((f) => f.startsWith('keep'))).toEqual(['keep.safetensors'])
  })

  it('leaves the target and no temporary file behind when the rename fails', async () => {
    const target = join(dir, 'occupied')
    await mkdir(join(target, 'inside'), { recursive: true })
    await expect(saveParams(target, params)).rejects.toThrow(
      /saveParams: could not write .*occupied: .*\(the file was left unchanged\)/,
    )
    expect(await readdir(target)).toEqual(['inside'])
    expect((await readdir(dir)).filter((f) => f.startsWith('occupied'))).toEqual(['occupied'])
  })

  it('fails cleanly in a directory that does not exist', async () => {
    await expect(saveParams(join(dir, 'no', 'such', 'p.safetensors'), params)).rejects.toThrow(
      /could not write .*ENOENT/,
    )
  })

  it('leaves an existing file intact when the disk refuses the write half way (file size limit)', async () => {
    // A child process under `ulimit -f 16` (8 KiB) writes 64 KiB: the write fails with EFBIG part way.
    const path = join(dir, 'limited.safetensors')
    await saveParams(path, params)
    const before = await readFile(path)
    const script = join(dir, 'write-big.ts')
    const module = fileURLToPath(new URL('../src/io/safetensors.ts', import.meta.url))
    await writeFile(
      script,
      [
        `import { saveParams } from ${JSON.stringify(module)}`,
        `import { concrete } from ${JSON.stringify(fileURLToPath(new URL('../src/tensor.ts', import.meta.url)))}`,
        `const big = { w: concrete([16384], 'f32', new Float32Array(16384).fill(1)) }`,
        `saveParams(${JSON.stringify(path)}, big).then(() => console.log('written'), (e) => console.log(e.message))`,
      ].join('\n'),
    )
    const child = spawnSync('bash', ['-c', `ulimit -f 16 && exec node --import tsx ${JSON.stringify(script)}`], {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    })
    expect(child.stderr).toBe('')
    expect(child.stdout).toMatch(
      /saveParams: could not write .*limited\.safetensors: EFBIG.*\(the file was left unchanged\)/,
    )
    expect(Buffer.compare(await readFile(path), before)).toBe(0)
    expect((await readdir(dir)).filter((f) => f.startsWith('limited'))).toEqual(['limited.safetensors'])
    expectSameTree(params, await loadParams(path, params))
  })

  it('reads device-like tensors through data() before writing', async () => {
    const path = join(dir, 'async.safetensors')
    const x = random.uniform(random.key(9), [3, 3])
    await saveParams(path, { x: new DeviceLike(x.aval, x.dataSync()) })
    expectSameTree({ x }, await loadParams(path, { x }))
  })
})
