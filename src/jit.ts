/**
 * jit(f): trace f once per input signature (structure, shapes, dtypes, and
 * the values of static arguments) into a Program, compile it with a backend,
 * and run the compiled program on each call. A number argument is traced as
 * an f32 scalar, as in the transforms. On WebGPU a call is one command
 * submission whatever the number of kernels, and outputs stay on the device
 * until read with `await t.data()`.
 */
import {
  DeviceLostError,
  UnsupportedProgramError,
  defaultBackend,
  forgetDefaultBackend,
  type Backend,
  type Executable,
} from './core/backend.ts'
import { cpuBackend } from './cpu/backend.ts'
import { bind, Tracer } from './core/trace.ts'
import { stage } from './core/staging.ts'
import { optimize } from './passes/index.ts'
import { withIndexChecks, type IndexCheck } from './passes/check-indices.ts'
import { closeProgram, type Program } from './ir/program.ts'
import { describe, flatten, unflatten, type TreeDef } from './tree.ts'
import { formatAval, type Tensor } from './tensor.ts'
import { isRecord, numbersToTensors, resolveArgnums, type Args } from './transforms.ts'

type Fn = (...args: any[]) => any

/** Options of `jit`: the backend, static and donated arguments, checkpointing of device values, index checks. */
export interface JitOptions {
  /** The backend to compile for (default: the default backend: WebGPU where an adapter exists, else the CPU). */
  readonly backend?: Backend
  /**
   * Arguments passed to f as they are rather than traced, as JAX's
   * static_argnums: an index or a list (a negative index counts from the
   * end). Their values are part of the cache key, so each must be a number,
   * string, boolean, null or undefined, or a plain array or record of them;
   * a new value traces and compiles f again.
   */
  readonly staticArgnums?: number | readonly number[]
  /**
   * Arguments whose storage the compiled call may reuse for its outputs (e.g.
   * parameters and optimiser state replaced by a training step): an index or
   * a list, a negative index counting from the end. A donated argument must
   * not be used after the call, and cannot be static.
   */
  readonly donateArgnums?: number | readonly number[]
  /**
   * On a device backend, copy the outputs back once this many calls have fed
   * one another (default 16), so that a lost device loses nothing: between
   * copies, values are recomputed on the CPU from the calls' inputs. 0 turns
   * this off.
   */
  readonly checkpointEvery?: number
  /**
   * Raise when a gather or scatter-add meets an index out of range, naming
   * the index, instead of clamping it (a gather) or dropping the update (a
   * scatter), on every backend. The check runs inside the compiled program
   * and costs a read of three numbers per call; arguments are not donated
   * while it is on, so that a call that raises loses nothing. Default: on
   * when the environment variable ADJOINT_CHECK_INDICES is 1.
   */
  readonly checkIndices?: boolean
}

interface Compiled {
  readonly backend: Backend
  readonly executable: Executable
  readonly outDef: TreeDef
  /** With checkIndices: the checks whose failure the program's last three outputs report. */
  readonly checks: readonly IndexCheck[] | null
}

/**
 * f compiled by `jit`: called with f's arguments, it resolves to f's result; `lower` and
 * `compiled` show the Program and the executable for given arguments.
 */
export interface Jitted<F extends Fn> {
  (...args: Args<F>): Promise<ReturnType<F>>
  /** The traced Program for these arguments (not compiled). */
  lower(...args: Args<F>): Program
  /** The compiled executable for these arguments: `kernels`, `stats()` after a call. */
  compiled(...args: Args<F>): Promise<Executable>
  /**
   * f as a call of its traced Program, synchronously: inside a transform
   * (grad, vjp, jvp, vmap, hessian, another jit) it is one `jitCall`
   * equation whose rules transform the Program, traced once per signature;
   * outside one it evaluates the Program on the CPU interpreter. Calling the
   * jitted function itself with traced arguments does the same (and returns
   * the result, not a promise), so `grad(jit(f))` works; `fun` has f's type.
   */
  readonly fun: F
}

/** A stable string for a static argument: equal values (records in any key order) give equal strings. */
function staticKey(x: unknown, at: string): string {
  if (x === null || x === undefined || typeof x === 'boolean') return String(x)
  if (typeof x === 'number') return Object.is(x, -0) ? '0' : String(x)
  if (typeof x === 'string') return JSON.stringify(x)
  if (Array.isArray(x)) return `[${x.map((v, i) => staticKey(v, `${at}[${i}]`)).join(',')}]`
  if (isRecord(x))
    return `{${Object.keys(x)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${staticKey(x[k], `${at}.${k}`)}`)
      .join(',')}}`
  const what = typeof x === 'object' ? `a ${x.constructor?.name ?? 'object'}` : `a ${typeof x}`
  throw new TypeError(
    `jit: a static argument must be hashable: a number, string, boolean, null or undefined, ` +
      `or a plain array or record of them; ${at} is ${what}`,
  )
}

/** Raises the error an eager gather or scatter-add would, when the program's checks report an index out of range. */
async function raiseOnFailure(checks: readonly IndexCheck[], [count, value, which]: Tensor[]): Promise<void> {
  const [[n], [i], [c]] = await Promise.all([count.data(), value.data(), which.data()])
  if (n === 0) return
  const { prim, axis, size } = checks[c]
  const more = n > 1 ? ` (${n} indices out of range in all)` : ''
  throw new RangeError(`${prim}: index ${i} is out of range for axis ${axis} of size ${size}${more}`)
}

/** Whether a value holds a tensor being traced by a transform, anywhere in its arrays and records. */
const hasTracer = (x: unknown): boolean =>
  x instanceof Tracer || (Array.isArray(x) ? x.some(hasTracer) : isRecord(x) && Object.values(x).some(hasTracer))

/**
 * f traced once per input signature (structures, shapes, dtypes, the values of static arguments),
 * compiled by a backend, and run compiled on each call; the result is a promise.
 *
 * @example
 * const loss = (w: Tensor<[3]>, x: Tensor<[3]>) => ops.sum(ops.square(ops.sub(w, x)))
 * const step = jit((w: Tensor<[3]>, x: Tensor<[3]>) => ops.sub(w, ops.mul(grad(loss)(w, x), 0.1)))
 * const w1 = await step(zeros([3]), tensor([1, 2, 3]))
 */
export function jit<F extends Fn>(f: F, options: JitOptions = {}): Jitted<F> {
  if (typeof f !== 'function') throw new TypeError(`jit: expected a function, got ${typeof f}`)
  const every = options.checkpointEvery
  if (every !== undefined && !(Number.isInteger(every) && every >= 0))
    throw new Error(`jit: checkpointEvery must be a non-negative integer (0 turns it off), got ${every}`)
  const checkIndices =
    options.checkIndices ?? (typeof process !== 'undefined' && process.env.ADJOINT_CHECK_INDICES === '1')
  const cache = new Map<string, Promise<Compiled>>()
  /** The call's arguments split into static ones (by position) and traced ones, and the cache key. */
  const signature = (given: readonly unknown[]) => {
    // f.length counts the parameters before the first with a default (or a rest): fewer arguments than that
    // leave one of f's own parameters undefined, which would fail inside f.
    if (given.length < f.length)
      throw new TypeError(
        `jit(${f.name || 'f'}): expected at least ${f.length} argument${f.length === 1 ? '' : 's'}, got ${given.length}`,
      )
    const statics = resolveArgnums('jit', 'staticArgnums', options.staticArgnums ?? [], given.length)
    const donate = resolveArgnums('jit', 'donateArgnums', options.donateArgnums ?? [], given.length)
    for (const i of donate)
      if (statics.includes(i))
        throw new Error(`jit: argument ${i} is both static and donated; a static one has no storage`)
    const traced = numbersToTensors(given.filter((_, i) => !statics.includes(i)))
    const [leaves, def] = flatten(traced, 'args')
    const staticPart = [...statics]
      .sort((a, b) => a - b)
      .map((i) => `${i}=${staticKey(given[i], `args[${i}]`)}`)
      .join(',')
    const key = `${staticPart}|${describe(def)}|${leaves.map((x) => formatAval(x.aval)).join(' ')}`
    // Which leaves are donated, by the argument each belongs to.
    const positions = given.map((_, i) => i).filter((i) => !statics.includes(i))
    const donated = positions.flatMap((i, k) => flatten(traced[k])[0].map(() => donate.includes(i)))
    /** f's arguments: the static ones as given, the traced ones rebuilt from `inputs`. */
    const argsOf = (inputs: readonly Tensor[]): unknown[] => {
      const rebuilt = unflatten(def, inputs) as unknown[]
      const full = [...given]
      positions.forEach((i, k) => (full[i] = rebuilt[k]))
      return full
    }
    return { leaves, key, donated, argsOf }
  }
  const trace = (leaves: readonly Tensor[], argsOf: (inputs: readonly Tensor[]) => unknown[]) => {
    let outDef: TreeDef | null = null
    const { program } = stage(
      'jit',
      leaves.map((x) => x.aval),
      (inputs) => {
        const [outs, d] = flatten(f(...argsOf(inputs)), 'output')
        outDef = d
        return { outputs: outs, result: null }
      },
    )
    return { program: optimize(program, { cse: true }), outDef: outDef as unknown as TreeDef }
  }
  const compile = (args: readonly unknown[]) => {
    const { leaves, key, donated, argsOf } = signature(args)
    let entry = cache.get(key)
    if (entry === undefined) {
      const made = (async () => {
        const traced = trace(leaves, argsOf)
        const { outDef } = traced
        const checked = checkIndices ? withIndexChecks(traced.program) : null
        const program = checked === null ? traced.program : optimize(checked.program, { cse: true })
        const checks = checked?.checks ?? null
        const backend = options.backend ?? (await defaultBackend())
        try {
          return { backend, executable: backend.compile(program), outDef, checks }
        } catch (e) {
          // The default backend cannot compile this program: the CPU interpreter can run any program.
          if (!(e instanceof UnsupportedProgramError) || options.backend !== undefined) throw e
          console.warn(`adjoint: ${e.message}; running this function on the CPU`)
          const cpu = cpuBackend()
          return { backend: cpu, executable: cpu.compile(program), outDef, checks }
        }
      })()
      // A failed entry leaves the cache (unless a newer one replaced it); the handler also marks the rejection
      // handled, so that it is reported only to the callers that await the entry.
      made.then(undefined, () => {
        if (cache.get(key) === made) cache.delete(key)
      })
      cache.set(key, made)
      entry = made
    }
    return { entry, leaves, donated }
  }
  // Inside a transform: the traced Program, as one `jitCall` equation (traced once per signature).
  const traced = new Map<string, { program: Program; consts: Tensor[]; outDef: TreeDef }>()
  const name = f.name || 'jit'
  const fun = ((...args: unknown[]) => {
    const { leaves, key, argsOf } = signature(args)
    let entry = traced.get(key)
    if (entry === undefined) {
      const { program, outDef } = trace(leaves, argsOf)
      const closed = closeProgram(program)
      entry = { program: closed.program, consts: closed.consts, outDef }
      // A Program that captured a value being traced by a transform belongs to that transform alone.
      if (!closed.consts.some((x) => x instanceof Tracer)) traced.set(key, entry)
    }
    return unflatten(entry.outDef, bind('jitCall', [...entry.consts, ...leaves], { fun: entry.program, name }))
  }) as F
  const run = async (...args: Args<F>) => {
    for (let attempt = 0; ; attempt++) {
      const { entry, leaves, donated } = compile(args)
      const { backend, executable, outDef, checks } = await entry
      try {
        const donate = checks === null ? donated : donated.map(() => false)
        const outs = await executable.run(leaves, { donate, checkpointEvery: options.checkpointEvery })
        if (checks !== null) await raiseOnFailure(checks, outs.splice(outs.length - 3))
        return unflatten(outDef, outs) as ReturnType<F>
      } catch (e) {
        // The default backend's device was lost: choose the default again (a new device, or the CPU) and run there.
        if (!(e instanceof DeviceLostError) || options.backend !== undefined || attempt > 0) throw e
        await forgetDefaultBackend(backend)
        cache.clear()
        console.warn(`adjoint: ${e.message.split(';')[0]}; compiling again for the default backend`)
      }
    }
  }
  const call = (...args: Args<F>): Promise<ReturnType<F>> => {
    if (hasTracer(args)) return fun(...args) as unknown as Promise<ReturnType<F>>
    return run(...args)
  }
  return Object.assign(call, {
    fun,
    lower: (...args: Args<F>) => {
      const { leaves, argsOf } = signature(args)
      return trace(leaves, argsOf).program
    },
    compiled: async (...args: Args<F>) => (await compile(args).entry).executable,
  })
}
