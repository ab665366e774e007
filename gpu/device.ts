/**
 * Adapter and device set-up. In a browser (or wherever `navigator.gpu`
 * exists) that GPU is used; in Node the `webgpu` package (Dawn) is loaded and
 * tried with its native backend first (Vulkan, Metal, D3D12: a real GPU, or
 * SwiftShader), then with OpenGL ES in compatibility mode (Mesa llvmpipe on a
 * machine without a GPU). The device is requested with the adapter's own
 * limits: the defaults of compatibility mode are far lower than llvmpipe's.
 */

export interface GpuContext {
  /**
   * The GPU instance the adapter came from. It must stay reachable as long as
   * the device is used: Dawn's Node binding processes the device's events on
   * it, and collecting it crashes the process.
   */
  readonly instance: GPU
  readonly device: GPUDevice
  /** Which adapter: e.g. "webgpu (opengles, compatibility): llvmpipe". */
  readonly description: string
  /** A software adapter, running on the CPU: Mesa's llvmpipe or lavapipe, SwiftShader, a fallback adapter. */
  readonly software: boolean
  readonly limits: GPUSupportedLimits
  /** Set when the device is lost; every later call fails with this reason. */
  lost: string | null
  /** Command submissions to the device's queue so far: every one goes through `submit`, which counts it. */
  submissions: number
}

/** Submits command buffers to the context's queue, counting the submission (the figure `stats()` reports). */
export function submit(context: GpuContext, commands: readonly GPUCommandBuffer[]): void {
  context.device.queue.submit(commands)
  context.submissions++
}

/** The options of `webgpuBackend`: which Dawn backend to try first in Node. */
export interface DeviceOptions {
  /** Dawn backend to try first in Node ('vulkan', 'opengles', …); ADJOINT_WEBGPU_BACKEND sets it too. */
  readonly backend?: string
}

/** The names software adapters give in their adapter info. */
const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|microsoft basic render|\bwarp\b/i

const LIMITS: readonly (keyof GPUSupportedLimits)[] = [
  'maxStorageBuffersPerShaderStage',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupsPerDimension',
  'maxBindingsPerBindGroup',
  'maxUniformBufferBindingSize',
]

/** Whether a Vulkan loader is installed (Linux): without one Dawn's default backend only prints a warning and fails. */
function hasVulkanLoader(proc: { platform?: string; env: Record<string, string | undefined> }): boolean {
  if (proc.platform !== 'linux' || proc.env.LD_LIBRARY_PATH) return true
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib']
  const fs = (globalThis as { process?: { getBuiltinModule?: (name: string) => unknown } }).process?.getBuiltinModule?.(
    'node:fs',
  ) as { existsSync(path: string): boolean } | undefined
  return fs === undefined || dirs.some((d) => fs.existsSync(`${d}/libvulkan.so.1`))
}

// Dawn's Node binding, imported by a name held in a variable and marked, so that bundlers for the browser leave it alone.
const DAWN_PACKAGE = 'webgpu'

/**
 * Imports `specifier` at run time (src/io/import.ts does the same for src/).
 * Two import() expressions, so that terser does not inline tsc's helper
 * around the specifier into an unparenthesised comma expression, which reads
 * as import() with a second argument.
 */
function importByName(specifier: string, options?: ImportCallOptions): Promise<unknown> {
  return options === undefined
    ? import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)
    : import(/* webpackIgnore: true */ /* @vite-ignore */ specifier, options)
}

interface NodeProcess {
  readonly platform?: string
  readonly env: Record<string, string | undefined>
  readonly versions?: { readonly node?: unknown }
}

/** GPU instances from Dawn, in the order to try them; none outside Node (a `process` stand-in in a browser is not Node). */
async function nodeGpus(first: string | undefined): Promise<{ gpu: GPU; label: string; compat: boolean }[]> {
  const proc = (globalThis as { process?: NodeProcess }).process
  if (proc === undefined || typeof proc.versions?.node !== 'string') return []
  proc.env.EGL_PLATFORM ??= 'surfaceless'
  let mod: { create: (flags: string[]) => GPU; globals: object }
  try {
    mod = (await importByName(DAWN_PACKAGE)) as typeof mod
  } catch (e) {
    throw new Error(
      `the \`${DAWN_PACKAGE}\` package (Dawn's Node binding) could not be loaded: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
      { cause: e },
    )
  }
  Object.assign(globalThis, mod.globals)
  const order = first !== undefined ? [first] : hasVulkanLoader(proc) ? [undefined, 'opengles'] : ['opengles']
  return order.map((backend) => ({
    gpu: mod.create(backend === undefined ? [] : [`backend=${backend}`]),
    label: backend ?? 'default',
    compat: backend === 'opengles' || backend === 'opengl',
  }))
}

export async function createContext(options: DeviceOptions = {}): Promise<GpuContext> {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env
  const first = options.backend ?? env?.ADJOINT_WEBGPU_BACKEND
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator
  const candidates =
    nav?.gpu !== undefined && first === undefined
      ? [{ gpu: nav.gpu, label: 'navigator.gpu', compat: false }]
      : await nodeGpus(first)
  const tried: string[] = []
  for (const { gpu, label, compat } of candidates) {
    for (const featureLevel of compat ? ['compatibility'] : ['core', 'compatibility']) {
      const adapter = await gpu.requestAdapter({ featureLevel } as GPURequestAdapterOptions)
      if (adapter === null) {
        tried.push(`${label}/${featureLevel}: no adapter`)
        continue
      }
      const requiredLimits: Record<string, number> = {}
      for (const k of LIMITS) {
        const v = adapter.limits[k]
        if (typeof v === 'number') requiredLimits[k] = v
      }
      const device = await adapter.requestDevice({ requiredLimits })
      const info = adapter.info
      const name =
        [info?.vendor, info?.architecture, info?.device, info?.description].filter((s) => s).join(' ') || 'unknown'
      const context: GpuContext = {
        instance: gpu,
        device,
        description: `webgpu (${label}, ${featureLevel}): ${name}`,
        software:
          (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter === true || SOFTWARE.test(name),
        limits: device.limits,
        lost: null,
        submissions: 0,
      }
      void device.lost.then((info) => {
        context.lost = `the WebGPU device was lost (${info.reason}: ${info.message})`
      })
      return context
    }
  }
  if (tried.length === 0)
    throw new Error(
      'no WebGPU adapter: this environment has no GPU API (neither navigator.gpu, which a browser offers with WebGPU on a secure page, nor Node for the `webgpu` package)',
    )
  throw new Error(`no WebGPU adapter (${tried.join('; ')})`)
}
