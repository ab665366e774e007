/**
 * The encoder–decoder of examples/lib/seq2seq.ts at a tiny size: the shapes
 * of greedy decoding, attention weights on the simplex over the unpadded
 * source, the unrolled encoder equal to the one with `scan`, and one Adam
 * step lowering the teacher-forced loss on its batch.
 */
import { describe, expect, it } from 'vitest'
import { cpuBackend, grad, jit, optim, random } from '../src/index.ts'
import {
  EOS,
  FIRST_SYMBOL,
  decoded,
  reversalBatch,
  reversalExamples,
  seq2seq,
  type Batch,
  type Seq2SeqParams,
} from '../examples/lib/seq2seq.ts'

const config = { symbols: 4, maxLength: 5, embed: 4, encoder: 4, decoder: 8, attention: 4 }
const backend = cpuBackend()
const sources = reversalExamples(random.key(3), 6, config.symbols, 3, config.maxLength)
const batch = reversalBatch(sources, config.maxLength)

describe('seq2seq with attention', () => {
  it('builds padded batches whose targets are the reversals followed by the end token', async () => {
    expect(
      sources.every(
        (s) =>
          s.length >= 3 &&
          s.length <= config.maxLength &&
          s.every((x) => x >= FIRST_SYMBOL && x < FIRST_SYMBOL + config.symbols),
      ),
    ).toBe(true)
    const target = Array.from(await batch.target.data())
    const weight = Array.from(await batch.weight.data())
    const steps = config.maxLength + 1
    sources.forEach((s, b) => {
      expect(target.slice(b * steps, b * steps + s.length + 1)).toEqual([...[...s].reverse(), EOS])
      expect(weight.slice(b * steps, (b + 1) * steps).reduce((a, x) => a + x, 0)).toBe(s.length + 1)
    })
  })

  it('decodes greedily to logits [B, T + 1, V] and attention weights on the simplex over the source', async () => {
    const model = seq2seq(config)
    const params = model.init(random.key(1))
    const out = await jit((p: Seq2SeqParams, b: Batch) => model.greedy(p, b.source, config.maxLength + 1), { backend })(
      params,
      batch,
    )
    expect(out.logits.aval.shape).toEqual([sources.length, config.maxLength + 1, model.vocab])
    expect(out.weights.aval.shape).toEqual([sources.length, config.maxLength + 1, config.maxLength])
    const w = await out.weights.data()
    sources.forEach((s, b) => {
      for (let t = 0; t <= config.maxLength; t++) {
        const row = Array.from(
          w.slice(
            (b * (config.maxLength + 1) + t) * config.maxLength,
            (b * (config.maxLength + 1) + t + 1) * config.maxLength,
          ),
        )
        expect(row.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 5)
        // Padding gets no attention.
        row.slice(s.length).forEach((x) => expect(x).toBe(0))
      }
    })
    expect((await decoded(out.logits)).length).toBe(sources.length)
  })

  it('gives the same loss with the encoder unrolled as with scan', async () => {
    const scanned = seq2seq(config)
    const unrolled = seq2seq({ ...config, unrolled: true })
    const params = scanned.init(random.key(2))
    const a = (await jit(scanned.loss, { backend })(params, batch)).item()
    const b = (await jit(unrolled.loss, { backend })(params, batch)).item()
    expect(Number.isFinite(a)).toBe(true)
    expect(Math.abs(a - b)).toBeLessThan(1e-5)
  })

  it('lowers the loss with one Adam step', async () => {
    const model = seq2seq(config)
    const opt = optim.adam({ lr: 1e-2 })
    const params = model.init(random.key(4))
    const step = jit(
      (p: Seq2SeqParams, s: ReturnType<typeof opt.init>, b: Batch) => opt.update(grad(model.loss)(p, b), s, p)[0],
      { backend },
    )
    const loss = jit(model.loss, { backend })
    const before = (await loss(params, batch)).item()
    const after = (await loss(await step(params, opt.init(params), batch), batch)).item()
    expect(after).toBeLessThan(before)
  })
})
