/**
 * File access for Node, loaded on demand and by a name that bundlers do not
 * follow, so that modules which import this one bundle for browsers as they
 * are (esbuild, Vite and webpack need no polyfill and no configuration).
 * Where there is no file system (a browser), the functions that need one
 * reject with an error that names the caller and what to use there instead.
 *
 * Law: `writeFileAtomic(path, bytes)` either replaces the file at `path` with
 * exactly `bytes` or leaves it as it was. The bytes go to a new file in the
 * same directory (so the rename stays on one file system), are flushed to
 * disk, and only then renamed over `path`; rename(2) is atomic on POSIX.
 * A process killed between the two leaves its temporary file behind: the
 * next write to `path` removes the temporary files of `path` whose process
 * is gone (their names carry the writer's process id).
 */

import { importByName } from './import.ts'

type FsPromises = typeof import('node:fs/promises')

const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** What a browser offers instead of writing a file, and instead of reading one. */
const BROWSER_WRITE =
  'keep the bytes in memory: offer them as a download (a Blob), store them in IndexedDB or send them with fetch'
const BROWSER_READ = 'get the bytes with fetch(url) or from a File the user picks, and decode them'

// Imported by name (see import.ts), so that bundlers neither resolve it nor put an empty module in its place.
const FS_PROMISES = 'node:fs/promises'

interface NodeProcess {
  readonly getBuiltinModule?: (id: string) => unknown
}

/** The functions of `node:fs/promises` used here, all present: a bundler's empty stand-in module has none of them. */
const isFsPromises = (u: unknown): u is FsPromises =>
  typeof u === 'object' &&
  u !== null &&
  ['open', 'readFile', 'rename', 'rm', 'readdir'].every((f) => typeof (u as Record<string, unknown>)[f] === 'function')

/**
 * Node's `fs/promises`: through `process.getBuiltinModule` (Node 20.16 and
 * later; no import at all), else a dynamic import by a computed name. Rejects
 * with `caller`, the reason, and `instead` (what to do without a file system).
 */
const nodeFs = async (caller: string, instead: string): Promise<FsPromises> => {
  const missing = (why: string, cause?: unknown) =>
    new Error(
      `${caller}: needs Node's file system (node:fs/promises), which this environment does not provide (${why}); in a browser, ${instead}`,
      { cause },
    )
  let fs: unknown
  try {
    const proc = (globalThis as { process?: NodeProcess }).process
    fs =
      typeof proc?.getBuiltinModule === 'function'
        ? proc.getBuiltinModule(FS_PROMISES)
        : await importByName(FS_PROMISES)
  } catch (cause) {
    throw missing(`importing it failed: ${reason(cause)}`, cause)
  }
  if (!isFsPromises(fs)) throw missing('the module found in its place has no file functions')
  return fs
}

let counter = 0
/** A name for the temporary file next to `path`, unique within and across processes. */
const temporaryName = (path: string): string => {
  counter += 1
  const pid = typeof process === 'undefined' ? 0 : process.pid
  const random = Math.floor(Math.random() * 2 ** 32).toString(16)
  return `${path}.${pid}-${counter}-${random}.tmp`
}

/**
 * Writes `data` to `path` atomically (see the header); `caller` names the
 * function in errors, and `instead` says what to use where there is no file system.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  caller = 'writeFileAtomic',
  instead = BROWSER_WRITE,
): Promise<void> {
  const fs = await nodeFs(caller, instead)
  await removeOrphans(fs, path)
  const temporary = temporaryName(path)
  let handle: Awaited<ReturnType<FsPromises['open']>> | undefined
  try {
    // 'wx': fail rather than reuse a file that happens to exist under the temporary name.
    handle = await fs.open(temporary, 'wx')
    await handle.writeFile(data)
    await handle.sync()
    await handle.close()
    handle = undefined
    await fs.rename(temporary, path)
  } catch (e) {
    await handle?.close().catch(() => undefined)
    await fs.rm(temporary, { force: true }).catch(() => undefined)
    throw new Error(`${caller}: could not write ${path}: ${reason(e)} (the file was left unchanged)`, { cause: e })
  }
  await syncDirectoryOf(fs, path)
}

/** Whether the process `pid` still runs (signal 0 tests for it without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM'
  }
}

/** Removes the temporary files of earlier writes to `path` whose writer is gone (killed mid-write). */
async function removeOrphans(fs: FsPromises, path: string): Promise<void> {
  if (typeof process === 'undefined') return
  const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'))
  const directory = slash < 0 ? '.' : slash === 0 ? path.slice(0, 1) : path.slice(0, slash)
  const base = path.slice(slash + 1)
  let names: string[]
  try {
    names = await fs.readdir(directory)
  } catch {
    return
  }
  for (const name of names) {
    if (!name.startsWith(`${base}.`) || !name.endsWith('.tmp')) continue
    const match = /^(\d+)-\d+-[0-9a-f]+\.tmp$/.exec(name.slice(base.length + 1))
    if (match === null || Number(match[1]) === process.pid || alive(Number(match[1]))) continue
    await fs.rm(slash < 0 ? name : `${directory}/${name}`, { force: true }).catch(() => undefined)
  }
}

/**
 * Flushes the directory entry of `path` so that the rename survives a crash.
 * Some platforms cannot open a directory for syncing; there the rename is
 * still atomic, only its durability is left to the operating system.
 */
async function syncDirectoryOf(fs: FsPromises, path: string): Promise<void> {
  const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'))
  const directory = slash < 0 ? '.' : slash === 0 ? path.slice(0, 1) : path.slice(0, slash)
  try {
    const handle = await fs.open(directory, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    // See above: durability of the directory entry is best effort.
  }
}

/** The bytes of the file at `path`, or an error naming the path and why (`caller` and `instead` as for writeFileAtomic). */
export async function readFileBytes(
  path: string,
  caller = 'readFileBytes',
  instead = BROWSER_READ,
): Promise<Uint8Array> {
  const fs = await nodeFs(caller, instead)
  try {
    const buffer = await fs.readFile(path)
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
  } catch (e) {
    throw new Error(`${caller}: could not read ${path}: ${reason(e)}`, { cause: e })
  }
}
