/**
 * Parameter tying (D. Barber, Neural Nets, "Parameter Tying"). A function that uses a
 * parameter θ k times is the restriction to θ₁ = … = θₖ = θ of an untied
 * function F(θ₁, …, θₖ) in which each use reads its own copy, and
 *
 *   dE/dθ = Σᵢ ∂F/∂θᵢ (θ, …, θ).
 *
 * `untie(f)` builds F from f's traced Program: the i-th use of each leaf of
 * the tied argument reads that leaf from the i-th copy. In reverse mode the
 * sum is what the transpose of a fan-out computes.
 */
import { stage } from '../core/staging.ts'
import { Program, Var, type Atom, type Eqn } from '../ir/program.ts'
import { evalProgram } from '../core/interpret.ts'
import { checkMatching, flatten, unflatten, type Tree } from '../tree.ts'
import type { Tensor } from '../tensor.ts'

/** What `untie` returns: the number of uses, the untied function F and its Program. */
export interface Untied<A extends unknown[], R> {
  /** k: the largest number of uses of any leaf of the tied argument. */
  readonly copies: number
  /** Uses of each leaf, in flattening order. */
  readonly uses: readonly number[]
  /** F(copies, ...args): copies[i] stands for the tied argument at its i-th use; args[argnum] is ignored. */
  readonly apply: (copies: readonly Tree[], ...args: A) => R
  /** The untied Program: inputs are the k copies' leaves, then the other arguments' leaves. */
  readonly program: Program
}

/**
 * The untied form F of f in its argument `argnum` (see the header): `apply` takes one copy of
 * that argument per use, and its vjp gives each use's gradient apart; their sum is the tied
 * gradient.
 *
 * @example
 * const w = scalar(3)
 * const u = untie((w: Tensor<[]>) => ops.mul(w, w))
 * u(w).copies // 2: w is used twice
 */
export function untie<A extends unknown[], R>(f: (...args: A) => R, argnum = 0): (...args: A) => Untied<A, R> {
  return (...args) => {
    const [leaves, argsDef] = flatten(args, 'args')
    const owner: number[] = []
    args.forEach((a, i) => flatten(a)[0].forEach(() => owner.push(i)))
    let outDef = null as ReturnType<typeof flatten>[1] | null
    const { program } = stage(
      'untie',
      leaves.map((x) => x.aval),
      (inputs) => {
        const [outs, def] = flatten(f(...(unflatten(argsDef, inputs) as A)), 'output')
        outDef = def
        return { outputs: outs, result: null }
      },
    )
    const tied = program.inputs.filter((_, k) => owner[k] === argnum)
    const others = program.inputs.filter((_, k) => owner[k] !== argnum)
    const uses = tied.map(() => 0)
    const countUse = (a: Atom) => {
      const i = tied.indexOf(a as Var)
      if (i >= 0) uses[i]++
    }
    program.eqns.forEach((e) => e.inputs.forEach(countUse))
    program.outputs.forEach(countUse)
    const copies = Math.max(1, ...uses)
    // copyVars[c][i]: leaf i of copy c.
    const copyVars = Array.from({ length: copies }, () => tied.map((v) => new Var(v.aval)))
    const seen = tied.map(() => 0)
    const rename = (a: Atom): Atom => {
      const i = tied.indexOf(a as Var)
      return i < 0 ? a : copyVars[seen[i]++][i]
    }
    const eqns: Eqn[] = program.eqns.map((e) => ({ ...e, inputs: e.inputs.map(rename) }))
    const outputs = program.outputs.map(rename)
    const untied = new Program([...copyVars.flat(), ...others], program.constVars, program.constValues, eqns, outputs)
    const tiedArg = args[argnum]
    return {
      copies,
      uses,
      program: untied,
      apply: (copyTrees, ...rest) => {
        if (copyTrees.length !== copies)
          throw new Error(`untie: F takes ${copies} copies of argument ${argnum}, got ${copyTrees.length}`)
        const copyLeaves = copyTrees.flatMap((c, i) => {
          checkMatching('untie', `argument ${argnum}`, `copy ${i}`, tiedArg, c)
          return flatten(c)[0]
        })
        const [restLeaves] = flatten(rest, 'args')
        const otherLeaves = restLeaves.filter((_, k) => owner[k] !== argnum)
        const outs = evalProgram(untied, [...copyLeaves, ...otherLeaves] as Tensor[])
        return unflatten(outDef as NonNullable<typeof outDef>, outs) as R
      },
    }
  }
}
