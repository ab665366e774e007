/**
 * The printer. A Program reads like this:
 *
 *   { lambda a:f32[3] ; b:f32[3] .
 *     let c:f32[3] = cos b
 *         d:f32[3] = mul c a
 *     in ( d ) }
 *
 * Constants (captured values) come before the `;`, arguments after it;
 * scalar constants are printed inline. A Program held by an equation (the
 * body of a scan) is printed under it, indented, with the same names:
 *
 *   let c:f64[] d:f64[4] = scan[length=4 reverse=false numConsts=0 numCarry=1] a b
 *         body={ lambda e:f64[] f:f64[] .
 *                let g:f64[] = add e f
 *                in ( g g ) }
 */
import { Literal, Program, type Atom, type Var } from './program.ts'
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
  return programLines(program, names()).join('\n')
}

function programLines(program: Program, name: (v: Var) => string): string[] {
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
  const eqns = program.eqns.map((e) => {
    const entries = Object.entries(e.params as Record<string, unknown>)
    const params = entries
      .filter(([, v]) => !(v instanceof Program))
      .map(([k, v]) => `${k}=${formatParam(v)}`)
      .join(' ')
    const lhs = e.outputs.map(decl).join(' ')
    const line = `${lhs} = ${e.prim}${params ? `[${params}]` : ''} ${e.inputs.map(atom).join(' ')}`
    const inner = entries
      .filter((entry): entry is [string, Program] => entry[1] instanceof Program)
      .flatMap(([k, body]) =>
        programLines(body, name).map((l, i) => `  ${i === 0 ? `${k}=` : ' '.repeat(k.length + 1)}${l}`),
      )
    return [line, ...inner]
  })
  const head = `{ lambda ${consts ? `${consts} ; ` : ''}${inputs} .`
  const body = eqns.flatMap((lines, n) => lines.map((l, i) => `${n === 0 && i === 0 ? '  let ' : '      '}${l}`))
  return [head, ...body, `  in ( ${program.outputs.map(atom).join(' ')} ) }`]
}
