/**
 * The values of a graph being imported, and what a node's rule sees.
 *
 * A value is an adjoint tensor together with the ONNX element type it
 * stands for (INT64 and the narrower integers are held as i32, FLOAT as f32
 * and DOUBLE as f64 unless the import asks for one float type, BOOL as
 * bool). A value may also be *known*: its elements computed while the graph
 * is traced, because it comes from an initializer that is not a parameter,
 * a Constant node, a Shape node (shapes are known at trace time), or
 * arithmetic on known values. Shape arguments (Reshape's shape, Slice's
 * starts, reduction axes, …) must be known; the elements of a value that
 * came from the caller's inputs or the parameters are never read, so that
 * grad, vmap and jit trace the model as they trace any function.
 *
 * Known integers are JavaScript numbers (INT64 values up to 2⁵³ exactly,
 * such as the INT64 maximum that exporters use as "to the end"); they
 * become an i32 tensor only when an operation needs them as data, and one
 * outside i32's range is refused there.
 */
import { type DType, type FloatDType, fromNumbers } from '../dtype.ts'
import { concrete, formatShape, sizeOf, type Tensor } from '../tensor.ts'
import {
  AttributeType,
  type AttributeProto,
  attributeValue,
  dataTypeName,
  type GraphProto,
  type NodeProto,
  TensorDataType,
  type TensorProto,
  tensorValues,
} from './proto.ts'

/** The error thrown when an ONNX model cannot be imported. */
export class OnnxImportError extends Error {
  override readonly name = 'OnnxImportError'
}

const { FLOAT, DOUBLE, BOOL, INT64, INT32, INT16, INT8, UINT16, UINT8, UINT32 } = TensorDataType
const INTEGERS: readonly number[] = [INT64, INT32, INT16, INT8, UINT16, UINT8]

export const isIntegerType = (type: number): boolean => INTEGERS.includes(type)
export const isFloatType = (type: number): boolean => type === FLOAT || type === DOUBLE

/** The adjoint dtype that holds elements of ONNX type `type`; `what` names the value in the error. */
export function dtypeFor(type: number, floatDType: FloatDType | undefined, what: string): DType {
  if (type === FLOAT) return floatDType ?? 'f32'
  if (type === DOUBLE) return floatDType ?? 'f64'
  if (type === BOOL) return 'bool'
  if (isIntegerType(type)) return 'i32'
  const why =
    type === UINT32
      ? '; adjoint has no unsigned 32-bit type, so the bit arithmetic of exported random-number programs does not import'
      : ''
  throw new OnnxImportError(
    `onnx import: ${what} has element type ${dataTypeName(type)}, which has no adjoint dtype ` +
      `(FLOAT → f32, DOUBLE → f64, BOOL → bool, INT64/INT32/INT16/INT8/UINT16/UINT8 → i32)${why}`,
  )
}

/** The ONNX type that an adjoint dtype stands for when nothing else says (i32 as INT64, ONNX's index type). */
export const typeForDType = (d: DType): number =>
  d === 'f32' ? FLOAT : d === 'f64' ? DOUBLE : d === 'bool' ? BOOL : INT64

// ---------------------------------------------------------------- values

/** A value of the graph: its ONNX type, its shape, its tensor and, when known while tracing, its elements. */
export class Value {
  private held: Tensor | undefined
  private constructor(
    readonly type: number,
    readonly dtype: DType,
    readonly shape: readonly number[],
    tensor: Tensor | undefined,
    readonly known: ArrayLike<number> | undefined,
  ) {
    this.held = tensor
  }

  /** A value computed from the inputs (its elements are not read). */
  static of(type: number, tensor: Tensor): Value {
    return new Value(type, tensor.aval.dtype, tensor.aval.shape, tensor, undefined)
  }

  /** A value whose elements are known now. */
  static known(type: number, dtype: DType, shape: readonly number[], values: ArrayLike<number>): Value {
    if (values.length !== sizeOf(shape))
      throw new OnnxImportError(
        `onnx import: ${values.length} elements do not fill the shape ${formatShape(shape)} of a constant`,
      )
    return new Value(type, dtype, [...shape], undefined, values)
  }

  get isKnown(): boolean {
    return this.known !== undefined
  }

  /** The value as a tensor (a constant where the value is known). */
  get tensor(): Tensor {
    if (this.held === undefined) {
      const v = this.known as ArrayLike<number>
      if (this.dtype === 'i32')
        for (let i = 0; i < v.length; i++)
          if (!(Number.isInteger(v[i]) && v[i] >= -(2 ** 31) && v[i] < 2 ** 31))
            throw new OnnxImportError(
              `onnx import: the ${dataTypeName(this.type)} constant element ${v[i]} (at ${i} of ${formatShape(this.shape)}) ` +
                'does not fit in i32, which holds integer data in adjoint',
            )
      this.held = concrete(this.shape, this.dtype, fromNumbers(this.dtype, v))
    }
    return this.held
  }
}

/** The elements of an initializer or a constant attribute as numbers (INT64 read as doubles). */
export function protoNumbers(t: TensorProto): ArrayLike<number> {
  const v = tensorValues(t)
  return v instanceof BigInt64Array || v instanceof BigUint64Array ? Array.from(v, Number) : v
}

/** A tensor proto as a known value. */
export function knownProto(t: TensorProto, floatDType: FloatDType | undefined, what: string): Value {
  const dtype = dtypeFor(t.dataType, floatDType, what)
  return Value.known(t.dataType, dtype, t.dims, protoNumbers(t))
}

// ---------------------------------------------------------------- what a rule sees

/** Evaluates a subgraph: the values of its outputs, given its inputs' values; outer names stay in scope. */
export type SubgraphRunner = (
  graph: GraphProto,
  inputs: readonly Value[],
  overrides?: ReadonlyMap<NodeProto, readonly Value[]>,
) => Value[]

/** A node being evaluated: its attributes, its inputs' names in messages, and the import's settings. */
export class NodeContext {
  private readonly attrs: Map<string, AttributeProto>
  constructor(
    readonly node: NodeProto,
    readonly opset: number,
    readonly floatDType: FloatDType | undefined,
    readonly run: SubgraphRunner,
    /** The value of a name in scope at this node (this graph's and the enclosing graphs'). */
    readonly lookup: (name: string) => Value | undefined,
    /**
     * Evaluating known values: integer types are held in f64 (exact up to
     * 2⁵³, so INT64 shape arithmetic keeps its range) and cut back to
     * integers afterwards.
     */
    readonly wide = false,
  ) {
    this.attrs = new Map(node.attribute.map((a) => [a.name, a]))
  }

  /** `node 'name' (OpType)`, the node named by its first output where it has no name. */
  get where(): string {
    const name = this.node.name !== '' ? this.node.name : (this.node.output[0] ?? '')
    return `node '${name}' (${this.node.opType})`
  }

  fail(message: string): never {
    throw new OnnxImportError(`onnx import: ${this.where}: ${message}`)
  }

  has(name: string): boolean {
    return this.attrs.has(name)
  }

  private attribute(name: string, type: number, kind: string): AttributeProto | undefined {
    const a = this.attrs.get(name)
    if (a !== undefined && a.type !== type)
      this.fail(`attribute '${name}' should be ${kind}, got ${JSON.stringify(attributeValue(a))}`)
    return a
  }
  int(name: string, fallback: number): number {
    const a = this.attribute(name, AttributeType.INT, 'an integer')
    return a === undefined ? fallback : (attributeValue(a) as number)
  }
  float(name: string, fallback: number): number {
    const a = this.attribute(name, AttributeType.FLOAT, 'a float')
    return a === undefined ? fallback : (attributeValue(a) as number)
  }
  string(name: string, fallback: string): string {
    const a = this.attribute(name, AttributeType.STRING, 'a string')
    return a === undefined ? fallback : (attributeValue(a) as string)
  }
  ints(name: string): readonly number[] | undefined {
    const a = this.attribute(name, AttributeType.INTS, 'a list of integers')
    return a === undefined ? undefined : (attributeValue(a) as readonly number[])
  }
  floats(name: string): readonly number[] | undefined {
    const a = this.attribute(name, AttributeType.FLOATS, 'a list of floats')
    return a === undefined ? undefined : (attributeValue(a) as readonly number[])
  }
  strings(name: string): readonly string[] | undefined {
    const a = this.attribute(name, AttributeType.STRINGS, 'a list of strings')
    return a === undefined ? undefined : (attributeValue(a) as readonly string[])
  }
  tensor(name: string): TensorProto | undefined {
    const a = this.attribute(name, AttributeType.TENSOR, 'a tensor')
    return a === undefined ? undefined : (attributeValue(a) as TensorProto)
  }
  graph(name: string): GraphProto {
    const a = this.attribute(name, AttributeType.GRAPH, 'a graph')
    if (a === undefined) this.fail(`the attribute '${name}' (a graph) is missing`)
    return attributeValue(a) as GraphProto
  }

  /** Input k, which must be given. */
  input(ins: readonly (Value | undefined)[], k: number, what: string): Value {
    const v = ins[k]
    if (v === undefined) this.fail(`input ${k} (${what}) is missing`)
    return v
  }

  /** `'name'`, input k's name in a message. */
  inputName(k: number): string {
    return `'${this.node.input[k] ?? ''}'`
  }

  /** The elements of input k, which must be known while tracing: a shape, axes, pads, a count. */
  static(ins: readonly (Value | undefined)[], k: number, what: string): number[] {
    const v = this.input(ins, k, what)
    if (v.known === undefined)
      this.fail(
        `input ${k} ${this.inputName(k)} (${what}) must be known when the model is traced, but it is computed ` +
          'from the inputs or the parameters; adjoint fixes shapes at trace time, so it takes only a constant, ' +
          'an initializer, a Shape, or arithmetic on those there',
      )
    return Array.from(v.known)
  }

  /** Optional input k's elements (known), or undefined when it is not given. */
  optionalStatic(ins: readonly (Value | undefined)[], k: number, what: string): number[] | undefined {
    return ins[k] === undefined ? undefined : this.static(ins, k, what)
  }

  /** An axis given as `axis` of a tensor of rank `rank` (negative counts from the end), checked. */
  axis(axis: number, rank: number, what = 'axis'): number {
    const a = axis < 0 ? axis + rank : axis
    if (!(Number.isInteger(a) && a >= 0 && a < rank))
      this.fail(`${what} ${axis} is out of range for a tensor of rank ${rank}`)
    return a
  }

  dtypeOf(type: number, what: string): DType {
    if (this.wide && isIntegerType(type)) return 'f64'
    return dtypeFor(type, this.floatDType, `${this.where}: ${what}`)
  }

  /** This node evaluated on known values (see `wide`). */
  widened(): NodeContext {
    return new NodeContext(this.node, this.opset, this.floatDType, this.run, this.lookup, true)
  }

  /** Input k's value as a float tensor, refusing another type. */
  float32or64(ins: readonly (Value | undefined)[], k: number, what: string): Tensor {
    const v = this.input(ins, k, what)
    if (!isFloatType(v.type))
      this.fail(`input ${k} ${this.inputName(k)} (${what}) must be FLOAT or DOUBLE, got ${dataTypeName(v.type)}`)
    return v.tensor
  }
}

/** A node's rule: its outputs (undefined for an optional output it does not give) from its inputs. */
export type Rule = (cx: NodeContext, ins: readonly (Value | undefined)[]) => readonly (Value | undefined)[]
