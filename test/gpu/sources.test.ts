/**
 * The hand-written kernels gpu/kernels/*.wgsl are shipped as strings in the
 * generated gpu/kernels/sources.ts (no file system at run time): the two must
 * not drift apart, and a template and its renderer must agree on the
 * placeholders. No GPU needed.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import * as sources from '../../gpu/kernels/sources.ts'
import { fillTemplate } from '../../gpu/kernels/template.ts'
import { renderMatmul } from '../../gpu/kernels/matmul.ts'

const dir = new URL('../../gpu/kernels/', import.meta.url)
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.wgsl'))
  .sort()

describe('gpu/kernels/sources.ts', () => {
  it('holds every .wgsl file of gpu/kernels, character for character', () => {
    expect(files).toEqual(expect.arrayContaining(['matmul.wgsl', 'reduce.wgsl']))
    const embedded = sources as Record<string, string>
    expect(Object.keys(embedded).sort()).toEqual(files.map((f) => `${f.slice(0, -5).toUpperCase()}_WGSL`).sort())
    for (const f of files) {
      const name = `${f.slice(0, -5).toUpperCase()}_WGSL`
      expect(embedded[name], `${name} differs from gpu/kernels/${f}: run node scripts/embed-wgsl.mjs`).toBe(
        readFileSync(new URL(f, dir), 'utf8'),
      )
    }
  })

  it('is what scripts/embed-wgsl.mjs writes', () => {
    const result = spawnSync(process.execPath, ['scripts/embed-wgsl.mjs', '--check'], {
      cwd: new URL('../../', import.meta.url),
      encoding: 'utf8',
    })
    expect(result.stderr).toBe('')
    expect(result.status).toBe(0)
  })
})

describe('kernel templates', () => {
  const template = '// a header\n// over two lines\n\nconst N = {{N}}u;\nalias T = {{TYPE}};\nconst M = {{N}}u;\n'

  it('fill every placeholder and leave out the header comment', () => {
    expect(fillTemplate('t', template, { N: 4, TYPE: 'f32' })).toBe('const N = 4u;\nalias T = f32;\nconst M = 4u;\n')
  })
  it('refuse a placeholder without a value and a value without a placeholder', () => {
    expect(() => fillTemplate('t', template, { N: 4 })).toThrow(/t: no value for the placeholder \{\{TYPE\}\}/)
    expect(() => fillTemplate('t', template, { N: 4, TYPE: 'f32', K: 1 })).toThrow(
      /t: the template has no placeholder \{\{K\}\}/,
    )
  })
  it('leave no placeholder in a rendered GEMM', () => {
    for (const [transA, transB] of [
      [false, false],
      [true, true],
    ]) {
      const { code } = renderMatmul({ batch: 2, m: 12, n: 20, k: 7, transA, transB })
      expect(code).not.toMatch(/\{\{|\}\}/)
      expect(code).toContain('const K = 7u;')
    }
  })
})
