/**
 * The printer. A Program reads like this:
 *
 *   { lambda a:f32[3] ; b:f32[3] .
 *     let c:f32[3] = cos b
 *         d:f32[3] = mul c a
 *     in ( d ) }
 *
 * Constants (captured values) come before the `;`, arguments after it;
 * scalar constants are printed inline.
 */
import type { Program, Atom, Var } from './program.ts'
import { Literal } from './program.ts'
import { ConcreteTensor, formatAval } from '../tensor.ts'

function names(): (v: Var) => string {
  const table = new Map<Var, string>()
  return (v) => {
    let name = table.get(v)
    if (name === undefined) {
      let n = table.size
      name = ''
      do {
        name = String.fromCharCode(97 + (n % 26)) + name
        n = Math.floor(n / 26) - 1
      } while (n >= 0)
      table.set(v, name)
    }
    return name
  }
}

const formatParam = (value: unknown): string => (Array.isArray(value) ? `[${value.join(',')}]` : String(value))

export function printProgram(program: Program): string {
  const name = names()
  const decl = (v: Var) => `${name(v)}:${formatAval(v.aval)}`
  const atom = (a: Atom): string => {
    if (a instanceof Literal) {
      const v = a.value instanceof ConcreteTensor ? a.value.values[0] : NaN
      return `${v}:${a.aval.dtype}`
    }
    return name(a)
  }
  const consts = program.constVars.map(decl).join(' ')
  const inputs = program.inputs.map(decl).join(' ')
  const lines = program.eqns.map((e) => {
    const params = Object.entries(e.params as Record<string, unknown>)
      .map(([k, v]) => `${k}=${formatParam(v)}`)
      .join(' ')
    const lhs = e.outputs.map(decl).join(' ')
    return `${lhs} = ${e.prim}${params ? `[${params}]` : ''} ${e.inputs.map(atom).join(' ')}`
  })
  const head = `{ lambda ${consts ? `${consts} ; ` : ''}${inputs} .`
  const body = lines.length ? `  let ${lines.join('\n      ')}\n` : ''
  return `${head}\n${body}  in ( ${program.outputs.map(atom).join(' ')} ) }`
}
