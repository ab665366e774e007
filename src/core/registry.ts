/**
 * The rule table, as the tracing core sees it. The core interprets
 * primitives through their rules but does not define them: the primitives
 * (src/primitives) build the table, exhaustive in `Primitive`, and register
 * it here when they load. So imports flow one way, from the primitives to
 * the core, while `bind` and the transforms look rules up at run time.
 */
import type { Primitive, PrimitiveRule, RuleTable } from './primitive.ts'

let table: RuleTable | null = null

/** Installs the rule table; called once, by src/rules.ts. */
export function registerRules(rules: RuleTable): void {
  table = rules
}

/** The rules of one primitive. */
export function ruleOf<P extends Primitive>(prim: P): PrimitiveRule<P> {
  if (table === null)
    throw new Error(
      `no rule for '${prim}': the primitives' rules are not loaded. ` +
        `Import the library from its entry (src/index.ts), which loads src/rules.ts`,
    )
  return table[prim]
}
