/**
 * gatherProducts (src/passes/gather-products.ts): a product of rows looked
 * up in a smaller table, gather(T, i)·W, becomes the lookup of the table's
 * product, gather(T·W, i). The rewritten Program gives the original's values
 * exactly (f64), out-of-range indices included (both clamp); products of
 * rows from a table as long as the lookups, or gathered along another axis,
 * are left alone; in loop motion, an embedding's loop then reads its rows of
 * T·W step by step. A planted wrong identity (the rows taken along the
 * wrong axis) is caught by the same comparison.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  grad,
  makeProgram,
  ops,
  random,
  runProgram,
  scan,
  tensor,
  tree,
  type Program,
  type Tensor,
} from '../src/index.ts'
import { gatherProducts, identities, moveLoopInvariants } from '../src/passes/index.ts'
import * as lax from '../src/core/lax.ts'

const embedThenProject = (table: Tensor, w: Tensor, ids: Tensor) =>
  ops.matmul(ops.reshape(lax.gather(table, ids, 0), [ids.aval.shape[0] * ids.aval.shape[1], -1]), w)

function problem(vocab: number, steps: number, batch: number, seed = 0) {
  const [kt, kw] = random.split(random.key(seed), 2)
  const table = random.normal(kt, [vocab, 3], { dtype: 'f64' }) as Tensor
  const w = random.normal(kw, [3, 5], { dtype: 'f64' }) as Tensor
  // Indices out of range at both ends too: a compiled gather clamps them.
  const ids = tensor(
    Array.from({ length: steps * batch }, (_, i) => ((i * 7) % (vocab + 4)) - 2),
    { shape: [steps, batch], dtype: 'i32' },
  )
  return { args: [table, w, ids], program: makeProgram(embedThenProject)(table, w, ids) }
}

async function gap(original: Program, rewritten: Program, args: Tensor[]): Promise<number> {
  const want = await Promise.all((await runProgram(original, args)).map((t) => t.data()))
  const got = await Promise.all((await runProgram(rewritten, args)).map((t) => t.data()))
  let worst = 0
  want.forEach((w, j) => w.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - got[j][i])))))
  return worst
}

describe('gatherProducts', () => {
  const original = { ...identities.gatherProducts }
  afterEach(() => Object.assign(identities.gatherProducts, original))

  it('computes the product over the table rows once and looks its rows up, with the same values', async () => {
    const { args, program } = problem(4, 3, 2)
    const rewritten = gatherProducts(program)
    expect(rewritten).not.toBe(program)
    // The product is [4, 3]·[3, 5] over the table, not [6, 3]·[3, 5] over the lookups.
    expect(rewritten.toString()).toMatch(/f64\[4,5\] = matmul/)
    expect(rewritten.toString()).not.toMatch(/f64\[6,5\] = matmul/)
    expect(await gap(program, rewritten, args)).toBe(0)
  })

  it('leaves a product alone where the table has as many rows as the lookups, or the rows are not gathered', () => {
    const { program } = problem(6, 3, 2)
    expect(gatherProducts(program)).toBe(program)
    const columns = makeProgram((t: Tensor, w: Tensor, i: Tensor) => ops.matmul(lax.gather(t, i, 1), w))(
      random.normal(random.key(1), [4, 9]),
      random.normal(random.key(2), [2, 3]),
      tensor([0, 1], { shape: [2], dtype: 'i32' }),
    )
    expect(gatherProducts(columns)).toBe(columns)
  })

  it("in loop motion, an embedding's loop reads its rows of T·W at each step: no product over every lookup", async () => {
    const [V, E, H, T, B] = [3, 2, 4, 5, 2]
    const keys = random.split(random.key(4), 3)
    const table = random.normal(keys[0], [V, E], { dtype: 'f64' }) as Tensor
    const wx = random.normal(keys[1], [E, H], { dtype: 'f64' }) as Tensor
    const wh = random.normal(keys[2], [H, H], { dtype: 'f64' }) as Tensor
    const ids = tensor([0, 2, 1, 1, 2, 0, 0, 1, 2, 2], { shape: [T, B], dtype: 'i32' })
    const loss = (p: { table: Tensor; wx: Tensor; wh: Tensor }, i: Tensor) => {
      const [h] = scan(
        (c: Tensor, x: Tensor) => [ops.tanh(ops.add(ops.matmul(x, p.wx), ops.matmul(c, p.wh))), null] as const,
        ops.zeros([B, H], 'f64') as Tensor,
        lax.gather(p.table, i, 0),
      )
      return ops.sum(ops.square(h))
    }
    const program = makeProgram(grad(loss))({ table, wx, wh }, ids)
    const moved = moveLoopInvariants(program)
    const products = moved.eqns.filter((e) => e.prim === 'matmul').map((e) => e.outputs[0].aval.shape.join())
    expect(products).toContain([V, H].join())
    expect(products).not.toContain([T * B, H].join())
    // The forward loop looks its step's rows up itself.
    const forward = moved.eqns.find((e) => e.prim === 'scan') as Program['eqns'][number]
    expect((forward.params as { body: Program }).body.eqns.some((e) => e.prim === 'gather')).toBe(true)
    expect(await gap(program, moved, tree.flatten([{ table, wx, wh }, ids])[0] as Tensor[])).toBeLessThan(1e-12)
    const without = moveLoopInvariants(program, { gatherProducts: false })
    expect(without.eqns.filter((e) => e.prim === 'matmul').map((e) => e.outputs[0].aval.shape.join())).toContain(
      [T * B, H].join(),
    )
  })

  it('catches a planted wrong identity: the rows of the product taken along its columns', async () => {
    // A table of as many rows as W has columns, so that the wrong rows still reshape to the product's shape.
    const { args, program } = problem(5, 4, 2, 2)
    identities.gatherProducts.rowsOf = (x: Tensor, i: Tensor) => lax.gather(x, i, 1)
    expect(await gap(program, gatherProducts(program), args)).toBeGreaterThan(1e-3)
  })
})
