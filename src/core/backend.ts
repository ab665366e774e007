/**
 * The interface a backend implements: compile a Program once, then run it
 * many times. The CPU interpreter implements it in src/cpu; the WebGPU
 * compiler in gpu/ implements it there and registers itself from the package
 * entry (src/ never imports gpu/).
 */
import type { Program } from '../ir/program.ts'
import type { Tensor } from '../tensor.ts'

/** Counters of an executable's work so far: what `Executable.stats()` reports. */
export interface ExecutableStats {
  /** Kernel launches in the last call. */
  readonly dispatches: number
  /** Queue submissions in the last call. */
  readonly submissions: number
  /** Bytes copied back to the host in the last call. */
  readonly bytesRead: number
  /** Bytes copied from the host in the last call. */
  readonly bytesWritten: number
  /** Bytes copied back by the last call to keep its outputs recoverable should the device be lost. */
  readonly bytesCheckpointed: number
}

export interface RunOptions {
  /** Inputs whose storage the call may reuse for its outputs; the caller must not use them afterwards. */
  readonly donate?: readonly boolean[]
  /**
   * Device backends: outputs are copied back to the host once this many
   * calls have fed one another (e.g. every 16 training steps), so that a lost
   * device loses nothing; between copies the values are recomputed on the
   * CPU from the calls' inputs. 0 keeps no lineage: a lost device loses them.
   */
  readonly checkpointEvery?: number
}

/** A backend cannot compile a program (e.g. a primitive it does not lower yet); jit on the default backend then runs it on the CPU. */
export class UnsupportedProgramError extends Error {
  override readonly name = 'UnsupportedProgramError'
}

/** The device a backend runs on was lost; tensors it computed can still be read (they are recomputed on the CPU). */
export class DeviceLostError extends Error {
  override readonly name = 'DeviceLostError'
}

/** A Program compiled by a backend: it runs on tensors and reports its kernels and statistics. */
export interface Executable {
  readonly program: Program
  /** Number of kernels (GPU) or equations (CPU) one call runs. */
  readonly kernels: number
  run(inputs: readonly Tensor[], options?: RunOptions): Promise<Tensor[]>
  stats(): ExecutableStats
}

/**
 * A compiler of Programs (the CPU interpreter, WebGPU): what `jit` compiles for, registered by
 * name with `registerBackend`.
 */
export interface Backend {
  readonly name: string
  /**
   * It runs on the CPU through a software adapter (Mesa's llvmpipe, SwiftShader): the default order puts it
   * after every backend that does not (ONNX Runtime's native kernels are faster there), before the interpreter.
   */
  readonly software?: boolean
  compile(program: Program): Executable
}

type Factory = () => Promise<Backend>

const registry = new Map<string, { factory: Factory; priority: number }>()
let chosen: Promise<Backend> | null = null
/** Backends started and passed over, kept reachable (a WebGPU device must outlive its instance's collection). */
const retained: Backend[] = []
let forced: string | Backend | null = null

/** Makes a backend available to `jit` under `name`; the highest priority that starts is the default. */
export function registerBackend(name: string, factory: Factory, priority: number): void {
  registry.set(name, { factory, priority })
  chosen = null
}

/** Forces the backend `jit` uses by default (a registered name, or a Backend). */
export function setBackend(backend: string | Backend | null): void {
  if (typeof backend === 'string' && !registry.has(backend))
    throw new Error(`setBackend: no backend named '${backend}'; registered: ${[...registry.keys()].join(', ')}`)
  forced = backend
  chosen = null
}

/**
 * The default backend: the forced one, else ADJOINT_BACKEND from the
 * environment, else the registered backend of highest priority that starts
 * and is not `software`; else the software one; else the interpreter.
 * Falling back prints one line that says why.
 */
export function defaultBackend(): Promise<Backend> {
  return (chosen ??= chooseBackend())
}

/** Chooses the default backend anew on the next `defaultBackend()` if it is `lost` (its device was lost). */
export async function forgetDefaultBackend(lost: Backend): Promise<void> {
  const current = chosen
  if (current !== null && (await current.catch(() => null)) === lost && chosen === current) chosen = null
}

function chooseBackend(): Promise<Backend> {
  return (async () => {
    if (forced !== null && typeof forced !== 'string') return forced
    const env = typeof process === 'undefined' ? undefined : process.env.ADJOINT_BACKEND
    const want = forced ?? env
    if (want !== undefined && want !== '') {
      const entry = registry.get(want)
      if (entry === undefined)
        throw new Error(`ADJOINT_BACKEND=${want}: no such backend; registered: ${[...registry.keys()].join(', ')}`)
      return entry.factory()
    }
    const ordered = [...registry.entries()].sort((a, b) => b[1].priority - a[1].priority)
    const failures: string[] = []
    // A backend on a software adapter waits for the others; the interpreter (priority ≤ 0) comes after it.
    let software: { name: string; backend: Backend } | null = null
    const chosenOne = (name: string, backend: Backend) => {
      if (failures.length > 0) console.warn(`adjoint: ${failures.join('; ')}; using ${name}`)
      return backend
    }
    for (const [name, { factory, priority }] of ordered) {
      if (priority <= 0 && software !== null) break
      try {
        const backend = await factory()
        if (backend.software === true && software === null) {
          software = { name, backend }
          retained.push(backend)
          continue
        }
        return chosenOne(name, backend)
      } catch (e) {
        failures.push(`${name} unavailable (${(e as Error).message})`)
      }
    }
    if (software !== null) return chosenOne(software.name, software.backend)
    throw new Error(`no backend could start: ${failures.join('; ')}`)
  })()
}
