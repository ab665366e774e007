/**
 * The playground's transforms panel without the browser: a learner's source
 * compiled (TypeScript erased, `import … from 'adjoint'` resolved), its six
 * panes against values computed here, every starting example free of errors,
 * the rules of each primitive they use, and the errors a wrong source gets.
 */
import { describe, expect, it } from 'vitest'
import { EXAMPLES } from '../playground/src/examples.ts'
import { compileUser, equations, panes, ruleOf } from '../playground/src/inspect.ts'

describe('the transforms panel', () => {
  it('shows f, jvp, linearize, the transpose, grad and vmap of a typed function, with their values', async () => {
    const user = compileUser(`import { ops, tensor, type Tensor } from 'adjoint'
const f = (x: Tensor<[3]>): Tensor<[]> => ops.sum(ops.mul(ops.sin(x), x))
export const args = [tensor([0.5, 1, 2])]`)
    const ps = await panes(user)
    expect(ps.map((p) => p.name)).toEqual(['f', 'jvp', 'linearize', 'transpose', 'grad', 'vmap'])
    for (const p of ps) expect(p.error, p.name).toBeUndefined()
    const xs = [0.5, 1, 2]
    const number = (s: string | undefined) => Number(/\) (\S+)$/.exec(s ?? '')?.[1])
    const numbers = (s: string | undefined) => JSON.parse(/(\[[^\]]*\])$/.exec(s ?? '')?.[1] ?? 'null') as number[]
    expect(number(ps[0].value)).toBeCloseTo(
      xs.reduce((s, x) => s + Math.sin(x) * x, 0),
      5,
    )
    const derivative = xs.map((x) => Math.cos(x) * x + Math.sin(x))
    // jvp and linearize at tangents of ones: the sum of the partials.
    expect(number(ps[1].value)).toBeCloseTo(
      derivative.reduce((a, b) => a + b),
      5,
    )
    expect(number(ps[2].value)).toBeCloseTo(number(ps[1].value), 6)
    numbers(ps[3].value).forEach((g, i) => expect(g).toBeCloseTo(derivative[i], 5))
    numbers(ps[4].value).forEach((g, i) => expect(g).toBeCloseTo(derivative[i], 5))
    // vmap over x, 2x and 3x.
    numbers(ps[5].value).forEach((v, k) =>
      expect(v).toBeCloseTo(
        xs.reduce((s, x) => s + Math.sin((k + 1) * x) * (k + 1) * x, 0),
        4,
      ),
    )
    expect(ps[0].program?.toString()).toMatch(/sin a/)
    expect(ps[2].program?.toString()).not.toMatch(/sin/) // the linear map holds only its residuals
  })

  it('gives grad an error for a non-scalar f, and the other panes still', async () => {
    const ps = await panes(compileUser('const f = (x) => ops.tanh(x)\nconst args = [ones([2, 2])]'))
    expect(ps.find((p) => p.name === 'grad')?.error).toMatch(
      /grad needs f to return a scalar; it returns shape \[2,2\]/,
    )
    expect(ps.filter((p) => p.error !== undefined).map((p) => p.name)).toEqual(['grad'])
  })

  it.each(Object.entries(EXAMPLES))('the starting example "%s" runs every pane and every rule', async (_, source) => {
    const ps = await panes(compileUser(source))
    for (const p of ps) expect(p.error, `${p.name}: ${p.error}`).toBeUndefined()
    for (const p of ps)
      for (const e of equations(p.program!)) {
        const rule = ruleOf(e)
        if (rule.error !== undefined) expect(rule.error).toMatch(/has no float inputs here/)
        else expect(rule.jvp).toMatch(/^\{ lambda /)
      }
  })

  it("prints a primitive's forward and reverse rules", async () => {
    const [f] = await panes(compileUser('const f = (x) => ops.sum(ops.exp(x))\nconst args = [tensor([1, 2])]'))
    const exp = equations(f.program!).find((e) => e.prim === 'exp')!
    const rule = ruleOf(exp)
    expect(rule.equation).toMatch(/= exp a/)
    // d exp(x) = exp(x)·dx: the forward rule multiplies the tangent by the output.
    expect(rule.jvp).toMatch(/c:f32\[2\] = exp a\n\s+d:f32\[2\] = mul b c/)
    expect(rule.transpose).toMatch(/exp a/)
  })

  it('says what is wrong with a source', () => {
    expect(() => compileUser('const f = (x => x')).toThrow(/the source does not parse/)
    expect(() => compileUser('const args = [tensor([1])]')).toThrow(/define a function f; got nothing/)
    expect(() => compileUser('const f = (x) => x')).toThrow(/define args, the array of f's example arguments/)
    expect(() => compileUser("import fs from 'node:fs'\nconst f = (x) => fs.readFileSync(x)\nconst args = []")).toThrow(
      /only 'adjoint' can be imported here, not 'node:fs'/,
    )
    expect(() => compileUser('const f = (x) => x\nconst args = [1]\nthrow new Error("mine")')).toThrow(/mine/)
  })
})
