/**
 * Parameter files in the safetensors layout, so that weights move to and from
 * other ecosystems (PyTorch, JAX, Hugging Face):
 *
 *   bytes 0..8      N, the header length: an unsigned 64-bit little-endian integer
 *   bytes 8..8+N    the header: UTF-8 JSON
 *                     { "<name>": { "dtype": "F32", "shape": [784, 256], "data_offsets": [begin, end] },
 *                       "__metadata__": { "<key>": "<string>" } }   (optional)
 *                   padded with spaces so that the data starts at a multiple of 8
 *   bytes 8+N..     the data section: every tensor's elements, row-major and
 *                   little-endian, at [begin, end) relative to the section's start
 *
 * A tensor's name is its path in the tree, joined with dots: `layers.0.w` for
 * `{ layers: [{ w }] }`; a tree that is a single tensor has the empty name.
 *
 * Laws:
 *  - round trip: `decodeSafetensors(encodeSafetensors(t), t)` is `t`, value for
 *    value (NaN payloads and signed zeros included);
 *  - decoding never throws: it gives tensors, or a message that names the
 *    first thing wrong (the header's length, JSON, form, dtypes, offsets, or a
 *    difference from the template's names, shapes and dtypes);
 *  - the offsets of a valid file tile the data section exactly: no overlap,
 *    no hole, every byte belongs to one tensor and size = product(shape)·itemsize.
 *
 * Files are for Node (`saveParams`, `loadParams`); in a browser the same bytes
 * come from `paramsToBytes` / `paramsToBlob` and go back through
 * `paramsFromBytes` (bytes, a Blob or File, or a fetch Response).
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'
import { allocate, fromNumbers, type DType, type TypedArray } from '../dtype.ts'
import { formatDecodeError } from '../shape/codec.ts'
import { ConcreteTensor, concrete, formatShape, sizeOf, type Tensor } from '../tensor.ts'
import { flatten, unflatten, type TreeDef } from '../tree.ts'
import { readFileBytes, writeFileAtomic } from './files.ts'

/** The dtypes this library stores, under their safetensors names. */
const fileDTypes = { F32: 'f32', F64: 'f64', I32: 'i32', BOOL: 'bool' } as const satisfies Record<string, DType>
/** The dtype names of the safetensors format that are read and written. */
export type FileDType = keyof typeof fileDTypes
const fileDTypeOf: Record<DType, FileDType> = { f32: 'F32', f64: 'F64', i32: 'I32', bool: 'BOOL' }
const itemSize: Record<FileDType, number> = { F32: 4, F64: 8, I32: 4, BOOL: 1 }
const arrayTypeOf = { F32: Float32Array, F64: Float64Array, I32: Int32Array, BOOL: Uint8Array } as const
const isFileDType = (s: string): s is FileDType => Object.hasOwn(fileDTypes, s)

const METADATA = '__metadata__'
/** The reference implementation refuses headers above 100 MB; so do we, before parsing. */
const MAX_HEADER_BYTES = 100_000_000

/** One tensor of a safetensors file: its name, dtype, shape and byte range in the data section. */
export interface TensorEntry {
  readonly name: string
  readonly dtype: FileDType
  readonly shape: readonly number[]
  readonly begin: number
  readonly end: number
}

/** The parsed header of a safetensors file: its tensors, the metadata and where the data starts. */
export interface SafetensorsHeader {
  /** Entries in the order of their data. */
  readonly entries: readonly TensorEntry[]
  readonly metadata: Readonly<Record<string, string>>
  /** Where the data section starts in the file. */
  readonly dataStart: number
}

/** A decoded safetensors file: the pytree of its tensors and its metadata. */
export interface Safetensors<T> {
  readonly tree: T
  readonly metadata: Readonly<Record<string, string>>
}

// ---------------------------------------------------------------- names

/** Dotted names of a tree's leaves, in `flatten` order: `layers.0.w`. */
export function tensorNames(def: TreeDef): string[] {
  const walk = (d: TreeDef, prefix: string): string[] => {
    const join = (part: string | number) => (prefix === '' ? String(part) : `${prefix}.${part}`)
    switch (d.kind) {
      case 'leaf':
        return [prefix]
      case 'none':
        return []
      case 'array':
        return d.children.flatMap((c, i) => walk(c, join(i)))
      case 'record':
        return d.children.flatMap((c, i) => walk(c, join(d.keys[i])))
      default:
        return d satisfies never
    }
  }
  return walk(def, '')
}

const shown = (name: string): string => (name === '' ? '(the top-level tensor)' : name)

function checkNames(names: readonly string[]): void {
  const seen = new Set<string>()
  for (const name of names) {
    if (name === METADATA) throw new Error(`encodeSafetensors: the name ${METADATA} is reserved for the metadata`)
    if (seen.has(name))
      throw new Error(
        `encodeSafetensors: two tensors would both be named ${shown(name)}; rename a key so that dotted paths differ`,
      )
    seen.add(name)
  }
}

// ---------------------------------------------------------------- bytes

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

function writeValues(out: DataView, at: number, dtype: FileDType, values: TypedArray): void {
  if (dtype === 'BOOL') {
    for (let i = 0; i < values.length; i++) out.setUint8(at + i, values[i] ? 1 : 0)
    return
  }
  if (littleEndianHost) {
    new Uint8Array(out.buffer, out.byteOffset + at, values.byteLength).set(
      new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    )
    return
  }
  const size = itemSize[dtype]
  for (let i = 0; i < values.length; i++) {
    if (dtype === 'F32') out.setFloat32(at + i * size, values[i], true)
    else if (dtype === 'F64') out.setFloat64(at + i * size, values[i], true)
    else out.setInt32(at + i * size, values[i], true)
  }
}

function readValues(bytes: Uint8Array, entry: TensorEntry): E.Either<string, TypedArray> {
  const n = sizeOf(entry.shape)
  const dtype = fileDTypes[entry.dtype]
  // slice() copies into a fresh buffer, so the typed array is aligned whatever the offset.
  const own = bytes.slice(entry.begin, entry.end)
  if (entry.dtype === 'BOOL') {
    const bad = own.findIndex((b) => b > 1)
    if (bad >= 0) return E.left(`${shown(entry.name)}: BOOL element ${bad} is the byte ${own[bad]}, expected 0 or 1`)
    return E.right(own)
  }
  if (littleEndianHost) {
    const view =
      entry.dtype === 'F32'
        ? new Float32Array(own.buffer)
        : entry.dtype === 'F64'
          ? new Float64Array(own.buffer)
          : new Int32Array(own.buffer)
    return E.right(view)
  }
  const values = allocate(dtype, n)
  const data = new DataView(own.buffer)
  const size = itemSize[entry.dtype]
  for (let i = 0; i < n; i++)
    values[i] =
      entry.dtype === 'F32'
        ? data.getFloat32(i * size, true)
        : entry.dtype === 'F64'
          ? data.getFloat64(i * size, true)
          : data.getInt32(i * size, true)
  return E.right(values)
}

// ---------------------------------------------------------------- encode

/**
 * The safetensors bytes of a tree of concrete tensors (read device tensors
 * first, or use `saveParams`, which does). Throws on a leaf that is not a
 * tensor, on names that collide, and on metadata values that are not strings.
 */
export function encodeSafetensors(tree: unknown, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const [leaves, def] = flatten(tree)
  const names = tensorNames(def)
  checkNames(names)
  const header: Record<string, unknown> = {}
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== 'string')
        throw new TypeError(
          `encodeSafetensors: metadata values must be strings, got ${typeof v} for ${JSON.stringify(k)}`,
        )
    header[METADATA] = { ...metadata }
  }
  const values: TypedArray[] = []
  let offset = 0
  leaves.forEach((leaf, i) => {
    const dtype = fileDTypeOf[leaf.aval.dtype]
    const read = leaf instanceof ConcreteTensor ? leaf.values : leaf.dataSync()
    // The byte copy below relies on the array type matching the dtype.
    const data = read instanceof arrayTypeOf[dtype] ? read : fromNumbers(leaf.aval.dtype, read)
    const bytes = data.length * itemSize[dtype]
    header[names[i]] = { dtype, shape: [...leaf.aval.shape], data_offsets: [offset, offset + bytes] }
    values.push(data)
    offset += bytes
  })
  const json = new TextEncoder().encode(JSON.stringify(header))
  const headerLength = Math.ceil(json.length / 8) * 8
  const out = new Uint8Array(8 + headerLength + offset)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, BigInt(headerLength), true)
  out.set(json, 8)
  out.fill(0x20, 8 + json.length, 8 + headerLength)
  let at = 8 + headerLength
  leaves.forEach((leaf, i) => {
    const dtype = fileDTypeOf[leaf.aval.dtype]
    writeValues(view, at, dtype, values[i])
    at += values[i].length * itemSize[dtype]
  })
  return out
}

// ---------------------------------------------------------------- decode

const size = new t.Type<number, number, unknown>(
  'non-negative integer',
  (u): u is number => typeof u === 'number' && Number.isSafeInteger(u) && u >= 0,
  (u, c) =>
    typeof u === 'number' && Number.isSafeInteger(u) && u >= 0
      ? t.success(u)
      : t.failure(u, c, `expected a non-negative integer, got ${JSON.stringify(u)}`),
  t.identity,
)
const text = new t.Type<string, string, unknown>(
  'string',
  (u): u is string => typeof u === 'string',
  (u, c) => (typeof u === 'string' ? t.success(u) : t.failure(u, c, `expected a string, got ${JSON.stringify(u)}`)),
  t.identity,
)
/** One tensor's header entry as the file states it (the dtype is checked against the supported ones afterwards). */
export const TensorInfoCodec = t.type(
  { dtype: text, shape: t.array(size), data_offsets: t.tuple([size, size]) },
  'TensorInfo',
)
/** The codec of the metadata of a safetensors header: string keys to string values. */
export const MetadataCodec = t.record(t.string, text, 'Metadata')

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === 'object' && u !== null && !Array.isArray(u)

/** The first key of a JSON object's top level that occurs twice, or null (the text is valid JSON). */
function repeatedTopLevelKey(json: string): string | null {
  const seen = new Set<string>()
  let depth = 0
  for (let i = 0; i < json.length; i++) {
    const c = json[i]
    if (c === '{' || c === '[') depth++
    else if (c === '}' || c === ']') depth--
    else if (c === '"') {
      let j = i + 1
      while (json[j] !== '"') j += json[j] === '\\' ? 2 : 1
      if (depth === 1) {
        let k = j + 1
        while (json[k] === ' ' || json[k] === '\n' || json[k] === '\r' || json[k] === '\t') k++
        if (json[k] === ':') {
          const key = JSON.parse(json.slice(i, j + 1)) as string
          if (seen.has(key)) return key
          seen.add(key)
        }
      }
      i = j
    }
  }
  return null
}

/** The header of a safetensors file, checked for form, dtypes and offsets, without reading the data. */
export function readSafetensorsHeader(bytes: Uint8Array): E.Either<string, SafetensorsHeader> {
  if (bytes.length < 8) return E.left(`the file is ${bytes.length} bytes, too short for the 8-byte header length`)
  const declared = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true)
  if (declared > BigInt(bytes.length - 8))
    return E.left(
      `the header length ${declared} exceeds the file: only ${bytes.length - 8} bytes follow the length field (truncated or not a safetensors file?)`,
    )
  const headerLength = Number(declared)
  if (headerLength > MAX_HEADER_BYTES)
    return E.left(`the header length ${headerLength} is above the limit of ${MAX_HEADER_BYTES} bytes`)
  let json: string
  try {
    json = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength))
  } catch {
    return E.left('the header is not valid UTF-8')
  }
  if (!json.startsWith('{'))
    return E.left(`the header must be a JSON object starting with '{', got ${JSON.stringify(json.slice(0, 20))}`)
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch (e) {
    return E.left(`the header is not valid JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
  if (!isPlainObject(parsed)) return E.left('the header must be a JSON object of tensor entries')
  // JSON.parse keeps the last of repeated names: find them in the text instead.
  const repeated = repeatedTopLevelKey(json)
  if (repeated !== null) return E.left(`the header names ${shown(repeated)} twice; each tensor name must be unique`)
  let metadata: Record<string, string> = {}
  const entries: TensorEntry[] = []
  for (const [name, value] of Object.entries(parsed)) {
    if (name === METADATA) {
      const m = MetadataCodec.decode(value)
      if (E.isLeft(m)) return E.left(`${METADATA}: ${formatDecodeError(m.left)}`)
      metadata = m.right
      continue
    }
    if (name === '__proto__') return E.left('a tensor may not be named __proto__')
    const info = TensorInfoCodec.decode(value)
    if (E.isLeft(info))
      return E.left(
        `${shown(name)}: ${isPlainObject(value) ? formatDecodeError(info.left) : `expected { dtype, shape, data_offsets }, got ${JSON.stringify(value)}`}`,
      )
    const {
      dtype,
      shape,
      data_offsets: [begin, end],
    } = info.right
    if (!isFileDType(dtype))
      return E.left(
        `${shown(name)}: dtype ${dtype} is not supported (expected one of ${Object.keys(fileDTypes).join(', ')})`,
      )
    entries.push({ name, dtype, shape, begin, end })
  }
  const dataStart = 8 + headerLength
  return pipe(
    checkOffsets(entries, bytes.length - dataStart),
    E.map((sorted) => ({ entries: sorted, metadata, dataStart })),
  )
}

const span = (e: TensorEntry) => `[${e.begin}, ${e.end}]`

/** Checks each entry's size and range, then that the entries tile the data section; gives them in data order. */
function checkOffsets(entries: readonly TensorEntry[], dataLength: number): E.Either<string, TensorEntry[]> {
  for (const e of entries) {
    if (e.begin > e.end) return E.left(`${shown(e.name)}: data_offsets ${span(e)} run backwards`)
    if (e.end > dataLength)
      return E.left(
        `${shown(e.name)}: data_offsets ${span(e)} exceed the data section (${dataLength} bytes; truncated file?)`,
      )
    const elements = sizeOf(e.shape)
    const needed = elements * itemSize[e.dtype]
    if (!Number.isSafeInteger(needed) || needed !== e.end - e.begin)
      return E.left(
        `${shown(e.name)}: shape ${formatShape(e.shape)} of ${e.dtype} takes ${needed} bytes, but data_offsets ${span(e)} span ${e.end - e.begin}`,
      )
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end)
  let covered = 0
  let previous: TensorEntry | undefined
  for (const e of sorted) {
    if (e.begin < covered && previous !== undefined)
      return E.left(
        `${shown(e.name)}: data_offsets ${span(e)} overlap those of ${shown(previous.name)} ${span(previous)}`,
      )
    if (e.begin > covered)
      return E.left(
        `bytes ${covered} to ${e.begin} of the data section belong to no tensor (${previous === undefined ? '' : `after ${shown(previous.name)}, `}before ${shown(e.name)})`,
      )
    covered = e.end
    previous = e
  }
  if (covered !== dataLength)
    return E.left(
      `bytes ${covered} to ${dataLength} of the data section belong to no tensor${previous === undefined ? '' : ` (after ${shown(previous.name)})`}`,
    )
  return E.right(sorted)
}

/** Names, dtypes and shapes of the file against those of the template; every difference is listed. */
function matchTemplate(
  entries: readonly TensorEntry[],
  names: readonly string[],
  templateLeaves: readonly Tensor[],
): E.Either<string, TensorEntry[]> {
  const byName = new Map(entries.map((e) => [e.name, e]))
  const expected = new Set(names)
  const problems: string[] = []
  const missing = names.filter((n) => !byName.has(n))
  if (missing.length > 0) problems.push(`missing tensors that the template expects: ${missing.map(shown).join(', ')}`)
  const extra = entries.filter((e) => !expected.has(e.name)).map((e) => shown(e.name))
  if (extra.length > 0) problems.push(`tensors not in the template: ${extra.join(', ')}`)
  names.forEach((name, i) => {
    const e = byName.get(name)
    if (e === undefined) return
    const want = templateLeaves[i].aval
    if (fileDTypes[e.dtype] !== want.dtype)
      problems.push(`${shown(name)}: expected dtype ${fileDTypeOf[want.dtype]}, got ${e.dtype}`)
    if (e.shape.length !== want.shape.length || e.shape.some((d, j) => d !== want.shape[j]))
      problems.push(`${shown(name)}: expected shape ${formatShape(want.shape)}, got ${formatShape(e.shape)}`)
  })
  return problems.length > 0 ? E.left(problems.join('; ')) : E.right(names.map((n) => byName.get(n) as TensorEntry))
}

function readTensors(
  bytes: Uint8Array,
  header: SafetensorsHeader,
  entries: readonly TensorEntry[],
): E.Either<string, ConcreteTensor[]> {
  const data = bytes.subarray(header.dataStart)
  const out: ConcreteTensor[] = []
  for (const e of entries) {
    const values = readValues(data, e)
    if (E.isLeft(values)) return values
    out.push(concrete(e.shape, fileDTypes[e.dtype], values.right))
  }
  return E.right(out)
}

/**
 * Reads safetensors bytes. Without a template: every tensor by name. With a
 * template (a tree of tensors, e.g. freshly initialised parameters): a tree
 * of the template's structure, provided that the file holds exactly the
 * template's names with the same shapes and dtypes.
 */
export function decodeSafetensors(bytes: Uint8Array): E.Either<string, Safetensors<Record<string, ConcreteTensor>>>
export function decodeSafetensors<T>(bytes: Uint8Array, template: T): E.Either<string, Safetensors<T>>
export function decodeSafetensors(bytes: Uint8Array, template?: unknown): E.Either<string, Safetensors<unknown>> {
  return pipe(
    readSafetensorsHeader(bytes),
    E.chain((header) => {
      if (template === undefined)
        return pipe(
          readTensors(bytes, header, header.entries),
          E.map((tensors) => ({
            tree: Object.fromEntries(header.entries.map((e, i) => [e.name, tensors[i]])),
            metadata: header.metadata,
          })),
        )
      let leaves: Tensor[]
      let def: TreeDef
      try {
        ;[leaves, def] = flatten(template, 'template')
      } catch (e) {
        return E.left(e instanceof Error ? e.message : String(e))
      }
      return pipe(
        matchTemplate(header.entries, tensorNames(def), leaves),
        E.chain((ordered) => readTensors(bytes, header, ordered)),
        E.map((tensors) => ({ tree: unflatten(def, tensors), metadata: header.metadata })),
      )
    }),
  )
}

// ---------------------------------------------------------------- bytes (browsers) and files (Node)

/** Host copies of every leaf (device tensors are read back once). */
async function toHost(tree: unknown): Promise<unknown> {
  const [leaves, def] = flatten(tree)
  const host = await Promise.all(
    leaves.map(async (x) => (x instanceof ConcreteTensor ? x : concrete(x.aval.shape, x.aval.dtype, await x.data()))),
  )
  return unflatten(def, host)
}

/**
 * The safetensors bytes of a tree of tensors, device tensors included: what
 * `saveParams` writes, for places without a file system (a browser: store
 * them in IndexedDB, send them with fetch, or see `paramsToBlob`).
 */
export async function paramsToBytes(tree: unknown, metadata?: Readonly<Record<string, string>>): Promise<Uint8Array> {
  try {
    return encodeSafetensors(await toHost(tree), metadata)
  } catch (e) {
    throw new Error(`paramsToBytes: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
  }
}

/** `paramsToBytes` as a Blob (application/octet-stream), e.g. for a download link through URL.createObjectURL. */
export async function paramsToBlob(tree: unknown, metadata?: Readonly<Record<string, string>>): Promise<Blob> {
  const bytes = await paramsToBytes(tree, metadata)
  // A fresh buffer of the writer's, never shared: what the DOM's Blob asks of its parts.
  return new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' })
}

/** Where saved parameters can come from without a file system: bytes, a Blob (a File), or a fetch Response. */
export type ParamsSource = ArrayBufferView | ArrayBuffer | Blob | Response

const sourceName = (u: unknown): string =>
  u === null ? 'null' : typeof u === 'object' ? (u.constructor?.name ?? 'an object') : typeof u

/** The bytes of a source; a Response must be ok (2xx), and is read to the end. */
async function bytesOf(source: unknown): Promise<E.Either<string, Uint8Array>> {
  if (ArrayBuffer.isView(source)) return E.right(new Uint8Array(source.buffer, source.byteOffset, source.byteLength))
  if (source instanceof ArrayBuffer || Object.prototype.toString.call(source) === '[object ArrayBuffer]')
    return E.right(new Uint8Array(source as ArrayBuffer))
  const readable = source as { arrayBuffer?: unknown; ok?: unknown; status?: unknown; url?: unknown } | null
  if (typeof readable !== 'object' || readable === null || typeof readable.arrayBuffer !== 'function')
    return E.left(`expected a Uint8Array, ArrayBuffer, Blob or Response, got ${sourceName(source)}`)
  if (readable.ok === false)
    return E.left(
      `the response${typeof readable.url === 'string' && readable.url !== '' ? ` from ${readable.url}` : ''} has status ${String(readable.status)}, not a success (2xx)`,
    )
  try {
    return E.right(new Uint8Array(await (readable as { arrayBuffer(): Promise<ArrayBuffer> }).arrayBuffer()))
  } catch (e) {
    return E.left(`reading the ${sourceName(source)} failed: ${e instanceof Error ? e.message : String(e)}`)
  }
}

/**
 * Parameters from safetensors bytes, however they came: a Uint8Array or
 * ArrayBuffer, a Blob or File, or a fetch Response
 * (`paramsFromBytes(await fetch(url), template)`). With a template, the
 * tree of its structure, checked as `loadParams` checks a file: exactly the
 * template's names, shapes and dtypes; without one, a record of tensors by
 * name. Anything else, or corrupt bytes, is rejected with the reason.
 */
export async function paramsFromBytes(source: ParamsSource): Promise<Record<string, ConcreteTensor>>
export async function paramsFromBytes<T>(source: ParamsSource, template: T): Promise<T>
export async function paramsFromBytes(source: ParamsSource, template?: unknown): Promise<unknown> {
  const bytes = await bytesOf(source)
  if (E.isLeft(bytes)) throw new Error(`paramsFromBytes: ${bytes.left}`)
  const decoded = template === undefined ? decodeSafetensors(bytes.right) : decodeSafetensors(bytes.right, template)
  if (E.isLeft(decoded)) throw new Error(`paramsFromBytes: ${decoded.left}`)
  return decoded.right.tree
}

/**
 * Writes a tree of tensors to `path` in the safetensors layout, atomically:
 * the file is encoded in full first, written to a temporary file in the same
 * directory and renamed over `path`, so a failure at any point leaves an
 * existing file untouched. Needs Node's file system; in a browser, use
 * `paramsToBytes` or `paramsToBlob`.
 */
export async function saveParams(
  path: string,
  tree: unknown,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  let bytes: Uint8Array
  try {
    bytes = encodeSafetensors(await toHost(tree), metadata)
  } catch (e) {
    throw new Error(`saveParams: nothing written to ${path}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    })
  }
  await writeFileAtomic(
    path,
    bytes,
    'saveParams',
    'use io.paramsToBytes(params) or io.paramsToBlob(params) and store the bytes (a download, IndexedDB, fetch)',
  )
}

/**
 * Reads parameters saved with `saveParams` (or any safetensors file with
 * F32, F64, I32 and BOOL tensors) into the structure of `template`; without
 * a template, a record of tensors by name. A corrupt file or one that does not
 * match the template is rejected with the reason. Needs Node's file system;
 * in a browser, use `paramsFromBytes`.
 */
export async function loadParams(path: string): Promise<Record<string, ConcreteTensor>>
export async function loadParams<T>(path: string, template: T): Promise<T>
export async function loadParams(path: string, template?: unknown): Promise<unknown> {
  const bytes = await readFileBytes(
    path,
    'loadParams',
    'use io.paramsFromBytes(await fetch(url), template), or pass it a Blob or File',
  )
  const decoded = template === undefined ? decodeSafetensors(bytes) : decodeSafetensors(bytes, template)
  if (E.isLeft(decoded)) throw new Error(`loadParams: ${path}: ${decoded.left}`)
  return decoded.right.tree
}
