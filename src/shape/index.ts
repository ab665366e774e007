/** Shapes: the type-level shape functions and the run-time codecs for data from outside. */
export type * from './types.ts'
export { stridesOf } from './strides.ts'
export {
  TensorType,
  decodeTensor,
  decodeWith,
  formatDecodeError,
  matchShape,
  tensorCodec,
  tensorRecord,
} from './codec.ts'
export type { Binding, Bindings, SomeTensorType, TensorJson } from './codec.ts'
