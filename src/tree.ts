/**
 * Pytrees: nested arrays and plain records whose leaves are tensors. Every
 * transform accepts and returns them, flattening to a list of leaves and a
 * `TreeDef` that rebuilds the structure. Record keys are kept in sorted order
 * so that two records with the same keys flatten alike.
 */
import { Tensor, formatAval } from './tensor.ts'

/** A pytree: a tensor, null or undefined, or an array or record of pytrees. */
export type Tree = Tensor | null | undefined | readonly Tree[] | { readonly [key: string]: Tree }

/** The structure of a pytree without its leaves: what `flatten` returns beside them and `unflatten` fills. */
export type TreeDef =
  | { readonly kind: 'leaf' }
  | { readonly kind: 'none'; readonly value: null | undefined }
  | { readonly kind: 'array'; readonly children: readonly TreeDef[] }
  | { readonly kind: 'record'; readonly keys: readonly string[]; readonly children: readonly TreeDef[] }

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' &&
  x !== null &&
  (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null)

/** The tensor leaves of a pytree in order (arrays by index, records by sorted key) and its structure. */
export function flatten(tree: unknown, path = ''): [Tensor[], TreeDef] {
  const leaves: Tensor[] = []
  const walk = (node: unknown, at: string): TreeDef => {
    if (node instanceof Tensor) {
      leaves.push(node)
      return { kind: 'leaf' }
    }
    if (node === null || node === undefined) return { kind: 'none', value: node }
    if (Array.isArray(node)) return { kind: 'array', children: node.map((c, i) => walk(c, `${at}[${i}]`)) }
    if (isRecord(node)) {
      const keys = Object.keys(node).sort()
      return { kind: 'record', keys, children: keys.map((k) => walk(node[k], `${at}.${k}`)) }
    }
    const what =
      typeof node === 'number'
        ? `the number ${node}`
        : typeof node === 'object'
          ? `a ${node.constructor?.name ?? 'object'}`
          : `a ${typeof node}`
    throw new TypeError(`expected a Tensor, an array or a plain record at ${at || 'the top'}, got ${what}`)
  }
  const def = walk(tree, path)
  return [leaves, def]
}

/** The pytree of structure `def` with the given leaves in place: the inverse of `flatten`. */
export function unflatten(def: TreeDef, leaves: readonly unknown[]): any {
  let i = 0
  const build = (d: TreeDef): unknown => {
    switch (d.kind) {
      case 'leaf':
        return leaves[i++]
      case 'none':
        return d.value
      case 'array':
        return d.children.map(build)
      case 'record':
        return Object.fromEntries(d.keys.map((k, j) => [k, build(d.children[j])]))
      default:
        return d satisfies never
    }
  }
  const out = build(def)
  if (i !== leaves.length) throw new Error(`unflatten: structure has ${i} leaves, got ${leaves.length}`)
  return out
}

/** The number of leaves of a structure. */
export const leafCount = (def: TreeDef): number =>
  def.kind === 'leaf' ? 1 : def.kind === 'none' ? 0 : def.children.reduce((n, c) => n + leafCount(c), 0)

/** The path of every leaf, e.g. `[0].w`, for error messages. */
export function leafPaths(def: TreeDef, prefix = ''): string[] {
  switch (def.kind) {
    case 'leaf':
      return [prefix || '(top)']
    case 'none':
      return []
    case 'array':
      return def.children.flatMap((c, i) => leafPaths(c, `${prefix}[${i}]`))
    case 'record':
      return def.children.flatMap((c, i) => leafPaths(c, `${prefix}.${def.keys[i]}`))
    default:
      return def satisfies never
  }
}

/** A short picture of a structure: `{b: *, w: *}`, `[*, *]`. */
export function describe(def: TreeDef): string {
  switch (def.kind) {
    case 'leaf':
      return '*'
    case 'none':
      return String(def.value)
    case 'array':
      return `[${def.children.map(describe).join(', ')}]`
    case 'record':
      return `{${def.keys.map((k, i) => `${k}: ${describe(def.children[i])}`).join(', ')}}`
    default:
      return def satisfies never
  }
}

/** Whether two structures are the same (the same arrays, keys and leaf positions). */
export const sameStructure = (a: TreeDef, b: TreeDef): boolean => describe(a) === describe(b)

/** Throws unless `b` has the structure of `a` and leaves of the same shapes and dtypes. */
export function checkMatching(what: string, expectedName: string, actualName: string, a: unknown, b: unknown): void {
  const [la, da] = flatten(a)
  const [lb, db] = flatten(b)
  if (!sameStructure(da, db))
    throw new Error(
      `${what}: ${actualName} must have the structure of ${expectedName}: expected ${describe(da)}, got ${describe(db)}`,
    )
  const paths = leafPaths(da)
  la.forEach((x, i) => {
    const y = lb[i]
    const same =
      x.aval.dtype === y.aval.dtype &&
      x.aval.shape.length === y.aval.shape.length &&
      x.aval.shape.every((d, j) => d === y.aval.shape[j])
    if (!same)
      throw new Error(
        `${what}: ${actualName} at ${paths[i]} is ${formatAval(y.aval)}, expected ${formatAval(x.aval)} (the ${expectedName}'s shape and dtype)`,
      )
  })
}

/** The pytree with `f` applied to each tensor leaf, of the same structure. */
export const treeMap = <T extends Tree>(tree: T, f: (x: Tensor) => Tensor): T => {
  const [leaves, def] = flatten(tree)
  return unflatten(def, leaves.map(f))
}

/** Combines two trees of the same structure leaf by leaf. */
export const treeMap2 = <T extends Tree>(a: T, b: T, f: (x: Tensor, y: Tensor) => Tensor): T => {
  const [la, da] = flatten(a)
  const [lb, db] = flatten(b)
  if (!sameStructure(da, db)) throw new Error(`treeMap2: structures differ: ${describe(da)} vs ${describe(db)}`)
  return unflatten(
    da,
    la.map((x, i) => f(x, lb[i])),
  )
}
