/** The MNIST convolutional network of examples/mnist-cnn.ts, shared with the tests that export its training step. */
import { nn } from '../../src/index.ts'

/** Two 3×3 convolutions (16 and 32 channels, SAME) each with ReLU and 2×2 max pooling, then dense 128 and 10. */
export const mnistCnn = () =>
  nn.sequential(
    nn.input(['B', 28, 28, 1]),
    nn.conv2d(1, 16, 3, { padding: 'SAME' }),
    nn.relu,
    nn.maxPool2d(2),
    nn.conv2d(16, 32, 3, { padding: 'SAME' }),
    nn.relu,
    nn.maxPool2d(2),
    nn.flatten,
    nn.dense(7 * 7 * 32, 128),
    nn.relu,
    nn.dense(128, 10),
  )
