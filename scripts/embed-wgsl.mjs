// Embeds the hand-written kernels gpu/kernels/*.wgsl in gpu/kernels/sources.ts
// as string constants (matmul.wgsl → MATMUL_WGSL), so that the library needs
// no file system at run time (browsers).
//
//   node scripts/embed-wgsl.mjs           writes gpu/kernels/sources.ts
//   node scripts/embed-wgsl.mjs --check   exits 1 if sources.ts differs from what it would write
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dir = 'gpu/kernels'
const target = join(root, dir, 'sources.ts')

/** The text of sources.ts for the .wgsl files now in gpu/kernels. */
export function generate() {
  const files = readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.wgsl'))
    .sort()
  const paths = files.map((f) => `${dir}/${f}`)
  const escapeTemplate = (text) => text.replaceAll('\\', '\\\\').replaceAll('`', '\\`').replaceAll('${', '\\${')
  const constants = files.map((f, i) => {
    const name = `${f
      .slice(0, -'.wgsl'.length)
      .replace(/[^A-Za-z0-9]+/g, '_')
      .toUpperCase()}_WGSL`
    const text = readFileSync(join(root, paths[i]), 'utf8').replaceAll('\r\n', '\n')
    return `/** ${paths[i]} */\nexport const ${name} = \`${escapeTemplate(text)}\`\n`
  })
  return [
    `// Generated from ${paths.join(', ')}; run node scripts/embed-wgsl.mjs after editing them.`,
    `// Do not edit: test/gpu/sources.test.ts fails when this file and the .wgsl files differ.`,
    '',
    constants.join('\n'),
  ].join('\n')
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = generate()
  if (process.argv.includes('--check')) {
    let current = ''
    try {
      current = readFileSync(target, 'utf8')
    } catch {}
    if (current !== text) {
      console.error(`${dir}/sources.ts differs from the .wgsl files in ${dir}: run node scripts/embed-wgsl.mjs`)
      process.exit(1)
    }
  } else writeFileSync(target, text)
}
