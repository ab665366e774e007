/**
 * The pieces every ONNX lowering uses: value names unique across a model's
 * graphs, a graph being written (its nodes and constants), the element
 * types, and the shape of a lowering rule.
 */
import type { Primitive } from '../core/primitive.ts'
import type { DType } from '../dtype.ts'
import type { Atom, Eqn, Program } from '../ir/program.ts'
import type { Aval } from '../tensor.ts'
import {
  type AttributeProto,
  attr,
  type GraphProto,
  type NodeProto,
  TensorDataType,
  tensorProto,
  type ValueInfoProto,
} from './proto.ts'

/** The error thrown when a Program cannot be exported to ONNX. */
export class OnnxExportError extends Error {
  override readonly name = 'OnnxExportError'
}

// ---------------------------------------------------------------- types

export type OnnxType = 'f32' | 'f64' | 'i32' | 'bool' | 'i64' | 'u32'

export const CODES: Record<OnnxType, number> = {
  f32: TensorDataType.FLOAT,
  f64: TensorDataType.DOUBLE,
  i32: TensorDataType.INT32,
  bool: TensorDataType.BOOL,
  i64: TensorDataType.INT64,
  u32: TensorDataType.UINT32,
}

export const onnxDataType = (d: DType): number => CODES[d]

export function valueInfo(
  name: string,
  aval: { readonly shape: readonly number[]; readonly dtype: OnnxType },
): ValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: CODES[aval.dtype], shape: { dim: aval.shape.map((d) => ({ dimValue: d })) } } },
  }
}

export function constantTensor(name: string, dtype: OnnxType, dims: readonly number[], values: ArrayLike<number>) {
  return tensorProto(
    name,
    CODES[dtype],
    [...dims],
    dtype === 'i64' ? BigInt64Array.from(values as number[], (v) => BigInt(v)) : values,
  )
}

// ---------------------------------------------------------------- graphs

/** Fresh value names for one model: every name is defined once, in whichever graph. */
export class Names {
  private used = new Set<string>()
  fresh(hint: string): string {
    const base = hint.replace(/[^A-Za-z0-9_.:[\]/-]/g, '_') || 'v'
    let name = base
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`
    this.used.add(name)
    return name
  }
  reserve(name: string): string {
    if (this.used.has(name)) throw new OnnxExportError(`onnx: the name '${name}' is given twice`)
    this.used.add(name)
    return name
  }
}

/** A graph being written: its nodes, and constants shared by value. */
export class Graph {
  readonly nodes: NodeProto[] = []
  private readonly constants = new Map<string, string>()
  constructor(readonly names: Names) {}

  /** A node with `n` fresh outputs. */
  op(opType: string, inputs: readonly string[], attributes: AttributeProto[] = [], n = 1): string[] {
    const outputs = Array.from({ length: n }, () => this.names.fresh(opType.toLowerCase()))
    this.nodes.push({
      opType,
      input: [...inputs],
      output: outputs,
      attribute: attributes,
      name: outputs[0],
      domain: '',
    })
    return outputs
  }
  op1(opType: string, inputs: readonly string[], attributes: AttributeProto[] = []): string {
    return this.op(opType, inputs, attributes)[0]
  }
  /** A constant (a Constant node, written once per value in this graph). */
  constant(dtype: OnnxType, dims: readonly number[], values: ArrayLike<number>): string {
    const key = `${dtype}|${dims.join(',')}|${Array.from(values, (v) => (Object.is(v, -0) ? '-0' : String(v))).join(',')}`
    const known = this.constants.get(key)
    if (known !== undefined) return known
    const name = this.names.fresh('const')
    this.nodes.push({
      opType: 'Constant',
      input: [],
      output: [name],
      attribute: [attr.tensor('value', constantTensor(name, dtype, dims, values))],
      name,
      domain: '',
    })
    this.constants.set(key, name)
    return name
  }
  scalar(dtype: OnnxType, v: number): string {
    return this.constant(dtype, [], [v])
  }
  i64(values: readonly number[]): string {
    return this.constant('i64', [values.length], values)
  }
}

// ---------------------------------------------------------------- lowering

export interface Lowering {
  readonly g: Graph
  /** Lowers a Program into a graph: its outputs' names, given its inputs' names (consts included first). */
  readonly program: (g: Graph, program: Program, inputs: readonly string[]) => string[]
  /** A subgraph computing `program` from `inputs` (named, typed graph inputs) with outer values in scope. */
  readonly subgraph: (
    name: string,
    build: (g: Graph) => { inputs: ValueInfoProto[]; outputs: string[]; avals: readonly Aval[] },
  ) => GraphProto
}

export type Rule<P extends Primitive> = (l: Lowering, ins: readonly string[], eqn: Eqn<P>) => string[]

export const avalOf = (a: Atom): Aval => a.aval
export const inAval = (eqn: Eqn, i = 0) => avalOf(eqn.inputs[i])
export const outAval = (eqn: Eqn, i = 0) => eqn.outputs[i].aval

export const unaryOp =
  (opType: string): Rule<Primitive> =>
  ({ g }, [x]) => [g.op1(opType, [x])]
export const binaryOp =
  (opType: string): Rule<Primitive> =>
  ({ g }, [a, b]) => [g.op1(opType, [a, b])]

/** where(c, a, b) */
export const where = (g: Graph, c: string, a: string, b: string) => g.op1('Where', [c, a, b])
export const cast = (g: Graph, x: string, to: OnnxType) => g.op1('Cast', [x], [attr.int('to', CODES[to])])

/** max(a, b) that is NaN where either is (ONNX leaves it open), and +0 for −0 and +0. */
