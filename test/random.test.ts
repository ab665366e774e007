/**
 * Randomness as values of programs: Threefry-2×32 against the published
 * known answers (Salmon et al., 2011, the Random123 test vectors), the
 * documented layout of keys, splits and draws against that reference, keys
 * through jit, vmap, grad and scan, and the samplers' distributions on the
 * CPU (eagerly and compiled); the WebGPU suite runs the same checks there.
 */
import { describe, expect, it } from 'vitest'
import {
  cpuBackend,
  grad,
  jit,
  jvp,
  makeProgram,
  nn,
  ops,
  random,
  scan,
  tensor,
  valueAndGrad,
  vmap,
  type Tensor,
} from '../src/index.ts'
import { samplerChecks } from './lib/samplers.ts'

const words = (k: Tensor) => Array.from(k.dataSync(), (v) => v >>> 0)

describe('Threefry-2×32', () => {
  it('gives the published known answers', () => {
    const hex = (w: number[]) => w.map((v) => v.toString(16).padStart(8, '0'))
    expect(hex(random.threefry2x32(0, 0, 0, 0))).toEqual(['6b200159', '99ba4efe'])
    expect(hex(random.threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff))).toEqual(['1cb996fc', 'bb002be7'])
    expect(hex(random.threefry2x32(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3))).toEqual(['c4923a9c', '483df7a0'])
  })

  it('keys, splits, fold-ins and bits follow the documented counters', () => {
    const k = random.key(2 ** 40 + 7)
    expect(words(k)).toEqual([2 ** 8, 7])
    const [hi, lo] = words(k)
    random.split(k, 3).forEach((s, i) => expect(words(s)).toEqual(random.threefry2x32(hi, lo, 0, i)))
    expect(words(random.foldIn(k, 5))).toEqual(random.threefry2x32(hi, lo, 1, 5))
    expect(words(random.foldIn(k, -1))).toEqual(random.threefry2x32(hi, lo, 1, 0xffffffff))
    const b = words(random.bits(k, [5]))
    const pairs = [0, 1, 2].flatMap((c) => random.threefry2x32(hi, lo, 2, c))
    expect(b).toEqual(pairs.slice(0, 5))
  })

  it('uniform f64 takes 53 bits of a counter; f32 is that draw rounded down to 24 bits', () => {
    const k = random.key(9)
    const [hi, lo] = words(k)
    const u64 = random.uniform(k, [4], { dtype: 'f64' }).dataSync()
    const u32 = random.uniform(k, [4]).dataSync()
    for (let i = 0; i < 4; i++) {
      const [a, b] = random.threefry2x32(hi, lo, 2, i)
      expect(u64[i]).toBe(((a >>> 5) * 2 ** 26 + (b >>> 6)) / 2 ** 53)
      expect(u32[i]).toBe(Math.floor(u64[i] * 2 ** 24) / 2 ** 24)
    }
  })
})

describe('keys are values of programs', () => {
  const k = random.key(3)
  const [k1, k2] = random.split(k)

  it('through jit: a new key draws anew, the same key draws the same, on a compiled CPU program', async () => {
    const f = jit((key: random.Key) => random.normal(key, [6]), { backend: cpuBackend() })
    const a = Array.from((await f(k1)).dataSync())
    expect(a).toEqual(Array.from(random.normal(k1, [6]).dataSync()))
    expect(Array.from((await f(k1)).dataSync())).toEqual(a)
    expect(Array.from((await f(k2)).dataSync())).not.toEqual(a)
    // One trace serves every key: the key is an input of the program, not a constant.
    const program = makeProgram((key: random.Key) => random.normal(key, [6]))(k1)
    expect(program.constVars.length).toBe(0)
    expect(program.eqns.some((e) => e.prim === 'randomBits')).toBe(true)
  })

  it('through vmap: a batch of keys draws what each key draws alone', () => {
    const keys = random.split(k, 4)
    const batched = vmap((key: random.Key) => random.uniform(key, [3, 2]))(ops.stack(keys)).dataSync()
    const one = keys.flatMap((key) => Array.from(random.uniform(key, [3, 2]).dataSync()))
    expect(Array.from(batched)).toEqual(one)
    // A key shared by every member (not mapped) draws the same for each.
    const shared = vmap((x: Tensor, key: random.Key) => ops.add(x, random.normal(key, [2])), [0, null])(
      ops.zeros([3, 2]),
      k1,
    ).dataSync()
    expect(Array.from(shared.slice(0, 2))).toEqual(Array.from(shared.slice(4, 6)))
  })

  it('through grad: a key argument is not differentiated, and asking for its gradient says why', () => {
    const loss = (x: Tensor, key: random.Key) => ops.sum(nn.functional.dropout(ops.mul(x, x), 0.5, key))
    const x = tensor([1, 2, 3, 4, 5, 6], { dtype: 'f64' }) as Tensor
    const g = grad(loss)(x, k1).dataSync()
    const mask = nn.functional.dropoutMask(k1, [6], 0.5).dataSync()
    expect(Array.from(g)).toEqual(Array.from(x.dataSync(), (v, i) => (mask[i] ? 4 * v : 0)))
    expect(() => grad(loss, { argnums: 1 })(x, k1)).toThrow(/random key.*not differentiable/)
  })

  it('jvp: a draw is a constant of the key, with a zero tangent', () => {
    const [y, t] = jvp(
      (x: Tensor) => ops.mul(x, random.uniform(k1, [3], { dtype: 'f64' })),
      [ops.ones([3], 'f64')],
      [ops.ones([3], 'f64')],
    )
    expect(Array.from(t.dataSync())).toEqual(Array.from(y.dataSync()))
  })

  it('through scan: a key carried and split at every step, and foldIn of the step counter', () => {
    const [, ys] = scan(
      (carry: { key: random.Key; t: Tensor }) => {
        const [next, draw] = random.split(carry.key)
        const folded = random.uniform(random.foldIn(k, carry.t as Tensor<[], 'i32'>), [2])
        return [{ key: next, t: ops.add(carry.t, 1) }, ops.concat([random.uniform(draw, [2]), folded])] as const
      },
      { key: k, t: tensor(0, { dtype: 'i32' }) as Tensor },
      null,
      { length: 4 },
    )
    let key = k
    const expected: number[] = []
    for (let t = 0; t < 4; t++) {
      const [next, draw] = random.split(key)
      expected.push(...random.uniform(draw, [2]).dataSync(), ...random.uniform(random.foldIn(k, t), [2]).dataSync())
      key = next
    }
    expect(Array.from((ys as Tensor).dataSync())).toEqual(expected)
  })

  it('a jitted training step with dropout: new keys resample the mask, the same key repeats it', async () => {
    const step = (w: Tensor, x: Tensor, key: random.Key) =>
      valueAndGrad((v: Tensor) => ops.sum(nn.functional.dropout(ops.mul(x, v), 0.5, key)))(w)
    const f = jit(step, { backend: cpuBackend() })
    const w = ops.ones([64], 'f32') as Tensor
    const x = ops.ones([64], 'f32') as Tensor
    const gradient = async (key: random.Key) => Array.from((await f(w, x, key))[1].dataSync())
    const first = await gradient(random.key(1))
    expect(await gradient(random.key(1))).toEqual(first)
    expect(await gradient(random.key(2))).not.toEqual(first)
  })

  it('refuses what is not a key, naming what it got', () => {
    expect(() => random.uniform(42 as unknown as random.Key, [3])).toThrow(
      'random.uniform: expected a key, i32[2] (from random.key, random.split or random.foldIn), got number',
    )
    expect(() => random.normal(ops.zeros([2]) as unknown as random.Key, [3])).toThrow('got f32[2]')
    expect(() => random.uniform(random.key(0), [2], { lo: 1, hi: 1 })).toThrow('expected finite bounds lo < hi')
    expect(() => random.foldIn(random.key(0), 1.5)).toThrow('data must be an integer, got 1.5')
    expect(() => random.bernoulli(random.key(0), 2, [2])).toThrow('p must be in [0, 1], got 2')
  })
})

describe('samplers on the CPU', () => {
  for (const { name, check } of samplerChecks) {
    it(`${name} (eager)`, () => check(async (sampler, key) => sampler(key).dataSync()))
  }
  it('compiled draws equal eager ones', async () => {
    const f = jit((key: random.Key) => random.normal(key, [1001], { mean: 1, stddev: 2 }), { backend: cpuBackend() })
    const key = random.key(8)
    expect(Array.from((await f(key)).dataSync())).toEqual(
      Array.from(random.normal(key, [1001], { mean: 1, stddev: 2 }).dataSync()),
    )
  })
})
