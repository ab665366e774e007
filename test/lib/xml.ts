/** The SVG the charts write, read back as a tree (test/plot*.test.ts). */
export interface Element {
  readonly name: string
  readonly attrs: Record<string, string>
  readonly children: Element[]
  text: string
}

/**
 * A strict little XML reader: every tag closed in order, attributes quoted
 * and unique, text free of '<' and of '&' outside the five entities. It
 * throws on the first fault and returns the element tree.
 */
export function parseXml(xml: string): Element {
  const body = xml.replace(/^<\?xml [^?]*\?>\s*/, '').trim()
  const root: Element = { name: '#document', attrs: {}, children: [], text: '' }
  const stack: Element[] = [root]
  const tokens = body.match(/<[^>]*>|[^<]+/g) ?? []
  if (tokens.join('') !== body) throw new Error('stray < in text')
  for (const token of tokens) {
    const top = stack[stack.length - 1]
    if (!token.startsWith('<')) {
      if (/&(?!(amp|lt|gt|quot|apos);)/.test(token)) throw new Error(`bare & in text ${JSON.stringify(token)}`)
      if (token.includes('>')) throw new Error(`> in text ${JSON.stringify(token)}`)
      top.text += token
      continue
    }
    const close = /^<\/([A-Za-z][\w:-]*)>$/.exec(token)
    if (close) {
      if (top.name !== close[1]) throw new Error(`</${close[1]}> closes <${top.name}>`)
      stack.pop()
      continue
    }
    const open = /^<([A-Za-z][\w:-]*)((?:\s+[A-Za-z][\w:-]*="[^"<]*")*)\s*(\/?)>$/.exec(token)
    if (!open) throw new Error(`malformed tag ${token.slice(0, 80)}`)
    const attrs: Record<string, string> = {}
    for (const [, k, v] of open[2].matchAll(/([A-Za-z][\w:-]*)="([^"]*)"/g)) {
      if (k in attrs) throw new Error(`duplicate attribute ${k} in <${open[1]}>`)
      if (/&(?!(amp|lt|gt|quot|apos);)/.test(v)) throw new Error(`bare & in attribute ${k}`)
      attrs[k] = v
    }
    const element: Element = { name: open[1], attrs, children: [], text: '' }
    top.children.push(element)
    if (open[3] !== '/') stack.push(element)
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1].name}>`)
  if (root.children.length !== 1 || root.children[0].name !== 'svg') throw new Error('expected one <svg> root element')
  return root.children[0]
}
export const all = (e: Element, name: string): Element[] => [
  ...(e.name === name ? [e] : []),
  ...e.children.flatMap((c) => all(c, name)),
]
export const decodeEntities = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
