// Types that the reference's signatures name but neither entry (index.ts,
// laws/index.ts) exports: their names show in signatures without a page.
// typedoc's check (validation.notExported) accepts the names listed here and
// fails the build on any other, and on a name listed here that has since been
// exported or is no longer named by a signature: the lists may only shrink.

const words = (list) => list.split(/\s+/).filter((w) => w !== '')

/**
 * Exported by their own files but not by the package: a user meets them in a
 * signature but cannot import them. Each should be exported from an entry, or
 * made private to its file.
 */
export const EXPORTED_BY_FILE_ONLY = {
  'gpu/device.ts': words('GpuContext'),
  'gpu/executable.ts': words('WebGpuExecutable'),
  'gpu/lineage.ts': words('CallRecord'),
  'gpu/pool.ts': words('BufferPool'),
  'gpu/tensor.ts': words('DeviceStats'),
  'laws/arbitraries.ts': words('ShapeOptions TensorOptions'),
  'laws/specs.ts': words('InputSpec SpecTable'),
  'src/core/backend.ts': words('RunOptions'),
  'src/core/primitive.ts': words('BatchDim CompareOp Emit Params PartialValue UndefinedPrimal'),
  'src/nn/conv.ts': words('Pool2d'),
  'src/nn/layer.ts': words('WithParams'),
  'src/nn/layers.ts': words('PoolLayer'),
  'src/nn/losses.ts': words('BatchOf'),
  'src/onnx/graph.ts': words('Rule'),
  'src/onnx/schema.ts': words('AttributeProto OperatorSetIdProto StringStringEntryProto TensorValues ValueInfoProto'),
  'src/primitives/gather.ts': words('IndexMode'),
  'src/shape/conv.ts': words('PairOf'),
  'src/transforms.ts': words('Args'),
}

/**
 * Private to their files (type-level helpers such as the shape arithmetic of
 * src/shape/types.ts, local aliases, the platform names of types/globals.d.ts):
 * shown by name only.
 */
export const PRIVATE_TO_FILE = {
  'src/control/derivatives.ts': words('Fn'),
  'src/core/backend.ts': words('Factory'),
  'src/core/primitive.ts': words('None'),
  'src/energy/dbn.ts': words('Rows'),
  'src/io/safetensors.ts': words('fileDTypes'),
  'src/jit.ts': words('Fn'),
  'src/nn/combinators.ts': words('ParamsList StateList'),
  'src/nn/conv.ts': words('Opt T TransposeOut'),
  'src/nn/functional.ts': words('T'),
  'src/nn/gan.ts': words('T'),
  'src/nn/layer.ts': words(
    'ChainOut FixedInput FixedOut FlattenOut GlobalPoolOut IsTuple ParallelOut ResidualOut SameOut WindowShape',
  ),
  'src/nn/losses.ts': words('T Targets'),
  'src/nn/vae.ts': words('Params T'),
  'src/onnx/backend.ts': words('Ort'),
  'src/ops.ts': words('AxisArg DefaultDType NestedNumbers Operand Result T Unary'),
  'src/ops/math.ts': words('T Unary'),
  'src/ops/sorting.ts': words('AxisOf T WithLast'),
  'src/ops/statistics.ts': words('AxisArg T'),
  'src/optim/clip.ts': words('Empty'),
  'src/optim/first-order.ts': words('LeafContext'),
  'src/optim/optimiser.ts': words('ChainParts'),
  'src/plot/svg.ts': words('Point'),
  'src/random.ts': words('T'),
  'src/recurrent/cells.ts': words('CellLayouts CellParams CellSpec Concatenated InOf Last OutOf'),
  'src/recurrent/rtrl.ts': words('Matrix Vector'),
  'src/shape/codec.ts': words('Decoded'),
  'src/shape/types.ts': words(
    'Agree AllLiteral At AxesUnion AxisArg AxisDims AxisList AxisOutOfRange BatchAxes BroadcastTuples CheckAxisList CheckBroadcastDims CheckPermDistinct CheckSameAxes CheckSameShapes CheckSqueezeSizes DropAxes ExpandDimsSized FormatDim HasMinusOne InnerDim InsertAt JoinDims LastDim MinusOnes NarrowDim NewAxisOutOfRange Ok PadAxes Permute ProductDigits Range Rank RankAtMost RankPlus1 Reverse SetAxis ShowDigits SliceAxes SqueezeAll SumDims TakeAxes ToNumber Widths',
  ),
  'src/tensor.ts': words('AssignableShape'),
  'src/transforms.ts': words('AuxOf Fn GradOf Linear OrNumbers Pullback ValueOf WithAux'),
  'types/globals.d.ts': words('Blob GPUBuffer Response'),
}

/** Both lists as typedoc's `intentionallyNotExported` option: `file:name`. */
export function intentionallyNotExported() {
  return [EXPORTED_BY_FILE_ONLY, PRIVATE_TO_FILE].flatMap((byFile) =>
    Object.entries(byFile).flatMap(([file, names]) => names.map((name) => `${file}:${name}`)),
  )
}
