/**
 * Expressions to WGSL: the Emitter, which renders a kernel's scalar
 * expressions as statements (naming what is used twice, lazy selects as
 * if/else), the WGSL of each primitive, and the helpers a kernel's source
 * gains where it calls them. render.ts builds kernels around what it emits.
 */
import type { UnaryPrimitive } from '../../src/core/index.ts'
import { ACC_SLOT, type Expr, type ScalarType } from '../kernel.ts'
import type { RenderedKernel } from './render.ts'
import { REDUCE_ANGLE_WGSL } from './angle.ts'

/**
 * A kernel's input slot as the renderer sees it: its element type, where it starts at this step, and the binding it
 * is read through (`in` and the slot that declares it: slots of one buffer share a binding).
 */
export interface Slot {
  readonly type: ScalarType
  readonly position: number
  readonly start: Start
  readonly binding: string
}

/**
 * Where a kernel's buffer starts, by its position in [...inputs, output, also] (the step uniform's, and
 * Dispatch.offsets'): at the same element at every dispatch, or at each dispatch where the step uniform says
 * (`aligned`: a multiple of 4 at every one).
 */
export type Start = { readonly fixed: number } | { readonly aligned: boolean }
export type Starts = (position: number) => Start

/** Where the buffer at `position` starts at this step (u32), from the step uniform. */
export const startAt = (position: number) => `step[${position >> 2}][${position & 3}]`
/** The index terms that put an element where the buffer at `position` starts (none where that is 0). */
export const sliceStart = (position: number, start: Start, suffix: 'i' | 'u') => {
  if ('fixed' in start) return start.fixed === 0 ? '' : `${start.fixed}${suffix} + `
  return suffix === 'i' ? `i32(${startAt(position)}) + ` : `${startAt(position)} + `
}

export const storageType = (t: ScalarType) => (t === 'f32' ? 'f32' : 'i32')
export const wgslType = (t: ScalarType) => (t === 'bool' ? 'bool' : t)

export function literal(value: number, t: ScalarType): string {
  if (t === 'bool') return value ? 'true' : 'false'
  // −2³¹ is no literal in WGSL: 2147483648i overflows before the negation.
  if (t === 'i32') return value === -(2 ** 31) ? '(-2147483647i - 1i)' : value < 0 ? `(${value}i)` : `${value}i`
  if (Number.isNaN(value)) return 'f32_bits(0x7fc00000u)'
  if (value === Infinity) return 'f32_bits(0x7f800000u)'
  if (value === -Infinity) return 'f32_bits(0xff800000u)'
  const f = Math.fround(value)
  if (f !== 0 && Math.abs(f) < 1.1754943508222875e-38) {
    const bits = new Uint32Array(new Float32Array([f]).buffer)[0]
    return `f32_bits(0x${bits.toString(16)}u)`
  }
  return f < 0 ? `(${f}f)` : `${f}f`
}

/** Helpers whose WGSL builtins differ from the reference kernels at the edges. */
export const PRELUDE = `
// Non-finite and subnormal constants are not const-expressions in WGSL: build them at run time.
fn f32_bits(b: u32) -> f32 { var v = b; return bitcast<f32>(v); }
// tanh saturates to ±1 in f32 beyond |x| = 15; clamping avoids inf/inf in exp-based builtins (NaN stays NaN:
// clamp may turn it into a bound).
fn tanh_(x: f32) -> f32 {
  if ((bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u) { return x; }
  return tanh(clamp(x, -15.0f, 15.0f));
}
// exp of NaN is NaN (SwiftShader's exp gives +∞, and so 1/(1 + ∞) = 0 for the logistic).
fn exp_(x: f32) -> f32 {
  if ((bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u) { return x; }
  return exp(x);
}
fn logistic_(x: f32) -> f32 { return 1.0f / (1.0f + exp_(-x)); }
// pow with JavaScript's conventions: x⁰ = 1, negative bases with integer exponents.
fn pow_(a: f32, b: f32) -> f32 {
  if (b == 0.0f) { return 1.0f; }
  // 0 to a negative power is ∞ (−∞ for −0 and an odd integer), as in JavaScript; WGSL leaves it open.
  if (a == 0.0f && b < 0.0f) {
    let odd = (bitcast<u32>(a) >> 31u) == 1u && (abs(b) % 2.0f) == 1.0f;
    return select(f32_bits(0x7f800000u), f32_bits(0xff800000u), odd);
  }
  let m = pow(abs(a), b);
  if (a >= 0.0f) { return m; }
  if (floor(b) != b) { return f32_bits(0x7fc00000u); }
  return select(m, -m, (abs(b) % 2.0f) == 1.0f);
}
`

/** The rotations of Threefry-2×32, four rounds to a group, alternating (as in src/primitives/random-bits.ts). */
const ROTATIONS = [
  [13, 15, 26, 6],
  [17, 29, 16, 24],
]

/**
 * Threefry-2×32 (20 rounds) in WGSL, unrolled, on u32 words: appended to a
 * kernel that draws random bits. `random_` picks one word of the pair, as
 * i32 bits or as its top 24 bits scaled to [0, 1) (exact in f32).
 */
const THREEFRY = (() => {
  const lines = [
    'fn threefry_(key0: i32, key1: i32, c0: i32, c1: i32) -> vec2<u32> {',
    '  let k0 = bitcast<u32>(key0);',
    '  let k1 = bitcast<u32>(key1);',
    '  let k2 = k0 ^ k1 ^ 0x1bd11bdau;',
    '  var x0 = bitcast<u32>(c0) + k0;',
    '  var x1 = bitcast<u32>(c1) + k1;',
  ]
  const ks = ['k0', 'k1', 'k2']
  for (let i = 0; i < 5; i++) {
    for (const r of ROTATIONS[i % 2]) lines.push(`  x0 = x0 + x1; x1 = ((x1 << ${r}u) | (x1 >> ${32 - r}u)) ^ x0;`)
    lines.push(`  x0 = x0 + ${ks[(i + 1) % 3]}; x1 = x1 + ${ks[(i + 2) % 3]} + ${i + 1}u;`)
  }
  lines.push('  return vec2<u32>(x0, x1);', '}')
  lines.push(
    'fn random_bits_(k0: i32, k1: i32, c0: i32, c1: i32, word: i32) -> i32 {',
    '  let x = threefry_(k0, k1, c0, c1);',
    '  return bitcast<i32>(select(x.y, x.x, word == 0i));',
    '}',
    'fn random_f32_(k0: i32, k1: i32, c0: i32, c1: i32, word: i32) -> f32 {',
    '  let x = threefry_(k0, k1, c0, c1);',
    '  return f32(select(x.y, x.x, word == 0i) >> 8u) * 5.9604644775390625e-8f;',
    '}',
  )
  return `\n${lines.join('\n')}\n`
})()

/**
 * For an f32 x − x, x + (−x), (−x) + x or x·0 (either order): the x whose
 * finiteness decides it (0, or NaN for NaN and ±∞), which a compiler that
 * assumes no NaN would fold to 0.
 */
function foldedToZero(e: Extract<Expr, { k: 'bin' }>): Expr | undefined {
  const isNeg = (n: Expr, of: Expr) => n.k === 'un' && n.op === 'neg' && n.a === of
  const isZero = (n: Expr) => n.k === 'lit' && n.value === 0
  if (e.op === 'sub' && e.a === e.b) return e.a
  if (e.op === 'add' && isNeg(e.b, e.a)) return e.a
  if (e.op === 'add' && isNeg(e.a, e.b)) return e.b
  if (e.op === 'mul' && isZero(e.b)) return e.a
  if (e.op === 'mul' && isZero(e.a)) return e.b
  return undefined
}

/**
 * Helpers a kernel gets only when it calls them (by the names before each
 * '('), so that kernels that do not use them compile no more code.
 */
const HELPERS: readonly { readonly calls: readonly string[]; readonly code: string }[] = [
  // sin and cos are accurate (2⁻¹¹) only on [−π, π] in WGSL: the argument is reduced first, exactly.
  { calls: ['reduce_angle'], code: REDUCE_ANGLE_WGSL },
  { calls: ['random_bits_', 'random_f32_'], code: THREEFRY },
  {
    calls: ['max_', 'min_'],
    // The maximum and minimum of f32 with NaN propagated (IEEE 754-2019 maximum, minimum; JAX, TensorFlow.js).
    code: `
fn max_(a: f32, b: f32) -> f32 {
  if ((bitcast<u32>(a) & 0x7fffffffu) > 0x7f800000u) { return a; }
  if ((bitcast<u32>(b) & 0x7fffffffu) > 0x7f800000u) { return b; }
  return max(a, b);
}
fn min_(a: f32, b: f32) -> f32 {
  if ((bitcast<u32>(a) & 0x7fffffffu) > 0x7f800000u) { return a; }
  if ((bitcast<u32>(b) & 0x7fffffffu) > 0x7f800000u) { return b; }
  return min(a, b);
}
`,
  },
  {
    calls: ['log_'],
    // WGSL leaves log at 0 and below open (some adapters give −88 for log 0): −∞ at ±0, NaN below 0 and at NaN.
    code: `
fn log_(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  if ((b & 0x7fffffffu) == 0u) { return f32_bits(0xff800000u); }
  if (b > 0x7f800000u) { return f32_bits(0x7fc00000u); }
  return log(x);
}
`,
  },
  {
    calls: ['f32_to_i32_'],
    code: `
fn f32_to_i32_(x: f32) -> i32 {
  if ((bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u) { return 0i; }
  if (x >= 2147483648.0f) { return 2147483647i; }
  if (x < -2147483648.0f) { return -2147483647i - 1i; }
  return i32(x);
}
`,
  },
  {
    calls: ['div_i32_'],
    code: `
fn div_i32_(a: i32, b: i32) -> i32 { return select(a / b, 0i, b == 0i); }
`,
  },
  {
    calls: ['isnan_'],
    code: `
fn isnan_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
`,
  },
  {
    calls: ['zero_'],
    // x − x, x + (−x) and x·0: 0 for a finite x, NaN for NaN and ±∞ (IEEE 754). A compiler that assumes no NaN
    // (WGSL allows it; Mesa folds all three to 0) cannot fold a test of the bits.
    code: `
fn zero_(x: f32) -> f32 {
  if ((bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u) { return f32_bits(0x7fc00000u); }
  return 0.0f;
}
`,
  },
  {
    calls: ['log1p_'],
    // Near 0, 2·atanh(s) with s = x/(2 + x) by its series (|s| < 0.2: seven terms reach 2⁻²⁷); WGSL's log
    // is only accurate to 2⁻²¹ absolute near 1, which would cost small arguments their digits.
    code: `
fn log1p_(x: f32) -> f32 {
  if (x > -0.3f && x < 0.5f) {
    let s = x / (2.0f + x);
    let z = s * s;
    return 2.0f * s * (1.0f + z * (0.33333334f + z * (0.2f + z * (0.14285715f + z * (0.11111111f + z * (0.09090909f + z * 0.07692308f))))));
  }
  return log_(1.0f + x);
}
`,
  },
  {
    calls: ['expm1_'],
    // Near 0, the Taylor series to x¹⁰ (|x| < 0.5: error below 2⁻²⁸ relative); elsewhere eˣ − 1 loses nothing.
    code: `
fn expm1_(x: f32) -> f32 {
  if ((bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u) { return x; }
  if (abs(x) < 0.5f) {
    return x * (1.0f + x * (0.5f + x * (0.16666667f + x * (0.041666668f + x * (0.008333334f + x * (0.0013888889f + x * (0.0001984127f + x * (0.0000248016f + x * (0.0000027557f + x * 0.00000027557319f)))))))));
  }
  return exp(x) - 1.0f;
}
`,
  },
  {
    calls: ['erf_'],
    // Below |x| = 0.5 the Maclaurin series to x⁹; above, Abramowitz and Stegun 7.1.26 (|error| ≤ 1.5e-7).
    code: `
fn erf_(x: f32) -> f32 {
  if ((bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u) { return x; }
  let a = abs(x);
  if (a < 0.5f) {
    let z = x * x;
    return x * (1.1283791671f + z * (-0.3761263890f + z * (0.1128379167f + z * (-0.0268661706f + z * 0.0052239776f))));
  }
  let t = 1.0f / (1.0f + 0.3275911f * a);
  let p = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  return sign(x) * (1.0f - p * exp(-a * a));
}
`,
  },
]

/** The kernel's source with the helpers it calls that the prelude does not hold. */
export function withHelpers(rendered: RenderedKernel): RenderedKernel {
  // A helper may call another (log1p_ calls log_): add until nothing more is called.
  let code = rendered.code
  const added = new Set<number>()
  for (let grew = true; grew; ) {
    grew = false
    HELPERS.forEach((h, i) => {
      if (added.has(i) || !h.calls.some((c) => code.includes(`${c}(`))) return
      added.add(i)
      code += h.code
      grew = true
    })
  }
  return added.size === 0 ? rendered : { ...rendered, code }
}

/**
 * WGSL for each unary primitive. Exported as a table so that the law
 * suites can plant a wrong entry and check that they catch it.
 */
export const UNARY_WGSL: Record<UnaryPrimitive, (a: string) => string> = {
  neg: (a) => `(-${a})`,
  exp: (a) => `exp_(${a})`,
  log: (a) => `log_(${a})`,
  log1p: (a) => `log1p_(${a})`,
  expm1: (a) => `expm1_(${a})`,
  tanh: (a) => `tanh_(${a})`,
  logistic: (a) => `logistic_(${a})`,
  sin: (a) => `sin(reduce_angle(${a}))`,
  cos: (a) => `cos(reduce_angle(${a}))`,
  sqrt: (a) => `sqrt(${a})`,
  abs: (a) => `abs(${a})`,
  sign: (a) => `sign(${a})`,
  erf: (a) => `erf_(${a})`,
}

const CMP: Record<string, string> = { lt: '<', le: '<=', gt: '>', ge: '>=', eq: '==', ne: '!=' }
const BIN: Record<string, string> = { add: '+', sub: '-', mul: '*', div: '/', mod: '%' }

/**
 * Renders expressions to WGSL, naming every node used more than once. Loads
 * read `in<slot>`; in an epilogue, a load from ACC_SLOT is the producer's
 * result, `acc` (or what `acc` renders from the load's offset: a matmul's
 * stores read the product at other columns).
 */
export class Emitter {
  readonly lines: string[] = []
  private names = new Map<number, string>()
  constructor(
    private readonly uses: Map<number, number>,
    private readonly slots: readonly Slot[],
    private indent: string,
    private readonly acc: (offset: Expr) => string = () => 'acc',
  ) {}
  expr(e: Expr): string {
    const named = this.names.get(e.id)
    if (named !== undefined) return named
    const code = this.build(e)
    if ((this.uses.get(e.id) ?? 0) > 1 && e.k !== 'lit' && e.k !== 'idx') {
      const name = `v${e.id}`
      this.lines.push(`${this.indent}let ${name} = ${code};`)
      this.names.set(e.id, name)
      return name
    }
    return code
  }
  /** The expression as a name (a `let` binding, unless it is a literal, an index or already named): read more than once. */
  private named(e: Expr): string {
    const code = this.expr(e)
    if (e.k === 'lit' || e.k === 'idx' || this.names.has(e.id)) return code
    const name = `v${e.id}`
    this.lines.push(`${this.indent}let ${name} = ${code};`)
    this.names.set(e.id, name)
    return name
  }
  /** A lazy select as an if/else assigning a variable: only the arm the condition picks is evaluated. */
  private branch(c: Expr, a: Expr, b: Expr, id: number, t: ScalarType): string {
    const name = `b${id}`
    const condition = this.expr(c)
    this.lines.push(`${this.indent}var ${name}: ${wgslType(t)};`)
    this.lines.push(`${this.indent}if (${condition}) {`)
    this.arm(name, a)
    this.lines.push(`${this.indent}} else {`)
    this.arm(name, b)
    this.lines.push(`${this.indent}}`)
    return name
  }
  /**
   * One arm, one level deeper. The names it binds live in its block only: afterwards they are forgotten, so that
   * a value used both in an arm and after the if is computed again where the block's name no longer reaches.
   */
  private arm(name: string, e: Expr): void {
    const [names, indent] = [new Map(this.names), this.indent]
    this.indent = `${indent}  `
    this.lines.push(`${this.indent}${name} = ${this.expr(e)};`)
    this.names = names
    this.indent = indent
  }
  private build(e: Expr): string {
    switch (e.k) {
      case 'idx':
        return e.name
      case 'lit':
        return literal(e.value, e.t)
      case 'load': {
        if (e.slot === ACC_SLOT) return this.acc(e.offset)
        const { type, position, start, binding } = this.slots[e.slot]
        const raw = `${binding}[${sliceStart(position, start, 'i')}${this.expr(e.offset)}]`
        return type === 'bool' ? `(${raw} != 0i)` : raw
      }
      case 'un':
        return UNARY_WGSL[e.op](this.expr(e.a))
      case 'bin': {
        const [a, b] = [this.expr(e.a), this.expr(e.b)]
        if (e.op === 'pow') return `pow_(${a}, ${b})`
        // Integer division by zero is 0, as on the CPU (WGSL returns the dividend).
        if (e.op === 'div' && e.t === 'i32' && e.b.k !== 'lit') return `div_i32_(${a}, ${b})`
        // In f32, NaN propagates as in IEEE 754 and the CPU interpreter (WGSL's max and min may drop it).
        if (e.op === 'max' || e.op === 'min') return e.t === 'f32' ? `${e.op}_(${a}, ${b})` : `${e.op}(${a}, ${b})`
        const zero = e.t === 'f32' ? foldedToZero(e) : undefined
        if (zero !== undefined) return `zero_(${this.expr(zero)})`
        return `(${a} ${BIN[e.op]} ${b})`
      }
      case 'cmp':
        // x ≠ x is the NaN test, which WGSL lets a compiler fold to false: test the bits instead.
        if (e.a === e.b && e.a.t === 'f32' && (e.op === 'ne' || e.op === 'eq'))
          return `${e.op === 'eq' ? '!' : ''}isnan_(${this.expr(e.a)})`
        // A comparison of f32 with NaN is false (≠: true), as in IEEE 754 and the CPU; WGSL may assume no NaN.
        if (e.a.t === 'f32') {
          const [a, b] = [this.named(e.a), this.named(e.b)]
          return e.op === 'ne'
            ? `((${a} != ${b}) || isnan_(${a}) || isnan_(${b}))`
            : `((${a} ${CMP[e.op]} ${b}) && !isnan_(${a}) && !isnan_(${b}))`
        }
        return `(${this.expr(e.a)} ${CMP[e.op]} ${this.expr(e.b)})`
      case 'sel':
        if (e.lazy) return this.branch(e.c, e.a, e.b, e.id, e.t)
        return `select(${this.expr(e.b)}, ${this.expr(e.a)}, ${this.expr(e.c)})`
      case 'cast': {
        const a = this.expr(e.a)
        if (e.t === 'bool') return `(${a} != ${literal(0, e.a.t)})`
        // f32 → i32 saturates and takes NaN to 0, as the CPU does (WGSL leaves NaN open).
        if (e.t === 'i32' && e.a.t === 'f32') return `f32_to_i32_(${a})`
        return `${wgslType(e.t)}(${a})`
      }
      case 'rand':
        return `random_${e.t === 'f32' ? 'f32' : 'bits'}_(${e.args.map((a) => this.expr(a)).join(', ')})`
      default:
        return e satisfies never
    }
  }
}

export function countUses(roots: readonly Expr[]): Map<number, number> {
  const uses = new Map<number, number>()
  const visit = (e: Expr) => {
    const n = (uses.get(e.id) ?? 0) + 1
    uses.set(e.id, n)
    if (n > 1) return
    switch (e.k) {
      case 'load':
        visit(e.offset)
        break
      case 'un':
      case 'cast':
        visit(e.a)
        break
      case 'bin':
      case 'cmp':
        visit(e.a)
        visit(e.b)
        break
      case 'sel':
        visit(e.c)
        visit(e.a)
        visit(e.b)
        break
      case 'rand':
        e.args.forEach(visit)
        break
      default:
        break
    }
  }
  roots.forEach(visit)
  return uses
}
