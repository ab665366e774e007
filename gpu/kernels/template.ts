/**
 * Kernel templates: the hand-written WGSL files of gpu/kernels (embedded as
 * strings in sources.ts) with `{{NAME}}` placeholders that a renderer fills.
 * A template's leading comment documents it and is left out of the shaders
 * rendered from it.
 */

const PLACEHOLDER = /\{\{([A-Z][A-Z0-9_]*)\}\}/g

/** The template without its leading comment block (and the blank lines after it). */
function body(template: string): string {
  const lines = template.split('\n')
  let start = 0
  while (start < lines.length && lines[start].startsWith('//')) start++
  while (start < lines.length && lines[start].trim() === '') start++
  return lines.slice(start).join('\n')
}

/**
 * Fills every placeholder of `template`. A placeholder without a value, or a
 * value for a name the template does not have, is an error: a template and
 * its renderer cannot drift apart silently.
 */
export function fillTemplate(
  name: string,
  template: string,
  values: Readonly<Record<string, string | number | boolean>>,
): string {
  const code = body(template)
  const used = new Set<string>()
  const filled = code.replace(PLACEHOLDER, (_, key: string) => {
    if (!Object.hasOwn(values, key)) throw new Error(`${name}: no value for the placeholder {{${key}}}`)
    used.add(key)
    return String(values[key])
  })
  const unused = Object.keys(values).filter((k) => !used.has(k))
  if (unused.length > 0)
    throw new Error(`${name}: the template has no placeholder ${unused.map((k) => `{{${k}}}`).join(', ')}`)
  return filled
}
