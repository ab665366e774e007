import { add, matmul as mm, moveAxis, reshape, swapLast } from '../core/lax.ts'
import { isUndefined, type PrimitiveRule } from '../core/primitive.ts'
import { allocate } from '../dtype.ts'
import { concrete, formatAval, sizeOf, type Tensor } from '../tensor.ts'
import { atFront, batchSize, checkFloat } from './elementwise.ts'

/**
 * Batched matrix product: [...b, m, k] × [...b, k, n] → [...b, m, n], with
 * equal batch axes (ops.matmul broadcasts them). Bilinear: for a fixed b the
 * transpose in a is ct·bᵀ, for a fixed a the transpose in b is aᵀ·ct, so the
 * transpose of a matmul is again a matmul.
 */
export const matmul: PrimitiveRule<'matmul'> = {
  abstractEval([a, b]) {
    checkFloat('matmul', a)
    const r = a.shape.length
    if (r < 2 || b.shape.length !== r)
      throw new Error(`matmul: expected operands of equal rank ≥ 2, got ${formatAval(a)} and ${formatAval(b)}`)
    const ok =
      a.dtype === b.dtype &&
      a.shape[r - 1] === b.shape[r - 2] &&
      a.shape.slice(0, r - 2).every((d, i) => d === b.shape[i])
    if (!ok)
      throw new Error(
        `matmul: ${formatAval(a)} × ${formatAval(b)}: inner dimensions ${a.shape[r - 1]} and ${b.shape[r - 2]} must agree, ` +
          `and batch dimensions and dtypes must be equal`,
      )
    return [{ shape: [...a.shape.slice(0, r - 1), b.shape[r - 1]], dtype: a.dtype }]
  },
  cpu([a, b], _p, [out]) {
    const r = a.aval.shape.length
    const [m, k] = a.aval.shape.slice(r - 2)
    const n = b.aval.shape[r - 1]
    const batches = sizeOf(a.aval.shape.slice(0, r - 2))
    const c = allocate(out.dtype, batches * m * n)
    const acc = new Float64Array(n)
    const A = a.values
    const B = b.values
    // A zero of A skips its row of B, unless that row holds NaN or ±∞ (0·NaN and 0·∞ are NaN).
    const finiteRow = new Uint8Array(k)
    for (let p = 0; p < batches; p++) {
      const ao = p * m * k
      const bo = p * k * n
      const co = p * m * n
      for (let l = 0; l < k; l++) {
        let finite = 1
        for (let j = 0; j < n && finite; j++) if (!Number.isFinite(B[bo + l * n + j])) finite = 0
        finiteRow[l] = finite
      }
      for (let i = 0; i < m; i++) {
        acc.fill(0)
        for (let l = 0; l < k; l++) {
          const ail = A[ao + i * k + l]
          if (ail === 0 && finiteRow[l]) continue
          const row = bo + l * n
          for (let j = 0; j < n; j++) acc[j] += ail * B[row + j]
        }
        c.set(acc, co + i * n)
      }
    }
    return [concrete(out.shape, out.dtype, c)]
  },
  jvp: ([a, b], [ta, tb]) => [[mm(a, b)], [add(mm(ta, b), mm(a, tb))]],
  transpose([ct], [a, b]) {
    if (isUndefined(a) && isUndefined(b)) throw new Error('matmul: both operands are linear; the program is not linear')
    return isUndefined(a) ? [mm(ct, swapLast(b as Tensor)), null] : [null, mm(swapLast(a as Tensor), ct)]
  },
  batch([a, b], [da, db]) {
    const r = da === null ? a.ndim : a.ndim - 1
    if (db === null && da !== null) {
      // Fold the batch axis into the rows of a: [..., B, m, k] → [..., B·m, k].
      const x = moveAxis(a, da, r - 2)
      const s = x.aval.shape
      const y = mm(reshape(x, [...s.slice(0, r - 2), s[r - 2] * s[r - 1], s[r]]), b)
      return [[reshape(y, [...s.slice(0, r - 1), s[r - 1], b.aval.shape[r - 1]])], [r - 2]]
    }
    if (da === null && db !== null) {
      // Fold the batch axis into the columns of b: [..., k, n, B] → [..., k, n·B].
      const x = moveAxis(b, db, r)
      const s = x.aval.shape
      const y = mm(a, reshape(x, [...s.slice(0, r - 1), s[r - 1] * s[r]]))
      return [[reshape(y, [...s.slice(0, r - 2), a.aval.shape[r - 2], s[r - 1], s[r]])], [r]]
    }
    const size = batchSize([a, b], [da, db])
    return [[mm(atFront(a, da, size), atFront(b, db, size))], [0]]
  },
}
