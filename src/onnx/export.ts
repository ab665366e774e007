/**
 * Programs as ONNX models. Every primitive has a lowering to ONNX operators
 * (opset 21) in `rules`, a table exhaustive in the primitive type like the
 * transforms' rule tables, so that a primitive added without one does not
 * compile. A lowering gives the CPU interpreter's values, not only the
 * operator's nearest meaning, where the two part:
 *  - an index out of range is clamped by a gather and dropped by a
 *    scatter-add (the compiled-program rule of every backend);
 *  - NaN propagates through max and reduceMax, sorts last (first when
 *    descending) in argsort, gives 0 converted to i32 (which saturates), and
 *    sign(NaN) is 0;
 *  - i32 division by 0 gives 0, and −2³¹ / −1 wraps, as JavaScript's
 *    conversion does, where a C division would trap;
 *  - log1p and expm1 keep their accuracy near 0 (Kahan's forms of log and
 *    exp, which ONNX lacks);
 *  - pow(±1, NaN or ±∞) is NaN, as Math.pow gives;
 *  - randomBits is the same Threefry-2×32 (in uint32 arithmetic), so a key
 *    gives the same numbers bit for bit.
 * Control flow becomes ONNX control flow: cond an `If` (nested for more
 * than two branches), whileLoop a `Loop` with its condition evaluated after
 * each body, scan a `Loop` over the leading axis. Calls (custom derivative
 * rules, checkpoints, nested jitted functions) are inlined: a model runs
 * the function, and has no use for its rules.
 */
import { isFloat } from '../dtype.ts'
import { sizeOf } from '../tensor.ts'
import { type Primitive, primitiveKinds } from '../core/primitive.ts'
import { type Atom, Literal, Program, type Var } from '../ir/program.ts'
import { inlineCalls } from '../passes/inline-calls.ts'
import { ConcreteTensor, type Tensor } from '../tensor.ts'
import {
  attr,
  encodeModel,
  type GraphProto,
  IR_VERSION,
  OPSET_VERSION,
  type ModelProto,
  type TensorProto,
  tensorProto,
} from './proto.ts'
import {
  binaryOp,
  cast,
  CODES,
  Graph,
  inAval,
  type Lowering,
  Names,
  OnnxExportError,
  type OnnxType,
  outAval,
  type Rule,
  unaryOp,
  valueInfo,
  where,
} from './graph.ts'
import { condRule, scanRule, whileRule } from './lower-control.ts'
import { argsortRule, gatherRule, permutation, scatterAddRule } from './lower-index.ts'
import { erf64, expm1, log1p, maxOf, randomBitsRule, toI32 } from './lower-math.ts'

export { OnnxExportError } from './graph.ts'

// ---------------------------------------------------------------- the table

const COMPARISONS = { lt: 'Less', le: 'LessOrEqual', gt: 'Greater', ge: 'GreaterOrEqual', eq: 'Equal', ne: 'Equal' }

const callRule: Rule<'customJvp' | 'customVjp' | 'checkpoint' | 'jitCall'> = () => {
  throw new OnnxExportError('onnx: calls are inlined before lowering')
}

/** The ONNX export rule of every primitive: the nodes that compute it. */
export const rules: { readonly [P in Primitive]: Rule<P> } = {
  neg: unaryOp('Neg'),
  exp: unaryOp('Exp'),
  log: unaryOp('Log'),
  log1p: ({ g }, [x], eqn) => [log1p(g, x, inAval(eqn).dtype)],
  expm1: ({ g }, [x], eqn) => [expm1(g, x, inAval(eqn).dtype)],
  tanh: unaryOp('Tanh'),
  logistic: unaryOp('Sigmoid'),
  sin: unaryOp('Sin'),
  cos: unaryOp('Cos'),
  sqrt: unaryOp('Sqrt'),
  abs: unaryOp('Abs'),
  sign: ({ g }, [x], eqn) => {
    const s = g.op1('Sign', [x])
    // The interpreter's sign(NaN) is 0 (NaN is neither > 0 nor < 0).
    return [
      isFloat(inAval(eqn).dtype) ? where(g, g.op1('IsNaN', [x]), g.scalar(inAval(eqn).dtype as OnnxType, 0), s) : s,
    ]
  },
  erf: ({ g }, [x], eqn) => [inAval(eqn).dtype === 'f64' ? erf64(g, x) : g.op1('Erf', [x])],
  convert: ({ g }, [x], eqn) => {
    const from = inAval(eqn).dtype
    const to = eqn.params.dtype
    if (from === to) return [g.op1('Identity', [x])]
    if (to === 'i32' && isFloat(from)) return [toI32(g, x, from)]
    if (to === 'bool' && from !== 'bool') return [g.op1('Not', [g.op1('Equal', [x, g.scalar(from as OnnxType, 0)])])]
    return [cast(g, x, to)]
  },
  stopGradient: unaryOp('Identity'),
  add: binaryOp('Add'),
  sub: binaryOp('Sub'),
  mul: binaryOp('Mul'),
  div: ({ g }, [a, b], eqn) => {
    if (inAval(eqn).dtype !== 'i32') return [g.op1('Div', [a, b])]
    // C traps on x / 0 and −2³¹ / −1; the interpreter gives 0 and −2³¹ (a wrapped −x).
    const zero = g.op1('Equal', [b, g.scalar('i32', 0)])
    const minusOne = g.op1('Equal', [b, g.scalar('i32', -1)])
    const safe = where(g, g.op1('Or', [zero, minusOne]), g.scalar('i32', 1), b)
    const q = g.op1('Div', [a, safe])
    return [where(g, zero, g.scalar('i32', 0), where(g, minusOne, g.op1('Neg', [a]), q))]
  },
  pow: ({ g }, [a, b], eqn) => {
    const p = g.op1('Pow', [a, b])
    const d = inAval(eqn).dtype
    if (!isFloat(d)) return [p]
    const f = d as OnnxType
    const unit = g.op1('Equal', [g.op1('Abs', [a]), g.scalar(f, 1)])
    const wild = g.op1('Or', [g.op1('IsNaN', [b]), g.op1('IsInf', [b])])
    return [where(g, g.op1('And', [unit, wild]), g.scalar(f, NaN), p)]
  },
  max: ({ g }, [a, b], eqn) => [maxOf(g, a, b, inAval(eqn).dtype)],
  compare: ({ g }, [a, b], eqn) => {
    const { op } = eqn.params
    const d = inAval(eqn).dtype
    const [x, y] = d === 'bool' && op !== 'eq' && op !== 'ne' ? [cast(g, a, 'i32'), cast(g, b, 'i32')] : [a, b]
    const r = g.op1(COMPARISONS[op], [x, y])
    return [op === 'ne' ? g.op1('Not', [r]) : r]
  },
  select: ({ g }, [p, a, b], eqn) =>
    // ONNX Runtime's Where has no bool kernel: (p ∧ a) ∨ (¬p ∧ b).
    inAval(eqn, 1).dtype === 'bool'
      ? [g.op1('Or', [g.op1('And', [p, a]), g.op1('And', [g.op1('Not', [p]), b])])]
      : [where(g, p, a, b)],
  sum: ({ g }, [x], eqn) => {
    const { axes } = eqn.params
    if (axes.length === 0) return [g.op1('Identity', [x])]
    const d = inAval(eqn).dtype
    const operand = d === 'bool' ? cast(g, x, 'i32') : x
    return [g.op1('ReduceSum', [operand, g.i64(axes)], [attr.int('keepdims', 0)])]
  },
  reduceMax: ({ g }, [x], eqn) => {
    const { axes } = eqn.params
    if (axes.length === 0) return [g.op1('Identity', [x])]
    const { dtype, shape } = inAval(eqn)
    const out = outAval(eqn)
    if (axes.some((a) => shape[a] === 0))
      return [g.constant(dtype as OnnxType, out.shape, new Array(sizeOf(out.shape)).fill(-Infinity))]
    const m = g.op1('ReduceMax', [x, g.i64(axes)], [attr.int('keepdims', 0)])
    if (!isFloat(dtype)) return [m]
    const anyNaN = g.op1('ReduceMax', [cast(g, g.op1('IsNaN', [x]), 'i32'), g.i64(axes)], [attr.int('keepdims', 0)])
    return [where(g, cast(g, anyNaN, 'bool'), g.scalar(dtype as OnnxType, NaN), m)]
  },
  cumsum: ({ g }, [x], eqn) => [
    g.op1('CumSum', [x, g.scalar('i64', eqn.params.axis)], [attr.int('reverse', eqn.params.reverse ? 1 : 0)]),
  ],
  broadcast: ({ g }, [x], eqn) => [g.op1('Expand', [x, g.i64(eqn.params.shape)])],
  reshape: ({ g }, [x], eqn) => [g.op1('Reshape', [x, g.i64(eqn.params.shape)], [attr.int('allowzero', 1)])],
  transpose: ({ g }, [x], eqn) => [g.op1('Transpose', [x], [permutation(eqn.params.perm)])],
  slice: ({ g }, [x], eqn) => {
    const { starts, limits } = eqn.params
    if (starts.length === 0) return [g.op1('Identity', [x])]
    return [g.op1('Slice', [x, g.i64(starts), g.i64(limits), g.i64(starts.map((_, i) => i))])]
  },
  pad: ({ g }, [x], eqn) => {
    const { lo, hi } = eqn.params
    if (lo.length === 0) return [g.op1('Identity', [x])]
    return [g.op1('Pad', [x, g.i64([...lo, ...hi]), g.scalar(inAval(eqn).dtype as OnnxType, 0)])]
  },
  concat: ({ g }, xs, eqn) => [g.op1('Concat', [...xs], [attr.int('axis', eqn.params.axis)])],
  rev: ({ g }, [x], eqn) => {
    const { axes } = eqn.params
    if (axes.length === 0) return [g.op1('Identity', [x])]
    return [
      g.op1('Slice', [
        x,
        g.i64(axes.map(() => -1)),
        g.i64(axes.map(() => -(2 ** 53))),
        g.i64(axes),
        g.i64(axes.map(() => -1)),
      ]),
    ]
  },
  matmul: binaryOp('MatMul'),
  gather: gatherRule,
  scatterAdd: scatterAddRule,
  argsort: argsortRule,
  randomBits: randomBitsRule,
  cond: condRule,
  whileLoop: whileRule,
  scan: scanRule,
  customJvp: callRule,
  customVjp: callRule,
  checkpoint: callRule,
  jitCall: callRule,
  customVjpLin: () => {
    throw new OnnxExportError(
      'onnx: a linearized customVjp has no forward rule (it is evaluated only through its transpose, the backward rule)',
    )
  },
}

// ---------------------------------------------------------------- programs

/** The name of a literal operand: a constant of its value. */
function literal(g: Graph, a: Literal): string {
  const v = a.value as Tensor
  if (!(v instanceof ConcreteTensor)) throw new OnnxExportError('onnx: a literal must be a concrete value')
  return g.constant(v.aval.dtype, v.aval.shape, v.values)
}

function lowerProgram(l: Omit<Lowering, 'g'>, g: Graph, program: Program, inputs: readonly string[]): string[] {
  if (program.constVars.length > 0)
    throw new OnnxExportError('onnx: an inner program captures values; close it first (closeProgram)')
  const env = new Map<Var, string>()
  program.inputs.forEach((v, i) => env.set(v, inputs[i]))
  const read = (a: Atom): string => {
    if (a instanceof Literal) return literal(g, a)
    const name = env.get(a)
    if (name === undefined) throw new OnnxExportError('onnx: a variable is read before it is defined')
    return name
  }
  const lowering: Lowering = { ...l, g }
  for (const eqn of program.eqns) {
    if (primitiveKinds[eqn.prim] === 'call') throw new OnnxExportError(`onnx: ${eqn.prim} should have been inlined`)
    const rule = rules[eqn.prim] as Rule<Primitive>
    const outs = rule(lowering, eqn.inputs.map(read), eqn)
    if (outs.length !== eqn.outputs.length)
      throw new OnnxExportError(
        `onnx: the lowering of ${eqn.prim} gave ${outs.length} outputs for ${eqn.outputs.length}`,
      )
    eqn.outputs.forEach((v, i) => env.set(v, outs[i]))
  }
  return program.outputs.map(read)
}

/** Options of the ONNX export: the graph's name and the names of its inputs and outputs. */
export interface ExportOptions {
  /** The graph's name (default 'adjoint'). */
  readonly name?: string
  /** Names of the inputs, in order (default input0, input1, …; `exportFunction` uses the arguments' paths). */
  readonly inputNames?: readonly string[]
  /** Names of the outputs (default output0, …). */
  readonly outputNames?: readonly string[]
  /** Names of the captured constants, written as initializers (default const0, …). */
  readonly constNames?: readonly string[]
  /** A description kept in the model (`doc_string`). */
  readonly docString?: string
  /** Key–value metadata kept in the model (`metadata_props`). */
  readonly metadata?: Readonly<Record<string, string>>
}

function checkNames(what: string, names: readonly string[] | undefined, n: number): void {
  if (names === undefined) return
  if (names.length !== n) throw new OnnxExportError(`onnx: expected ${n} ${what}, got ${names.length}`)
}

/** The ONNX model of a Program: its inputs and outputs as the graph's, its captured values as initializers. */
export function programToModel(program: Program, options: ExportOptions = {}): ModelProto {
  checkNames('input names', options.inputNames, program.inputs.length)
  checkNames('output names', options.outputNames, program.outputs.length)
  checkNames('constant names', options.constNames, program.constVars.length)
  const inlined = inlineCalls(program)
  const names = new Names()
  const inputNames = program.inputs.map((_, i) => names.reserve(options.inputNames?.[i] ?? `input${i}`))
  const outputNames = program.outputs.map((_, i) => names.reserve(options.outputNames?.[i] ?? `output${i}`))
  const constNames = program.constVars.map((_, i) => names.reserve(options.constNames?.[i] ?? `const${i}`))
  const initializers: TensorProto[] = inlined.constValues.map((t, i) => {
    const c = t.toConcrete()
    return tensorProto(constNames[i], CODES[c.aval.dtype], [...c.aval.shape], c.values)
  })
  const subgraph: Lowering['subgraph'] = (name, build) => {
    const g = new Graph(names)
    const { inputs, outputs, avals } = build(g)
    // Every output a value of its own, made in this graph (an outer value or a repeat gets an Identity).
    const seen = new Set<string>()
    const made = new Set(g.nodes.flatMap((n) => n.output))
    const outs = outputs.map((o) => {
      const fresh = made.has(o) && !seen.has(o) ? o : g.op1('Identity', [o])
      seen.add(fresh)
      return fresh
    })
    return {
      name: names.fresh(name),
      node: g.nodes,
      input: inputs,
      output: outs.map((o, i) => valueInfo(o, avals[i])),
      initializer: [],
      valueInfo: [],
    }
  }
  const base = { program: (g: Graph, p: Program, ins: readonly string[]) => lowerProgram(base, g, p, ins), subgraph }
  const g = new Graph(names)
  const closed = new Program([...inlined.constVars, ...inlined.inputs], [], [], inlined.eqns, inlined.outputs)
  const outs = lowerProgram(base, g, closed, [...constNames, ...inputNames])
  outs.forEach((o, i) =>
    g.nodes.push({
      opType: 'Identity',
      input: [o],
      output: [outputNames[i]],
      attribute: [],
      name: outputNames[i],
      domain: '',
    }),
  )
  const graph: GraphProto = {
    name: options.name ?? 'adjoint',
    node: g.nodes,
    initializer: initializers,
    input: program.inputs.map((v, i) => valueInfo(inputNames[i], v.aval)),
    output: program.outputs.map((a, i) => valueInfo(outputNames[i], a.aval)),
    valueInfo: [],
    docString: options.docString ?? '',
  }
  return {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET_VERSION }],
    producerName: 'adjoint',
    producerVersion: '0.1.0',
    domain: '',
    modelVersion: 1,
    docString: options.docString ?? '',
    graph,
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  }
}

/** The ONNX file (protobuf bytes) of a Program. */
export const exportProgram = (program: Program, options: ExportOptions = {}): Uint8Array =>
  encodeModel(programToModel(program, options))
