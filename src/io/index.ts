/** Data in and out: parameters as safetensors files (Node) or bytes and Blobs (browsers), datasets (MNIST, Moby-Dick), atomic file writes. */
export {
  encodeSafetensors,
  decodeSafetensors,
  readSafetensorsHeader,
  saveParams,
  loadParams,
  paramsToBytes,
  paramsToBlob,
  paramsFromBytes,
  tensorNames,
  TensorInfoCodec,
  MetadataCodec,
  type FileDType,
  type TensorEntry,
  type SafetensorsHeader,
  type Safetensors,
  type ParamsSource,
} from './safetensors.ts'
export {
  loadMnist,
  decodeMnist,
  readMnistPackage,
  importMnistPackage,
  splitMnist,
  mnistSplitIndices,
  MnistEntryCodec,
  MNIST_IMAGE_SIZE,
  MNIST_PIXELS,
  MNIST_CLASSES,
  MNIST_SPLIT_SEED,
  MNIST_SPLIT_FRACTIONS,
  type MnistEntry,
  type MnistDataset,
  type MnistSplits,
  type LoadMnistOptions,
} from './mnist.ts'
export { writeFileAtomic, readFileBytes } from './files.ts'
export { randomShift, type ShiftOptions } from './augment.ts'
export {
  loadMobyDick,
  decodeSections,
  splitSections,
  CharVocabulary,
  windows,
  SectionCodec,
  type Section,
  type TextSplits,
} from './text.ts'
