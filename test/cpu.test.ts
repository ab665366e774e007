import { describe, expect, it } from 'vitest'
import { cpuBackend, grad, makeProgram, ops, random, runProgram, tensor, typecheck, type Tensor } from '../src/index.ts'

describe('the CPU interpreter', () => {
  const f = (v: Tensor) => ops.sum(ops.exp(ops.mul(v, 0.1)))
  const x = tensor([1, 2, 3, 4, 5, 6, 7, 8], { dtype: 'f32' })
  it('runs a traced program in its own dtype or in f64', () => {
    const program = makeProgram(f)(x)
    typecheck(program)
    // The constant 0.1 was captured in f32; f64 evaluation uses that value exactly.
    const c = Math.fround(0.1)
    const exact = [1, 2, 3, 4, 5, 6, 7, 8].reduce((s, v) => s + Math.exp(v * c), 0)
    const [y32] = runProgram(program, [x])
    const [y64] = runProgram(program, [x], { precision: 'f64' })
    expect(y32.dtype).toBe('f32')
    expect(y64.dtype).toBe('f64')
    expect(y64.item()).toBeCloseTo(exact, 12)
    expect(Math.abs(y32.item() - exact)).toBeLessThan(1e-5)
    expect(y32.item()).toBe(Math.fround(y32.item()))
  })
  it('runs gradient programs', () => {
    const program = makeProgram(grad(f))(x)
    typecheck(program)
    const [g] = runProgram(program, [x], { precision: 'f64' })
    ;[...g.dataSync()].forEach((v, i) =>
      expect(v).toBeCloseTo(Math.fround(0.1) * Math.exp(Math.fround(0.1) * (i + 1)), 12),
    )
  })
  it('is a backend: compile once, run many times', async () => {
    const exe = cpuBackend({ precision: 'f64' }).compile(makeProgram(grad(f))(x))
    const [g] = await exe.run([x])
    expect(g.dtype).toBe('f64')
    expect(g.shape).toEqual([8])
    expect(exe.stats().submissions).toBe(0)
  })
  it('rejects inputs of the wrong shape', () => {
    const program = makeProgram(f)(x)
    expect(() => runProgram(program, [tensor([1, 2])])).toThrow(/input 0 must be f32\[8\], got f32\[2\]/)
  })
})

describe('random keys', () => {
  it('are deterministic and split into independent streams', () => {
    const k = random.key(0)
    const [a, b] = random.split(k)
    expect(random.normal(a, [4]).dataSync()).toEqual(random.normal(a, [4]).dataSync())
    expect(random.normal(a, [4]).dataSync()).not.toEqual(random.normal(b, [4]).dataSync())
  })
  it('give roughly standard normals and uniforms in range', () => {
    const z = Array.from(random.normal(random.key(1), [20000], { dtype: 'f64' }).dataSync())
    const mean = z.reduce((s, v) => s + v, 0) / z.length
    const variance = z.reduce((s, v) => s + (v - mean) ** 2, 0) / z.length
    expect(Math.abs(mean)).toBeLessThan(0.03)
    expect(Math.abs(variance - 1)).toBeLessThan(0.05)
    const u = random.uniform(random.key(2), [1000], { lo: -1, hi: 1 }).dataSync()
    expect(u.every((v) => v >= -1 && v < 1)).toBe(true)
  })
  it('permutations contain every index once', () => {
    const p = random.permutation(random.key(3), 50)
    expect([...p.dataSync()].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })
})
