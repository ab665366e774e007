/**
 * jit(f): trace f once per input signature (structure, shapes, dtypes) into a
 * Program, compile it with a backend, and run the compiled program on each
 * call. On WebGPU a call is one command submission whatever the number of
 * kernels, and outputs stay on the device until read with `await t.data()`.
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
import { Tracer } from './core/trace.ts'
import { stage } from './core/staging.ts'
import { optimize } from './passes/index.ts'
import type { Program } from './ir/program.ts'
import { describe, flatten, unflatten, type TreeDef } from './tree.ts'
import { formatAval, type Tensor } from './tensor.ts'

type Fn = (...args: any[]) => any

export interface JitOptions {
  /** The backend to compile for (default: the default backend: WebGPU where an adapter exists, else the CPU). */
  readonly backend?: Backend
  /**
   * Arguments whose storage the compiled call may reuse for its outputs (e.g.
   * parameters and optimiser state replaced by a training step). A donated
   * argument must not be used after the call.
   */
  readonly donateArgnums?: readonly number[]
  /**
   * On a device backend, copy the outputs back once this many calls have fed
   * one another (default 16), so that a lost device loses nothing: between
   * copies, values are recomputed on the CPU from the calls' inputs. 0 turns
   * this off.
   */
  readonly checkpointEvery?: number
}

interface Compiled {
  readonly backend: Backend
  readonly executable: Executable
  readonly outDef: TreeDef
}

export interface Jitted<F extends Fn> {
  (...args: Parameters<F>): Promise<ReturnType<F>>
  /** The traced Program for these arguments (not compiled). */
  lower(...args: Parameters<F>): Program
  /** The compiled executable for these arguments: `kernels`, `stats()` after a call. */
  compiled(...args: Parameters<F>): Promise<Executable>
}

export function jit<F extends Fn>(f: F, options: JitOptions = {}): Jitted<F> {
  const cache = new Map<string, Promise<Compiled>>()
  const trace = (leaves: readonly Tensor[], def: TreeDef) => {
    let outDef: TreeDef | null = null
    const { program } = stage(
      'jit',
      leaves.map((x) => x.aval),
      (inputs) => {
        const [outs, d] = flatten(f(...(unflatten(def, inputs) as unknown[])), 'output')
        outDef = d
        return { outputs: outs, result: null }
      },
    )
    return { program: optimize(program, { cse: true }), outDef: outDef as unknown as TreeDef }
  }
  const signature = (args: unknown[]) => {
    const [leaves, def] = flatten(args, 'args')
    if (leaves.some((x) => x instanceof Tracer))
      throw new Error(
        'jit: a jitted function was called inside a transform; call the function itself there, or jit the transformed function',
      )
    return { leaves, def, key: `${describe(def)}|${leaves.map((x) => formatAval(x.aval)).join(' ')}` }
  }
  const compile = (args: unknown[]) => {
    const { leaves, def, key } = signature(args)
    let entry = cache.get(key)
    if (entry === undefined) {
      entry = (async () => {
        const { program, outDef } = trace(leaves, def)
        const backend = options.backend ?? (await defaultBackend())
        try {
          return { backend, executable: backend.compile(program), outDef }
        } catch (e) {
          // The default backend cannot compile this program: the CPU interpreter can run any program.
          if (!(e instanceof UnsupportedProgramError) || options.backend !== undefined) throw e
          console.warn(`adjoint: ${e.message}; running this function on the CPU`)
          const cpu = cpuBackend()
          return { backend: cpu, executable: cpu.compile(program), outDef }
        }
      })()
      cache.set(key, entry)
      entry.catch(() => cache.delete(key))
    }
    return { entry, leaves }
  }
  const donated = (args: unknown[]): boolean[] => {
    const marks: boolean[] = []
    args.forEach((a, i) => flatten(a)[0].forEach(() => marks.push(options.donateArgnums?.includes(i) ?? false)))
    return marks
  }
  const call = async (...args: Parameters<F>) => {
    for (let attempt = 0; ; attempt++) {
      const { entry, leaves } = compile(args)
      const { backend, executable, outDef } = await entry
      try {
        const outs = await executable.run(leaves, { donate: donated(args), checkpointEvery: options.checkpointEvery })
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
  return Object.assign(call, {
    lower: (...args: Parameters<F>) => {
      const { leaves, def } = signature(args)
      return trace(leaves, def).program
    },
    compiled: async (...args: Parameters<F>) => (await compile(args).entry).executable,
  })
}
