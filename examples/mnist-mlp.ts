/**
 * An MNIST classifier: a multilayer perceptron 784-512-512-10 with ReLU,
 * trained on 8,000 digits of the `mnist` package (1,000 for validation,
 * 1,000 held out for the test), each step one jitted call on WebGPU (or the
 * CPU where no adapter exists). Prints progress, then the test accuracy
 * (≥ 97 %); writes out/mnist-mlp/training.svg and params.safetensors.
 *
 *   npm start          (or: npx tsx examples/mnist-mlp.ts [epochs])
 */
import { nn, type Tensor } from '../index.ts'
import { trainClassifier } from './lib/classifier.ts'
import { claim, shortOr } from './lib/short.ts'

const mlp = nn.sequential(nn.dense(784, 512), nn.relu, nn.dense(512, 512), nn.relu, nn.dense(512, 10))

const epochs = Number(process.argv[2] ?? shortOr(1, 30))
const { testAccuracy } = await trainClassifier({
  name: 'mnist-mlp',
  model: mlp,
  input: (images: Tensor) => images,
  epochs,
  lr: 1e-3,
})
claim(testAccuracy >= 0.97, `test accuracy ${(100 * testAccuracy).toFixed(2)}% is below 97%`)
