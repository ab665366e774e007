/**
 * Indices out of range, the same on every backend: in a compiled program a
 * gather clamps its index and a scatter-add drops the update (no kernel
 * reads or writes outside its tensor); evaluated eagerly, and under
 * `jit(f, { checkIndices: true })` on any backend, they raise naming the
 * index. Batched (vmap) indices stay within their own batch element.
 */
import { describe, expect, it } from 'vitest'
import {
  cond,
  cpuBackend,
  customJvp,
  grad,
  jit,
  ops,
  scan,
  tensor,
  vmap,
  whileLoop,
  type Backend,
  type Tensor,
} from '../../src/index.ts'
import { gpu } from './setup.ts'

/** Tensors as the functions under test see them: untyped, as from data whose shapes are not known statically. */
type Any = any

const backends: [string, Backend][] = [['cpu', cpuBackend()]]
if (gpu.backend !== null) backends.push([gpu.backend.name, gpu.backend])

const x = tensor([10, 20, 30, 40, 50])
const idx = (v: number[] | number[][]) => tensor(v, { dtype: 'i32' })
const data = async (t: Any) => Array.from(await t.data())

describe.each(backends)('indices out of range on %s', (_, backend) => {
  it('a gather clamps each index to the axis: the first or last element, never a value from elsewhere', async () => {
    // A freed tensor's values in the pool must not show through.
    await (await jit((a: Any) => ops.mul(a, 99), { backend })(tensor([1, 1, 1, 1, 1, 1, 1, 1]))).data()
    const f = jit((a: Any, i: Any) => ops.take(a, i), { backend })
    expect(await data(await f(x, idx([0, 7, -2, 4, 1000000, -(2 ** 31)])))).toEqual([10, 50, 10, 50, 50, 10])
    const rows = tensor([
      [1, 2],
      [3, 4],
    ])
    expect(await data(await f(rows, idx([[5], [-1]])))).toEqual([3, 4, 1, 2])
    const g = jit((a: Any, i: Any) => ops.take(a, i, 1), { backend })
    expect(await data(await g(rows, idx([2, 0])))).toEqual([2, 1, 4, 3])
  })

  it('a scatter-add drops the updates whose index is out of range, and keeps the rest', async () => {
    const f = jit((a: Any, i: Any, u: Any) => ops.scatterAdd(a, i, u), { backend })
    const got = await f(x, idx([1, 5, -1, 1, 4]), tensor([1, 2, 3, 4, 5]))
    expect(await data(got)).toEqual([10, 25, 30, 40, 55])
  })

  it('under vmap an index out of range stays in its own row (clamped there, or dropped)', async () => {
    const xs = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ])
    const is = idx([
      [0, 3],
      [-1, 2],
    ])
    const take = jit(
      vmap((a: Any, i: Any) => ops.take(a, i)),
      { backend },
    )
    // Flattened naively, index 3 of row 0 would read row 1's first element (4).
    expect(await data(await take(xs, is))).toEqual([1, 3, 4, 6])
    const put = jit(
      vmap((a: Any, i: Any) => ops.scatterAdd(a, i, tensor([1, 1]))),
      { backend },
    )
    expect(await data(await put(xs, is))).toEqual([2, 2, 3, 4, 5, 7])
    // Only the indices batched, and only the operand batched.
    const byIndex = jit(
      vmap((i: Any) => ops.take(x, i)),
      { backend },
    )
    expect(await data(await byIndex(is))).toEqual([10, 40, 10, 30])
    const byOperand = jit(
      vmap((a: Any) => ops.take(a, idx([9, 0]))),
      { backend },
    )
    expect(await data(await byOperand(xs))).toEqual([3, 1, 6, 4])
  })

  it('gradients follow the same rule: to the element a clamped index read, none for a dropped update', async () => {
    const w = tensor([1, 2, 3])
    const dx = jit(
      grad((a: Any, i: Any) => ops.sum(ops.mul(ops.take(a, i), w))),
      { backend },
    )
    expect(await data(await dx(x, idx([7, 0, -1])))).toEqual([5, 0, 0, 0, 1])
    const du = jit(
      grad((u: Any, i: Any) => ops.sum(ops.mul(ops.scatterAdd(x, i, u), tensor([1, 2, 3, 4, 5]))), { argnums: 0 }),
      { backend },
    )
    expect(await data(await du(w, idx([4, 5, -1])))).toEqual([5, 0, 0])
  })

  it('checkIndices raises with the offending index, as eager evaluation does, and keeps the arguments', async () => {
    const f = (a: Any, i: Any) => ops.take(a, i)
    const eager = (() => {
      try {
        f(x, idx([0, 7]))
      } catch (e) {
        return (e as Error).message
      }
    })()
    expect(eager).toBe('gather: index 7 is out of range for axis 0 of size 5')
    const checked = jit(f, { backend, checkIndices: true, donateArgnums: 0 })
    await expect(checked(x, idx([0, 7]))).rejects.toThrow(eager as string)
    await expect(checked(x, idx([-3, 1]))).rejects.toThrow('gather: index -3 is out of range for axis 0 of size 5')
    await expect(checked(x, idx([9, -1, 8]))).rejects.toThrow(
      'gather: index 9 is out of range for axis 0 of size 5 (3 indices out of range in all)',
    )
    // Nothing was donated: the argument is still readable, and an in-range call returns the gather.
    expect(await data(x)).toEqual([10, 20, 30, 40, 50])
    expect(await data(await checked(x, idx([4, 0])))).toEqual([50, 10])
    const scatter = jit((a: Any, i: Any) => ops.scatterAdd(a, i, tensor([1, 1])), { backend, checkIndices: true })
    await expect(scatter(x, idx([0, 5]))).rejects.toThrow('scatterAdd: index 5 is out of range for axis 0 of size 5')
  })

  it('checkIndices looks inside loops, branches and calls, and reports the first failure', async () => {
    const checked = <F extends (...a: any[]) => any>(f: F) => jit(f, { backend, checkIndices: true })
    // A scan whose third step reads index 5 of 5 (its first failure).
    const inScan = checked((a: Any, is: Any) =>
      scan((c: Any, i: Any) => [ops.add(c, ops.sum(ops.take(a, i))), c] as const, tensor(0) as Any, is),
    )
    await expect(inScan(x, idx([[0], [4], [5], [6]]))).rejects.toThrow('index 5 is out of range for axis 0 of size 5')
    const [total] = await inScan(x, idx([[0], [4], [2]]))
    expect(await data(total)).toEqual([90])
    // The taken branch reports; the other does not.
    const inCond = checked((p: Any, a: Any, i: Any) =>
      cond(
        p,
        (b: Any) => ops.take(b, i),
        (b: Any) => ops.take(b, ops.sub(i, 10)),
        a,
      ),
    )
    expect(await data(await inCond(tensor(true), x, idx([3])))).toEqual([40])
    await expect(inCond(tensor(false), x, idx([3]))).rejects.toThrow('index -7 is out of range')
    // A while loop that walks off the end at its fourth step.
    const inWhile = checked((a: Any) =>
      whileLoop(
        ([i]: Any) => ops.less(i, 7),
        ([i, s]: Any) => [ops.add(i, 2), ops.add(s, ops.sum(ops.take(a, ops.reshape(i, [1]))))] as Any,
        [idx(0 as unknown as number[]), tensor(0)] as Any,
        { maxIterations: 8 },
      ),
    )
    await expect(inWhile(x)).rejects.toThrow('gather: index 6 is out of range for axis 0 of size 5')
    // Inside a custom-derivative function and a jitted function called in the program.
    const picked = customJvp(
      (a: Any, i: Any) => ops.take(a, i),
      ([a, i]: Any[], [t]: Any[]) => [ops.take(a, i), ops.take(t, i)],
    )
    const inner = jit((a: Any, i: Any) => ops.take(a, i))
    const inCalls = checked((a: Any, i: Any, j: Any) => ops.add(picked(a, i), inner(a, j) as unknown as Tensor))
    expect(await data(await inCalls(x, idx([1]), idx([2])))).toEqual([50])
    await expect(inCalls(x, idx([1]), idx([12]))).rejects.toThrow('index 12 is out of range')
    await expect(inCalls(x, idx([-4]), idx([2]))).rejects.toThrow('index -4 is out of range')
  })
})

it('ADJOINT_CHECK_INDICES=1 turns the check on for every jitted function', async () => {
  const before = process.env.ADJOINT_CHECK_INDICES
  process.env.ADJOINT_CHECK_INDICES = '1'
  try {
    const f = jit((a: Any, i: Any) => ops.take(a, i), { backend: cpuBackend() })
    await expect(f(x, idx([6]))).rejects.toThrow('gather: index 6 is out of range')
    const off = jit((a: Any, i: Any) => ops.take(a, i), { backend: cpuBackend(), checkIndices: false })
    expect(await data(await off(x, idx([6])))).toEqual([50])
  } finally {
    if (before === undefined) delete process.env.ADJOINT_CHECK_INDICES
    else process.env.ADJOINT_CHECK_INDICES = before
  }
})
