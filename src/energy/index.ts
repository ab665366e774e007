/**
 * Energy-based models: networks defined by an energy over their states
 * rather than by a loss, learned without backpropagating through a
 * differentiable objective (*Neural Networks II* (lecture notes), sections on
 * Hopfield networks and Boltzmann machines; A. Martins, *Deep Learning: A
 * Shallow Tutorial*, NLPL Winter School 2018, "Generative Models").
 *
 *  - `hopfield`: Hopfield networks (Hopfield 1982): Hebbian storage, the
 *    energy, synchronous and asynchronous updates, and recall to a fixed
 *    point (or a synchronous 2-cycle) as one in-program loop;
 *  - `rbm`: Bernoulli restricted Boltzmann machines: free energy, block Gibbs
 *    sampling in-program, CD-k and persistent CD (Hinton 2002; Tieleman
 *    2008) as whole jittable steps, and the exact log-likelihood and its
 *    gradient by enumeration for machines small enough to enumerate;
 *  - `dbn`: deep belief networks (Hinton, Osindero and Teh 2006): greedy
 *    layer-wise pre-training of stacked RBMs, and the stack as an MLP for
 *    fine-tuning.
 */
export * as hopfield from './hopfield.ts'
export * as rbm from './rbm.ts'
export * as dbn from './dbn.ts'
