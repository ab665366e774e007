/**
 * Staging by partial evaluation. A staging tracer is either known (it holds a
 * value, computed now) or unknown (it names a variable of the Program being
 * built). A primitive with only known inputs is evaluated at once; one with
 * an unknown input becomes an equation, its known inputs becoming constants.
 * With every input unknown this traces a whole function (`makeProgram`);
 * under `jvp` with known primals and unknown tangents it yields the linear
 * tangent program (`linearize`). A primitive that holds a Program (scan)
 * may split itself: its `partialEval` rule runs the known part now and
 * stages the rest.
 */
import { type Atom, type Eqn, Literal, Program, Var } from '../ir/program.ts'
import { type Aval, ConcreteTensor, scalarOf, type Tensor } from '../tensor.ts'
import { deadCodeElimination } from './dce.ts'
import type { Params, PartialValue, Primitive } from './primitive.ts'
import { ruleOf } from './registry.ts'
import { abstractEval, bind, fullRaise, Trace, Tracer, withMain } from './trace.ts'

class Builder {
  readonly eqns: Eqn[] = []
  readonly consts = new Map<Tensor, Var>()
  private readonly uniform = new Map<Tensor, Var>()
  constAtom(x: Tensor): Atom {
    if (x instanceof ConcreteTensor && x.aval.shape.length === 0) return new Literal(x)
    // A constant with one value everywhere (the zeros and ones the rules make)
    // is staged as a broadcast scalar: readable, and no buffer to hold it.
    if (x instanceof ConcreteTensor && x.values.length > 0 && x.values.every((v) => Object.is(v, x.values[0]))) {
      let v = this.uniform.get(x)
      if (v === undefined) {
        v = new Var(x.aval)
        const scalar = new Literal(scalarOf(x.values[0], x.aval.dtype))
        this.eqns.push({ prim: 'broadcast', inputs: [scalar], params: { shape: x.aval.shape }, outputs: [v] })
        this.uniform.set(x, v)
      }
      return v
    }
    let v = this.consts.get(x)
    if (v === undefined) {
      v = new Var(x.aval)
      this.consts.set(x, v)
    }
    return v
  }
  atom(x: StagingTracer): Atom {
    return x.known !== null ? this.constAtom(x.known) : (x.variable as Var)
  }
  build(inputs: readonly Var[], outputs: readonly Atom[]): Program {
    const consts = [...this.consts.entries()]
    return deadCodeElimination(
      new Program(
        inputs,
        consts.map(([, v]) => v),
        consts.map(([x]) => x),
        this.eqns,
        outputs,
      ),
    )
  }
}

export class StagingTracer extends Tracer {
  readonly aval: Aval
  constructor(
    readonly trace: StagingTrace,
    readonly known: Tensor | null,
    readonly variable: Var | null,
  ) {
    super()
    this.aval = known !== null ? known.aval : (variable as Var).aval
  }
}

export class StagingTrace extends Trace {
  constructor(
    main: StagingTrace['main'],
    readonly builder: Builder,
  ) {
    super(main)
  }
  pure(x: Tensor): StagingTracer {
    return new StagingTracer(this, x, null)
  }
  process<P extends Primitive>(prim: P, inputs: readonly StagingTracer[], params: Params<P>): Tensor[] {
    if (inputs.every((x) => x.known !== null))
      return bind(
        prim,
        inputs.map((x) => x.known as Tensor),
        params,
      ).map((y) => this.pure(y))
    const split = ruleOf(prim).partialEval as
      | ((
          inputs: readonly PartialValue[],
          params: Params<P>,
          emit: (q: Primitive, ins: readonly PartialValue[], p: unknown) => PartialValue[],
        ) => PartialValue[])
      | undefined
    if (split === undefined || inputs.every((x) => x.known === null)) return this.emit(prim, inputs, params)
    // Known outputs are returned as the values they are: they depend on no unknown input.
    return split(inputs, params, (q, ins, p) => this.emit(q, ins, p as Params<typeof q>)).map((v) => {
      if (this.owns(v)) return v
      if (v.known === null)
        throw new Error(`partial evaluation of '${prim}' returned an unknown value that it did not stage`)
      return v.known
    })
  }
  private owns(v: PartialValue): v is StagingTracer {
    return v instanceof StagingTracer && v.trace.main === this.main
  }
  /** Records the equation whatever its inputs; known inputs become constants. */
  private emit<P extends Primitive>(prim: P, inputs: readonly PartialValue[], params: Params<P>): StagingTracer[] {
    const atoms = inputs.map((x) => {
      if (this.owns(x)) return this.builder.atom(x)
      if (x.known === null) throw new Error(`staging '${prim}': an unknown input belongs to another trace`)
      return this.builder.constAtom(x.known)
    })
    const outs = abstractEval(
      prim,
      inputs.map((x) => x.aval),
      params,
    ).map((a) => new Var(a))
    this.builder.eqns.push({ prim, inputs: atoms, params, outputs: outs })
    return outs.map((v) => new StagingTracer(this, null, v))
  }
}

/**
 * Traces `fn` with unknown inputs of the given avals; `inside` may wrap `fn`
 * (linearize runs it under jvp). Returns the Program and the raw outputs.
 */
export function stage<R>(
  name: string,
  inAvals: readonly Aval[],
  body: (inputs: Tensor[]) => { outputs: Tensor[]; result: R },
): { program: Program; result: R; known: (Tensor | null)[] } {
  const builder = new Builder()
  return withMain(
    name,
    (main) => new StagingTrace(main, builder),
    (trace) => {
      const inVars = inAvals.map((a) => new Var(a))
      const { outputs, result } = body(inVars.map((v) => new StagingTracer(trace as StagingTrace, null, v)))
      const raised = outputs.map((o) => fullRaise(trace, o) as StagingTracer)
      const program = builder.build(
        inVars,
        raised.map((x) => builder.atom(x)),
      )
      return { program, result, known: raised.map((x) => x.known) }
    },
  )
}

/** Reads the known value of a tensor produced inside `stage`, or fails if it depends on the unknown inputs. */
export function knownValue(x: Tensor, what: string): Tensor {
  if (x instanceof StagingTracer) {
    if (x.known === null) throw new Error(`${what} depends on the tangent inputs; it must not`)
    return x.known
  }
  return x
}
