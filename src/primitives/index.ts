/** The rule table: one entry per primitive, exhaustive in the type. */
import type { RuleTable } from '../core/primitive.ts'
import { abs } from './abs.ts'
import { add } from './add.ts'
import { broadcast } from './broadcast.ts'
import { compare } from './compare.ts'
import { concat } from './concat.ts'
import { convert } from './convert.ts'
import { cos } from './cos.ts'
import { div } from './div.ts'
import { exp } from './exp.ts'
import { gather } from './gather.ts'
import { log } from './log.ts'
import { logistic } from './logistic.ts'
import { matmul } from './matmul.ts'
import { max } from './max.ts'
import { mul } from './mul.ts'
import { neg } from './neg.ts'
import { pad } from './pad.ts'
import { pow } from './pow.ts'
import { reduceMax } from './reduce-max.ts'
import { reshape } from './reshape.ts'
import { scan } from './scan.ts'
import { scatterAdd } from './scatter-add.ts'
import { select } from './select.ts'
import { sign } from './sign.ts'
import { sin } from './sin.ts'
import { slice } from './slice.ts'
import { sqrt } from './sqrt.ts'
import { stopGradient } from './stop-gradient.ts'
import { sub } from './sub.ts'
import { sum } from './sum.ts'
import { tanh } from './tanh.ts'
import { transpose } from './transpose.ts'

export const rules: RuleTable = {
  neg,
  exp,
  log,
  tanh,
  logistic,
  sin,
  cos,
  sqrt,
  abs,
  sign,
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
  broadcast,
  reshape,
  transpose,
  slice,
  pad,
  concat,
  matmul,
  gather,
  scatterAdd,
  scan,
}
