/**
 * ONNX models as functions. `importModel(bytes)` reads a model (opset 13
 * or later, default domain) and gives its float initializers as `params`
 * and the model as a pure function `apply(params, ...inputs)`, which
 * evaluates the graph's nodes in order with adjoint's own operations: grad,
 * jvp, vmap and jit transform it as they transform any function.
 *
 *   const model = onnx.importModel(await fs.readFile('mlp.onnx'))
 *   const loss = (p, x, y) => nn.softmaxCrossEntropy(model.apply(p, x) as Tensor, y)
 *   const g = grad(loss)(model.params, x, y)   // a record keyed by the initializers' names
 *
 * What is read, and how:
 *  - FLOAT and DOUBLE initializers are the parameters (f32 and f64 tensors,
 *    or all in `floatDType`); every other initializer is a constant. INT64
 *    and the other integer types are held as i32, BOOL as bool.
 *  - Shape arguments (Reshape's shape, Slice's starts, reduction axes, pads,
 *    TopK's k, a Loop's trip count) must be known while the graph is
 *    traced: constants, initializers that are not parameters, Shapes, and
 *    arithmetic on those (see import-values.ts). The elements of the inputs
 *    and the parameters are never read, so the function traces.
 *  - If is `cond`, Loop a `scan` (known trip count, condition constantly
 *    true) or a `whileLoop` (which, as in adjoint itself, has forward-mode
 *    derivatives but not reverse mode); LSTM, GRU and RNN are scans, so
 *    reverse mode through them is backpropagation through time.
 * Refused with an error naming the node: an operator not in
 * `supportedOperators`, a domain other than ai.onnx, an opset before 13,
 * tensors of types adjoint cannot hold (UINT32, UINT64, FLOAT16, strings,
 * …), a shape argument computed from the data. A call with a parameter or
 * an input of the wrong shape or dtype is refused naming it.
 */
import type { DType, FloatDType } from '../dtype.ts'
import { describeArg, formatAval, formatShape, Tensor } from '../tensor.ts'
import { controlRules } from './import-control.ts'
import { nnRules } from './import-nn.ts'
import { elementwiseRules, indexingRules, reductionRules, structureRules } from './import-ops.ts'
import { recurrentRules } from './import-rnn.ts'
import {
  dtypeFor,
  isFloatType,
  isIntegerType,
  knownProto,
  NodeContext,
  OnnxImportError,
  type Rule,
  type SubgraphRunner,
  Value,
} from './import-values.ts'
import {
  AttributeType,
  dataTypeName,
  decodeModel,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type ValueInfoProto,
} from './proto.ts'

export { OnnxImportError } from './import-values.ts'

const RULES: Readonly<Record<string, Rule>> = {
  ...elementwiseRules,
  ...reductionRules,
  ...structureRules,
  ...indexingRules,
  ...nnRules,
  ...recurrentRules,
  ...controlRules,
}

/** The operators `importModel` reads (default domain, opset 13 and later), sorted. */
export const supportedOperators: readonly string[] = Object.freeze(Object.keys(RULES).sort())

/**
 * Operators evaluated on known values when all their inputs are known (shape
 * arithmetic: Shape → Gather → Concat → Reshape, as exported PyTorch graphs
 * compute shapes), so that their results can be shape arguments.
 */
const ON_KNOWN = new Set([
  ...['Identity', 'Cast', 'CastLike', 'Neg', 'Abs', 'Sign', 'Sqrt', 'Add', 'Sub', 'Mul', 'Div', 'Pow'],
  ...['Min', 'Max', 'Sum', 'Mean', 'Clip', 'Where', 'Not', 'And', 'Or', 'Xor'],
  ...['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual'],
  ...['Gather', 'GatherElements', 'Concat', 'Unsqueeze', 'Squeeze', 'Reshape', 'Flatten', 'Slice', 'Expand'],
  ...['Transpose', 'Tile', 'Split', 'Pad', 'CumSum', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceMean'],
])

const MIN_OPSET = 13

const BITS = ['BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor', 'BitwiseNot']
const BITS_WHY =
  ' (bit operations act on unsigned integers, and adjoint has no unsigned 32-bit type: ' +
  'models exported from programs that draw random numbers, which compute Threefry in UINT32, do not import)'

/** Options of the ONNX import. */
export interface ImportOptions {
  /**
   * The dtype of every floating-point tensor, FLOAT and DOUBLE alike
   * (default: FLOAT as f32, DOUBLE as f64). 'f64' gives derivatives precise
   * enough to check by finite differences.
   */
  readonly floatDType?: FloatDType
}

/** A graph input or output: its name, shape (sizes, symbolic names, null where unnamed; null: rank unknown) and dtype. */
export interface ValueDescription {
  readonly name: string
  readonly shape: readonly (number | string | null)[] | null
  readonly dtype: DType
  /** The ONNX element type ('FLOAT', 'INT64', …). */
  readonly onnxType: string
}

/** An imported ONNX model: its parameters, its inputs and outputs, and the function that runs it. */
export interface ImportedModel {
  /** The float initializers by name: the model's trainable parameters. */
  readonly params: Readonly<Record<string, Tensor>>
  /** The graph inputs that are not initializers, in order. */
  readonly inputs: readonly ValueDescription[]
  readonly outputs: readonly ValueDescription[]
  /** The default domain's opset version. */
  readonly opset: number
  /**
   * The model as a pure function: its output, or an array of its outputs
   * where it has several. `params` must hold every parameter (start from
   * `model.params`); the inputs come in the order of `inputs`.
   */
  apply(params: Readonly<Record<string, Tensor>>, ...inputs: Tensor[]): Tensor | Tensor[]
}

function fail(message: string): never {
  throw new OnnxImportError(`onnx import: ${message}`)
}

function defaultOpset(model: ModelProto): number {
  const entry = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')
  if (entry === undefined)
    return fail(
      `the model imports no version of the default domain (ai.onnx); it imports ${
        model.opsetImport.map((o) => `${o.domain} ${o.version}`).join(', ') || 'nothing'
      }`,
    )
  if (entry.version < MIN_OPSET)
    fail(
      `the model uses opset ${entry.version}; this importer reads opset ${MIN_OPSET} and later, where operators ` +
        "such as Softmax, Squeeze and Split have today's meaning (convert older models with onnx.version_converter)",
    )
  return entry.version
}

const nodeName = (n: NodeProto) => `node '${n.name !== '' ? n.name : (n.output[0] ?? '')}' (${n.opType})`

/** Refuses, before any call, operators and domains the importer does not read, in the graph and its subgraphs. */
function checkOperators(graph: GraphProto): void {
  for (const node of graph.node) {
    if (node.domain !== '' && node.domain !== 'ai.onnx')
      fail(`${nodeName(node)} is in the domain '${node.domain}'; only the default domain (ai.onnx) is supported`)
    if (!Object.hasOwn(RULES, node.opType))
      fail(
        `${nodeName(node)}: the operator ${node.opType} is not supported${BITS.includes(node.opType) ? BITS_WHY : ''}; ` +
          `the supported operators are ${supportedOperators.join(', ')}`,
      )
    for (const a of node.attribute) {
      if (a.type === AttributeType.GRAPH) checkOperators(a.g)
      if (a.type === AttributeType.GRAPHS) a.graphs.forEach(checkOperators)
    }
  }
}

function describeValue(v: ValueInfoProto, floatDType: FloatDType | undefined, what: string): ValueDescription {
  const t = v.type?.tensorType
  if (t === undefined)
    return fail(`${what} '${v.name}' is not a tensor (sequences, maps and optionals are not supported)`)
  return {
    name: v.name,
    shape:
      t.shape === undefined
        ? null
        : t.shape.dim.map((d) => ('dimValue' in d ? d.dimValue : 'dimParam' in d ? d.dimParam : null)),
    dtype: dtypeFor(t.elemType, floatDType, `${what} '${v.name}'`),
    onnxType: dataTypeName(t.elemType),
  }
}

const showShape = (s: readonly (number | string | null)[] | null) =>
  s === null ? '(any rank)' : formatShape(s.map((d) => d ?? '?'))

function checkInputs(inputs: readonly ValueDescription[], xs: readonly unknown[]): void {
  if (xs.length !== inputs.length)
    fail(`the model takes ${inputs.length} input(s) (${inputs.map((v) => v.name).join(', ')}), got ${xs.length}`)
  const bound = new Map<string, { size: number; at: string }>()
  xs.forEach((x, k) => {
    const d = inputs[k]
    const want = `${d.dtype}${showShape(d.shape)} (ONNX ${d.onnxType})`
    const where = `input ${k} '${d.name}'`
    if (!(x instanceof Tensor)) return fail(`${where} must be a Tensor ${want}, got ${describeArg(x)}`)
    if (x.dtype !== d.dtype) fail(`${where} must be ${want}, got ${formatAval(x.aval)}: the dtype differs`)
    if (d.shape === null) return
    if (x.ndim !== d.shape.length)
      fail(`${where} must be ${want}, got ${formatAval(x.aval)}: rank ${x.ndim} for ${d.shape.length}`)
    d.shape.forEach((s, i) => {
      const n = x.aval.shape[i]
      if (typeof s === 'number' && s !== n)
        fail(`${where} must be ${want}, got ${formatAval(x.aval)}: axis ${i} is ${n}, not ${s}`)
      if (typeof s !== 'string') return
      const seen = bound.get(s)
      if (seen !== undefined && seen.size !== n)
        fail(`${where} has '${s}' = ${n} on axis ${i}, but ${seen.at} has '${s}' = ${seen.size}`)
      bound.set(s, { size: n, at: where })
    })
  })
}

function checkParams(model: Readonly<Record<string, Tensor>>, given: unknown): Readonly<Record<string, Tensor>> {
  if (typeof given !== 'object' || given === null || Array.isArray(given) || given instanceof Tensor)
    return fail(
      `apply: the first argument must be a record of parameters (start from model.params), got ${describeArg(given)}`,
    )
  const p = given as Record<string, unknown>
  const names = Object.keys(model)
  for (const key of Object.keys(p))
    if (!Object.hasOwn(model, key))
      fail(
        `apply: '${key}' is not a parameter of the model; its parameters are ${names.map((n) => `'${n}'`).join(', ') || 'none'}`,
      )
  for (const name of names) {
    const t = p[name]
    const want = formatAval(model[name].aval)
    if (t === undefined) fail(`apply: the parameter '${name}' (${want}) is missing`)
    if (!(t instanceof Tensor)) fail(`apply: the parameter '${name}' must be a Tensor ${want}, got ${describeArg(t)}`)
    if (formatAval(t.aval) !== want) fail(`apply: the parameter '${name}' must be ${want}, got ${formatAval(t.aval)}`)
  }
  return p as Record<string, Tensor>
}

// ---------------------------------------------------------------- evaluation

/** The values in scope: this graph's, then the enclosing graphs'. */
class Scope {
  private readonly values = new Map<string, Value>()
  constructor(private readonly parent?: Scope) {}
  get(name: string): Value | undefined {
    return this.values.get(name) ?? this.parent?.get(name)
  }
  set(name: string, v: Value): void {
    this.values.set(name, v)
  }
}

interface Settings {
  readonly opset: number
  readonly floatDType: FloatDType | undefined
}

/** A rule on known inputs, integers held in f64 (NodeContext.wide), its outputs known. */
function evalKnown(cx: NodeContext, rule: Rule, ins: readonly (Value | undefined)[]): (Value | undefined)[] {
  const wide = ins.map((v) =>
    v !== undefined && isIntegerType(v.type) ? Value.known(v.type, 'f64', v.shape, v.known as ArrayLike<number>) : v,
  )
  return rule(cx.widened(), wide).map((o) => {
    if (o === undefined) return undefined
    const values = o.known ?? o.tensor.toConcrete().values
    const dtype = dtypeFor(o.type, cx.floatDType, `${cx.where}: an output`)
    return Value.known(o.type, dtype, o.shape, isIntegerType(o.type) ? Array.from(values, Math.trunc) : values)
  })
}

function evalNode(s: Settings, node: NodeProto, scope: Scope): readonly (Value | undefined)[] {
  const run: SubgraphRunner = (graph, inputs, overrides) => {
    const inner = new Scope(scope)
    for (const t of graph.initializer) inner.set(t.name, knownProto(t, s.floatDType, `the initializer '${t.name}'`))
    graph.input.forEach((v, k) => inner.set(v.name, inputs[k]))
    return runGraph(s, graph, inner, overrides)
  }
  const cx = new NodeContext(node, s.opset, s.floatDType, run, (name) => scope.get(name))
  const ins = node.input.map((name, k) => {
    if (name === '') return undefined
    const v = scope.get(name)
    if (v === undefined) cx.fail(`input ${k} '${name}' is not defined before this node`)
    return v
  })
  const rule = RULES[node.opType]
  try {
    if (ON_KNOWN.has(node.opType) && ins.every((v) => v === undefined || v.isKnown)) return evalKnown(cx, rule, ins)
    return rule(cx, ins)
  } catch (e) {
    if (e instanceof OnnxImportError || !(e instanceof Error)) throw e
    throw new OnnxImportError(`onnx import: ${cx.where}: ${e.message}`, { cause: e })
  }
}

function runGraph(
  s: Settings,
  graph: GraphProto,
  scope: Scope,
  overrides?: ReadonlyMap<NodeProto, readonly Value[]>,
): Value[] {
  for (const node of graph.node) {
    const outs = overrides?.get(node) ?? evalNode(s, node, scope)
    node.output.forEach((name, k) => {
      if (name === '') return
      const v = outs[k]
      if (v === undefined) fail(`${nodeName(node)} does not give its output ${k} '${name}'`)
      else scope.set(name, v)
    })
  }
  return graph.output.map((o) => scope.get(o.name) ?? fail(`the graph output '${o.name}' is never computed`))
}

// ---------------------------------------------------------------- the model

/** The model in ONNX protobuf bytes (or decoded) as a function of its parameters and inputs; see the header. */
export function importModel(source: Uint8Array | ModelProto, options: ImportOptions = {}): ImportedModel {
  const model = source instanceof Uint8Array ? decodeModel(source) : source
  const { graph } = model
  const settings: Settings = { opset: defaultOpset(model), floatDType: options.floatDType }
  checkOperators(graph)
  const params: Record<string, Tensor> = {}
  const types = new Map<string, number>()
  const constants = new Map<string, Value>()
  for (const t of graph.initializer) {
    const v = knownProto(t, options.floatDType, `the initializer '${t.name}'`)
    if (isFloatType(t.dataType)) {
      params[t.name] = v.tensor
      types.set(t.name, t.dataType)
    } else constants.set(t.name, v)
  }
  const initializers = new Set(graph.initializer.map((t) => t.name))
  const inputInfo = graph.input.filter((v) => !initializers.has(v.name))
  const inputs = Object.freeze(inputInfo.map((v) => describeValue(v, options.floatDType, 'the graph input')))
  const outputs = Object.freeze(graph.output.map((v) => describeValue(v, options.floatDType, 'the graph output')))
  const inputTypes = inputInfo.map((v) => v.type?.tensorType?.elemType ?? 0)
  Object.freeze(params)
  return Object.freeze({
    params,
    inputs,
    outputs,
    opset: settings.opset,
    apply(given: Readonly<Record<string, Tensor>>, ...xs: Tensor[]): Tensor | Tensor[] {
      const p = checkParams(params, given)
      checkInputs(inputs, xs)
      const scope = new Scope()
      for (const [name, v] of constants) scope.set(name, v)
      for (const [name, type] of types) scope.set(name, Value.of(type, p[name]))
      xs.forEach((x, k) => scope.set(inputs[k].name, Value.of(inputTypes[k], x)))
      const outs = runGraph(settings, graph, scope).map((v) => v.tensor)
      return outs.length === 1 ? outs[0] : outs
    },
  })
}
