/**
 * Recurrent networks: `scan`, cells and the combinators that run them over
 * sequences, and the two exact gradient algorithms of D. Barber, Neural Nets
 * (lecture notes), "Computing the Gradient": BPTT (reverse
 * mode through the scan) and RTRL (forward sensitivities), which compute the
 * gradient of the same objective `sequenceLoss(cell, loss)`.
 */
export { scan, type LengthOf, type ScanOptions, type Stacked, type Unstacked } from './scan.ts'
export {
  bidirectional,
  checkState,
  defineCell,
  elman,
  gru,
  lstm,
  rnn,
  stacked,
  zeroState,
  type AnyCell,
  type Bidirectional,
  type Cell,
  type CellOptions,
  type ElmanParams,
  type GruOptions,
  type GruParams,
  type GruResetAfterParams,
  type LstmLayout,
  type LstmParams,
  type Rnn,
  type StackedCell,
  type StateLayout,
  type StateOf,
} from './cells.ts'
export { orthogonal } from './orthogonal.ts'
export { raveler, type Raveled } from './ravel.ts'
export {
  sequenceLoss,
  type FinalStateLoss,
  type SequenceGradient,
  type SequenceGradientFn,
  type SequenceLoss,
  type SequenceObjective,
  type StepLoss,
} from './loss.ts'
export { bptt, type BpttOptions } from './bptt.ts'
export {
  exactSensitivity,
  rtrl,
  rtrlOnline,
  type RtrlCarry,
  type RtrlOnline,
  type RtrlOptions,
  type RtrlFn,
  type RtrlResult,
  type SensitivityUpdate,
} from './rtrl.ts'
export { bytesOf, scanFootprints, type ScanFootprint } from './footprint.ts'
