/**
 * A browser-like `navigator` for Node, backed by the `webgpu` npm package
 * (Dawn). TensorFlow.js's webgpu backend and jax-js both look for
 * `navigator.gpu`; on this machine the only adapter is Mesa llvmpipe through
 * Dawn's OpenGL ES backend, which exists only in compatibility mode, so
 * `requestAdapter` is made to ask for `featureLevel: 'compatibility'` whatever
 * the caller passes. jax-js also reads `navigator.userAgent`.
 *
 * The shim also counts GPU work: every `GPUQueue.submit` and every
 * `GPUComputePassEncoder.dispatchWorkgroups(Indirect)` made by anyone in this
 * process increments `gpuCounters`. Take differences around the code you
 * want to measure.
 *
 * `installNavigatorShim()` is idempotent; install it before a dynamic import
 * of a library that probes `navigator.gpu` at import time.
 */
import { availableParallelism } from 'node:os'
import { create, globals } from 'webgpu'

export interface GpuCounters {
  dispatches: number
  submissions: number
}

/** Running totals since the shim was installed (all devices in this process). */
export const gpuCounters: GpuCounters = { dispatches: 0, submissions: 0 }

export interface NavigatorShim {
  gpu: GPU
  /** Describes the adapter the shim hands out (filled after the first requestAdapter). */
  adapterDescription(): string
}

const SHIM = Symbol.for('adjoint.bench.navigatorShim')

type ShimmedGlobal = typeof globalThis & { [SHIM]?: NavigatorShim; navigator?: any }

let lastAdapterInfo = ''

function describeAdapter(adapter: GPUAdapter): string {
  const info: any = (adapter as any).info ?? {}
  const parts = [info.vendor, info.architecture, info.device, info.description].filter(
    (s: unknown) => typeof s === 'string' && s.length > 0,
  )
  return parts.join(' / ') || 'unknown adapter'
}

/** The limits of an adapter as a plain object, for `requestDevice({ requiredLimits })`. */
export function adapterLimits(adapter: GPUAdapter): Record<string, number> {
  const out: Record<string, number> = {}
  const limits: any = adapter.limits
  for (
    let proto = Object.getPrototypeOf(limits);
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (d.get && typeof limits[k] === 'number' && !(k in out)) out[k] = limits[k]
    }
  }
  for (const k of Object.keys(limits)) if (typeof limits[k] === 'number') out[k] = limits[k]
  return out
}

function wrapCounters(): void {
  const g: any = globalThis
  const Pass = g.GPUComputePassEncoder
  const Queue = g.GPUQueue
  if (Pass?.prototype && !Pass.prototype.__adjointCounted) {
    const dispatch = Pass.prototype.dispatchWorkgroups
    const dispatchIndirect = Pass.prototype.dispatchWorkgroupsIndirect
    Pass.prototype.dispatchWorkgroups = function (this: unknown, ...args: unknown[]) {
      gpuCounters.dispatches++
      return dispatch.apply(this, args)
    }
    if (dispatchIndirect) {
      Pass.prototype.dispatchWorkgroupsIndirect = function (this: unknown, ...args: unknown[]) {
        gpuCounters.dispatches++
        return dispatchIndirect.apply(this, args)
      }
    }
    Object.defineProperty(Pass.prototype, '__adjointCounted', { value: true })
  }
  if (Queue?.prototype && !Queue.prototype.__adjointCounted) {
    const submit = Queue.prototype.submit
    Queue.prototype.submit = function (this: unknown, ...args: unknown[]) {
      gpuCounters.submissions++
      return submit.apply(this, args)
    }
    Object.defineProperty(Queue.prototype, '__adjointCounted', { value: true })
  }
}

/**
 * Installs `globalThis.navigator` with `gpu` (compatibility-mode adapter on
 * Dawn's OpenGL ES backend), `userAgent` and `hardwareConcurrency`, plus the
 * WebGPU globals (`GPUBufferUsage`, ...). Returns the same shim on every call.
 */
export function installNavigatorShim(): NavigatorShim {
  const g = globalThis as ShimmedGlobal
  const existing = g[SHIM]
  if (existing) return existing

  process.env.EGL_PLATFORM ??= 'surfaceless'
  Object.assign(globalThis, globals)
  wrapCounters()
  const real = create(['backend=opengles'])

  const gpu: GPU = {
    requestAdapter: async (options?: GPURequestAdapterOptions) => {
      const adapter = await real.requestAdapter({
        ...(options ?? {}),
        featureLevel: 'compatibility',
      } as GPURequestAdapterOptions)
      if (adapter) lastAdapterInfo = describeAdapter(adapter)
      return adapter
    },
    getPreferredCanvasFormat: () => real.getPreferredCanvasFormat(),
    get wgslLanguageFeatures() {
      return real.wgslLanguageFeatures
    },
    get __brand() {
      return 'GPU' as const
    },
  } as unknown as GPU

  const fields: Record<string, unknown> = {
    gpu,
    userAgent: `Node.js/${process.versions.node} (adjoint bench; Dawn webgpu)`,
    hardwareConcurrency: availableParallelism(),
    language: 'en-US',
    platform: process.platform,
  }
  const nav = (globalThis as any).navigator
  if (nav && typeof nav === 'object') {
    // Node >= 21 has a navigator of its own; add/override the fields we need.
    for (const [k, v] of Object.entries(fields)) {
      try {
        Object.defineProperty(nav, k, { value: v, configurable: true, enumerable: true, writable: true })
      } catch {
        /* non-configurable: keep Node's value */
      }
    }
  } else {
    Object.defineProperty(globalThis, 'navigator', {
      value: fields,
      configurable: true,
      enumerable: true,
      writable: true,
    })
  }

  const shim: NavigatorShim = {
    gpu,
    adapterDescription: () => lastAdapterInfo,
  }
  g[SHIM] = shim
  return shim
}

/** A snapshot of the counters, for differences. */
export function readGpuCounters(): GpuCounters {
  return { dispatches: gpuCounters.dispatches, submissions: gpuCounters.submissions }
}
