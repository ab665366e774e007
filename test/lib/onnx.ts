/** Small ONNX graphs shared by the codec's tests. */
import { type GraphProto, graphProto, nodeProto, TensorDataType, tensorValueInfo } from '../../src/onnx/proto.ts'

/** A FLOAT graph input or output of the given shape (sizes, symbolic names, or null for unknown). */
export const f32 = (shape: readonly (number | string | null)[], name: string) =>
  tensorValueInfo(name, TensorDataType.FLOAT, shape)

/** A Scan body adding each row to a running sum: (sum, x) ↦ (sum + x, sum + x). */
export const cumsumBody = (n: number): GraphProto =>
  graphProto({
    name: 'cumsum_body',
    node: [nodeProto('Add', ['sum_in', 'x_t'], ['sum_out']), nodeProto('Identity', ['sum_out'], ['y_t'])],
    input: [f32([n], 'sum_in'), f32([n], 'x_t')],
    output: [f32([n], 'sum_out'), f32([n], 'y_t')],
  })
