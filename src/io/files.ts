/**
 * File access for Node, loaded on demand so that modules which import this
 * one still bundle for browsers (only the functions that touch files need
 * `node:fs`).
 *
 * Law: `writeFileAtomic(path, bytes)` either replaces the file at `path` with
 * exactly `bytes` or leaves it as it was. The bytes go to a new file in the
 * same directory (so the rename stays on one file system), are flushed to
 * disk, and only then renamed over `path`; rename(2) is atomic on POSIX.
 * A process killed between the two leaves its temporary file behind: the
 * next write to `path` removes the temporary files of `path` whose process
 * is gone (their names carry the writer's process id).
 */

type FsPromises = typeof import('node:fs/promises')

const nodeFs = async (caller: string): Promise<FsPromises> => {
  try {
    return await import('node:fs/promises')
  } catch (cause) {
    throw new Error(`${caller}: needs Node's file system (node:fs/promises), which this environment does not provide`, {
      cause,
    })
  }
}

const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e))

let counter = 0
/** A name for the temporary file next to `path`, unique within and across processes. */
const temporaryName = (path: string): string => {
  counter += 1
  const pid = typeof process === 'undefined' ? 0 : process.pid
  const random = Math.floor(Math.random() * 2 ** 32).toString(16)
  return `${path}.${pid}-${counter}-${random}.tmp`
}

/** Writes `data` to `path` atomically (see the header); `caller` names the function in errors. */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  caller = 'writeFileAtomic',
): Promise<void> {
  const fs = await nodeFs(caller)
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

/** The bytes of the file at `path`, or an error naming the path and why. */
export async function readFileBytes(path: string, caller = 'readFileBytes'): Promise<Uint8Array> {
  const fs = await nodeFs(caller)
  try {
    const buffer = await fs.readFile(path)
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
  } catch (e) {
    throw new Error(`${caller}: could not read ${path}: ${reason(e)}`, { cause: e })
  }
}
