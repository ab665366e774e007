// The playground page: bundled by esbuild from playground/src/main.ts into out/playground/ (index.html and
// playground.js, a classic script, so the page also opens from a file: URL) and served.
//
//   npm run playground                  build, serve on http://localhost:8080/ and rebuild on change
//   npm run playground -- --build       build only (a folder to open or host anywhere)
//   npm run playground -- --port 9000   another port
import { copyFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

const repo = fileURLToPath(new URL('..', import.meta.url))

/** esbuild's options for the page's script, written to `outdir`. */
export const buildOptions = (outdir, { minify = true } = {}) => ({
  entryPoints: [join(repo, 'playground/src/main.ts')],
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2022',
  minify,
  sourcemap: true,
  outfile: join(outdir, 'playground.js'),
  logLevel: 'warning',
  // The Node-only modules are imported by name on purpose (src/io/import.ts): no bundler is to resolve them.
  logOverride: { 'unsupported-dynamic-import': 'silent' },
})

/** Builds the page into `outdir` (default out/playground); returns the folder and the script's size in bytes. */
export async function buildPlayground(outdir = join(repo, 'out/playground'), options = {}) {
  await mkdir(outdir, { recursive: true })
  await copyFile(join(repo, 'playground/index.html'), join(outdir, 'index.html'))
  const result = await esbuild.build({ ...buildOptions(outdir, options), metafile: true })
  const bytes = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined)?.bytes ?? 0
  return { outdir, bytes }
}

async function main(argv) {
  const buildOnly = argv.includes('--build')
  const at = argv.indexOf('--port')
  const port = at >= 0 ? Number(argv[at + 1]) : 8080
  if (!Number.isInteger(port) || port <= 0 || port > 65535)
    throw new Error(`--port needs a port number, got ${argv[at + 1]}`)
  const { outdir, bytes } = await buildPlayground()
  console.log(`playground built in ${outdir} (script ${(bytes / 1024).toFixed(0)} KiB)`)
  if (buildOnly) return
  // Rebuilds the script on every change of its sources (the build above has already copied the page).
  const context = await esbuild.context(buildOptions(outdir))
  await context.watch()
  const { port: served } = await context.serve({ servedir: outdir, port })
  console.log(`serving the playground on http://localhost:${served}/ (Ctrl+C stops)`)
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  main(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof Error ? e.message : e)
    process.exit(1)
  })
