/**
 * Optimisers as pure values over pytrees of tensors (`optimiser.ts` states
 * the interface and its laws), learning-rate schedules of the step-count
 * tensor, gradient transforms, and second-order methods built from the
 * derivative transforms, run on the host loop.
 */
export { chain, type Count, type GradientTransform, type Optimiser } from './optimiser.ts'
export {
  adagrad,
  adam,
  adamw,
  fromLeafRule,
  momentum,
  nesterov,
  rmsprop,
  sgd,
  type AdagradOptions,
  type AdamOptions,
  type CommonOptions,
  type FirstOrderState,
  type LeafRule,
  type MomentumOptions,
  type RMSPropOptions,
  type WeightDecay,
} from './first-order.ts'
export { addWeightDecay, clipByGlobalNorm, clipByValue, globalNorm } from './clip.ts'
export {
  constant,
  cyclic,
  exponentialDecay,
  rateAt,
  scheduleValue,
  stepDecay,
  type LearningRate,
  type Schedule,
} from './schedule.ts'
export {
  backtrackingArmijo,
  conjugateGradient,
  type CGOptions,
  type CGResult,
  type LineSearchOptions,
  type LineSearchResult,
} from './cg.ts'
export {
  gaussNewton,
  ggnProduct,
  hessianProduct,
  newtonCG,
  type CurvatureOptions,
  type CurvatureState,
  type GaussNewtonProblem,
} from './newton.ts'
export { lbfgs, twoLoop, type LbfgsOptions, type LbfgsState } from './lbfgs.ts'
export {
  fromOptimiser,
  minimize,
  type Minimiser,
  type MinimizeOptions,
  type MinimizeResult,
  type Objective,
  type StepInfo,
  type StopReason,
} from './minimize.ts'
export { treeAdd, treeAxpy, treeNeg, treeNorm, treeScale, treeSub, treeVdot, treeZerosLike } from './tree-math.ts'
