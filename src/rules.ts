/**
 * The rule table: one entry per primitive, exhaustive in the type, so a
 * primitive without its rules does not compile. The elementary primitives
 * come from src/primitives, control flow (scan) from src/control. Loading
 * this module registers the table with the tracing core
 * (src/core/registry.ts); the public modules that run operations (ops.ts,
 * transforms.ts, and through them index.ts) load it first.
 */
import type { RuleTable } from './core/primitive.ts'
import { registerRules } from './core/registry.ts'
import { abs } from './primitives/abs.ts'
import { argsort } from './primitives/argsort.ts'
import { add } from './primitives/add.ts'
import { broadcast } from './primitives/broadcast.ts'
import { compare } from './primitives/compare.ts'
import { concat } from './primitives/concat.ts'
import { convert } from './primitives/convert.ts'
import { cos } from './primitives/cos.ts'
import { cumsum } from './primitives/cumsum.ts'
import { div } from './primitives/div.ts'
import { erf } from './primitives/erf.ts'
import { exp } from './primitives/exp.ts'
import { expm1 } from './primitives/expm1.ts'
import { gather } from './primitives/gather.ts'
import { log } from './primitives/log.ts'
import { log1p } from './primitives/log1p.ts'
import { logistic } from './primitives/logistic.ts'
import { matmul } from './primitives/matmul.ts'
import { max } from './primitives/max.ts'
import { mul } from './primitives/mul.ts'
import { neg } from './primitives/neg.ts'
import { pad } from './primitives/pad.ts'
import { pow } from './primitives/pow.ts'
import { randomBits } from './primitives/random-bits.ts'
import { reduceMax } from './primitives/reduce-max.ts'
import { reshape } from './primitives/reshape.ts'
import { rev } from './primitives/rev.ts'
import { scan } from './control/scan.ts'
import { cond } from './control/cond.ts'
import { checkpoint, customJvp, customVjp, customVjpLin, jitCall } from './control/custom.ts'
import { whileLoop } from './control/while.ts'
import { scatterAdd } from './primitives/scatter-add.ts'
import { select } from './primitives/select.ts'
import { sign } from './primitives/sign.ts'
import { sin } from './primitives/sin.ts'
import { slice } from './primitives/slice.ts'
import { sqrt } from './primitives/sqrt.ts'
import { stopGradient } from './primitives/stop-gradient.ts'
import { sub } from './primitives/sub.ts'
import { sum } from './primitives/sum.ts'
import { tanh } from './primitives/tanh.ts'
import { transpose } from './primitives/transpose.ts'

/** The rule of every primitive, by name. */
export const rules: RuleTable = {
  neg,
  exp,
  log,
  log1p,
  expm1,
  tanh,
  logistic,
  sin,
  cos,
  sqrt,
  abs,
  sign,
  erf,
  convert,
  stopGradient,
  add,
  sub,
  mul,
  div,
  pow,
  max,
  compare,
  select,
  sum,
  reduceMax,
  cumsum,
  broadcast,
  reshape,
  transpose,
  slice,
  pad,
  concat,
  rev,
  matmul,
  gather,
  scatterAdd,
  argsort,
  randomBits,
  scan,
  cond,
  customJvp,
  customVjp,
  customVjpLin,
  checkpoint,
  jitCall,
  whileLoop,
}

registerRules(rules)
