/** The random cells the recurrence suites draw from, in f64. */
import { elman, gru, lstm, stacked, type AnyCell } from '../../src/recurrent/index.ts'

export type Kind = 'elman' | 'lstm' | 'gru' | 'gru-after' | 'stacked'
export const kinds: readonly Kind[] = ['elman', 'lstm', 'gru', 'gru-after', 'stacked']

/** A cell of `kind` with I inputs and H units ('gru-after': reset after the product; 'stacked': an LSTM under an Elman cell). */
export function makeCell(kind: Kind, I: number, H: number): AnyCell {
  const o = { dtype: 'f64' } as const
  switch (kind) {
    case 'elman':
      return elman(I, H, o)
    case 'lstm':
      return lstm(I, H, o)
    case 'gru':
      return gru(I, H, o)
    case 'gru-after':
      return gru(I, H, { ...o, resetAfter: true }) as unknown as AnyCell
    case 'stacked':
      return stacked(lstm(I, H, o), elman(H, H, o)) as unknown as AnyCell
    default:
      return kind satisfies never
  }
}
