/**
 * An MNIST convolutional network: two 3×3 convolutions (16 and 32 channels,
 * SAME padding) each followed by ReLU and 2×2 max pooling, then a dense
 * layer of 128 and the 10 classes — trained as the MLP example is (same
 * split, augmentation and optimiser). Prints the test accuracy (≥ 98 %);
 * writes out/mnist-cnn/training.svg and params.safetensors.
 *
 *   npx tsx examples/mnist-cnn.ts [epochs]
 */
import { ops, type Tensor } from '../index.ts'
import { trainClassifier } from './lib/classifier.ts'
import { mnistCnn } from './lib/mnist-cnn.ts'
import { claim, shortOr } from './lib/short.ts'

const cnn = mnistCnn()

const epochs = Number(process.argv[2] ?? shortOr(1, 30))
const { testAccuracy } = await trainClassifier({
  name: 'mnist-cnn',
  model: cnn,
  input: (images: Tensor) => ops.reshape(images, [images.aval.shape[0], 28, 28, 1]),
  epochs,
  lr: 2e-3,
  // The rate has decayed tenfold by the end: the last parameters are the settled ones.
  keep: 'last',
})
claim(testAccuracy >= 0.98, `test accuracy ${(100 * testAccuracy).toFixed(2)}% is below 98%`)
