/**
 * The protobuf wire format, as far as ONNX needs it:
 *
 *   message   := field*                    (any order; a later scalar replaces an earlier one)
 *   field     := tag value
 *   tag       := varint(fieldNumber · 8 + wireType)
 *   wireType  0  varint: 7 bits a byte, low group first, high bit = "more follows"; at most 10 bytes.
 *                int32, int64 and enums are two's complement over 64 bits, so −1 takes 10 bytes.
 *             1  fixed64: 8 bytes little-endian (double)
 *             2  length-delimited: varint(n) then n bytes (string, bytes, message, packed repeated)
 *             5  fixed32: 4 bytes little-endian (float)
 *   packed repeated scalars: one length-delimited field holding the values back to back;
 *   a reader takes a repeated scalar packed or one value per field, whichever it meets.
 *
 * Laws:
 *  - every value `ProtoWriter` writes, `ProtoReader` reads back unchanged
 *    (floats rounded to float32 where the field is a float);
 *  - the reader never reads past the end of the input or of the enclosing
 *    message: each varint, fixed value and length is checked against that end
 *    first, so it neither loops forever nor allocates more than the input holds;
 *  - every error names the message, the field and the byte offset.
 */

const TWO32 = 4294967296
export const utf8Encoder = new TextEncoder()
export const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

// ---------------------------------------------------------------- writing

const varintSize = (n: number): number => {
  let size = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    size++
  }
  return size
}
/** Byte fields longer than this are not copied into the buffer but spliced in by `finish`. */
const SPLICE_LIMIT = 64 * 1024
const float32Bytes = new Uint8Array(4)
const float32View = new DataView(float32Bytes.buffer)

/**
 * One growing buffer. A nested message gets one byte for its length before
 * its content is written; a longer length moves the content up once it is
 * known. Large byte fields (tensor data) stay out of the buffer, as splices
 * that `finish` copies into place once, so moving content stays cheap.
 */
export class ProtoWriter {
  private buf = new Uint8Array(1024)
  private pos = 0
  /** Data to insert before `buf[at]`, in increasing `at`. */
  private readonly splices: { at: number; readonly data: Uint8Array }[] = []
  private splicedBytes = 0

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n))
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
  }
  private append(data: Uint8Array): void {
    if (data.length > SPLICE_LIMIT) {
      this.splices.push({ at: this.pos, data })
      this.splicedBytes += data.length
      return
    }
    this.room(data.length)
    this.buf.set(data, this.pos)
    this.pos += data.length
  }

  /** A varint of the 64-bit value with these 32-bit halves. */
  varint64(lo: number, hi: number): void {
    this.room(10)
    while (hi !== 0 || lo > 0x7f) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80
      lo = ((lo >>> 7) | (hi << 25)) >>> 0
      hi >>>= 7
    }
    this.buf[this.pos++] = lo
  }
  /** A varint of an integer within ±(2^53 − 1); negative ones as their 64-bit two's complement. */
  private varint(v: number): void {
    this.varint64(v >>> 0, Math.floor(v / TWO32) >>> 0)
  }
  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire)
  }

  /** An int64 value; `label` names the field in the error for a number that is not an exact integer. */
  int64Value(v: number, label: string): void {
    if (!Number.isSafeInteger(v))
      throw new Error(`encode: ${label} must be an integer within ±(2^53 − 1) to be exact, got ${v}`)
    this.varint(v)
  }
  int64(field: number, v: number, label: string): void {
    this.tag(field, 0)
    this.int64Value(v, label)
  }
  /** A 64-bit integer given as a bigint (signed or unsigned: the low 64 bits are written). */
  bigintValue(v: bigint): void {
    this.varint64(Number(BigInt.asUintN(32, v)), Number(BigInt.asUintN(32, v >> 32n)))
  }
  /** int32 and enums: a negative value is sign-extended to 64 bits, as the reference writer does. */
  int32Value(v: number, label: string): void {
    if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31)
      throw new Error(`encode: ${label} must be a 32-bit integer, got ${v}`)
    this.varint(v)
  }
  int32(field: number, v: number, label: string): void {
    this.tag(field, 0)
    this.int32Value(v, label)
  }
  float(field: number, v: number): void {
    this.tag(field, 5)
    float32View.setFloat32(0, v, true)
    this.append(float32Bytes)
  }
  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2)
    this.varint(data.length)
    this.append(data)
  }
  string(field: number, s: string): void {
    this.tag(field, 2)
    const n = s.length
    // ASCII, the common case, is its own UTF-8: a loop beats an encoder call per short string.
    if (n < 0x80) {
      this.room(n + 1)
      const at = this.pos + 1
      let k = 0
      while (k < n) {
        const c = s.charCodeAt(k)
        if (c >= 0x80) break
        this.buf[at + k++] = c
      }
      if (k === n) {
        this.buf[this.pos] = n
        this.pos = at + n
        return
      }
    }
    const data = utf8Encoder.encode(s)
    this.varint(data.length)
    this.append(data)
  }
  /** A string field left out when empty or absent (proto2 optional at its default). */
  optionalString(field: number, s: string | undefined): void {
    if (s !== undefined && s !== '') this.string(field, s)
  }
  /** A length-delimited field whose content `write` produces: a nested message or packed varints. */
  message(field: number, write: (w: ProtoWriter) => void): void {
    this.tag(field, 2)
    this.room(1)
    const start = ++this.pos
    const firstSplice = this.splices.length
    const splicedBefore = this.splicedBytes
    write(this)
    const n = this.pos - start + this.splicedBytes - splicedBefore
    const extra = varintSize(n) - 1
    if (extra > 0) {
      this.room(extra)
      this.buf.copyWithin(start + extra, start, this.pos)
      for (let k = firstSplice; k < this.splices.length; k++) this.splices[k].at += extra
    }
    const end = this.pos + extra
    this.pos = start - 1
    this.varint(n)
    this.pos = end
  }
  /** A packed field of `count` fixed-width values, `put` writing value k into a little-endian view. */
  packed(field: number, count: number, size: number, put: (v: DataView, k: number) => void): void {
    this.tag(field, 2)
    this.varint(count * size)
    this.room(count * size)
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, count * size)
    for (let k = 0; k < count; k++) put(view, k)
    this.pos += count * size
  }
  /** The bytes written, in a fresh array of their length. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.pos + this.splicedBytes)
    let from = 0
    let to = 0
    for (const { at, data } of this.splices) {
      out.set(this.buf.subarray(from, at), to)
      to += at - from
      out.set(data, to)
      to += data.length
      from = at
    }
    out.set(this.buf.subarray(from, this.pos), to)
    return out
  }
}

// ---------------------------------------------------------------- reading

const wireNames = ['varint', 'fixed64', 'length-delimited', 'group start', 'group end', 'fixed32', 'invalid', 'invalid']
/** Messages nested deeper than this are refused (the reference parser's limit), before the stack runs out. */
export const MAX_DEPTH = 100

export interface Field {
  /** The message being read, for errors: `TensorProto`. */
  readonly message: string
  readonly number: number
  readonly wire: number
  /** The byte offset of the field's tag. */
  readonly at: number
}

/** Names a field's tag, or a field the reader does not know, in errors. */
const TAG = '(tag)'
const UNKNOWN = '(unknown)'

/**
 * Reads one input from the start. Field readers take the field (from `fields`)
 * and its name in the schema, check the wire type, and stay within the end of
 * the message being read (`end`, set by `message`). Error texts are built only
 * when an error is thrown.
 */
export class ProtoReader {
  pos = 0
  /** Where the message being read ends. */
  end: number
  private depth = 0
  private lo = 0
  private hi = 0
  private readonly view: DataView

  constructor(
    readonly input: Uint8Array,
    /** The caller's name, first in every error: `decodeModel`. */
    readonly entry: string,
  ) {
    this.view = new DataView(input.buffer, input.byteOffset, input.byteLength)
    this.end = input.length
  }

  fail(where: string, at: number, what: string): never {
    throw new Error(`${this.entry}: ${where} at byte ${at}: ${what}`)
  }
  private failAt(f: Field, name: string, at: number, what: string): never {
    const where =
      name === TAG
        ? `${f.message} field tag`
        : name === UNKNOWN
          ? `${f.message} unknown field ${f.number}`
          : `${f.message}.${name} (field ${f.number})`
    return this.fail(where, at, what)
  }
  private endName(end: number): string {
    return `${end === this.input.length ? 'the input' : 'the enclosing message'} at byte ${end}`
  }

  /** Reads a varint into (lo, hi), never past `end`. */
  private varintParts(f: Field, name: string, end: number): void {
    const start = this.pos
    let lo = 0
    let hi = 0
    for (let k = 0; k < 10; k++) {
      if (this.pos >= end) this.failAt(f, name, start, `the varint is cut off by the end of ${this.endName(end)}`)
      const b = this.input[this.pos++]
      if (k < 4) lo |= (b & 0x7f) << (7 * k)
      else if (k === 4) {
        lo |= (b & 0x0f) << 28
        hi = (b & 0x7f) >>> 4
      } else hi |= (b & 0x7f) << (7 * k - 32)
      if (b < 0x80) {
        this.lo = lo >>> 0
        this.hi = hi >>> 0
        return
      }
    }
    this.failAt(f, name, start, 'the varint runs past 10 bytes')
  }
  private advance(f: Field, name: string, n: number): void {
    if (n > this.end - this.pos)
      this.failAt(
        f,
        name,
        this.pos,
        `${n} bytes run past the end of ${this.endName(this.end)} (${this.end - this.pos} left)`,
      )
    this.pos += n
  }
  /** A length prefix, checked against what is left. */
  private length(f: Field, name: string): number {
    const at = this.pos
    this.varintParts(f, name, this.end)
    const n = this.hi * TWO32 + this.lo
    if (n > this.end - this.pos)
      this.failAt(
        f,
        name,
        at,
        `the length ${n} runs past the end of ${this.endName(this.end)} (${this.end - this.pos} left)`,
      )
    return n
  }
  private expect(f: Field, name: string, wire: number, packed = false): void {
    if (f.wire === wire || (packed && f.wire === 2)) return
    const wires = packed ? [wire, 2] : [wire]
    this.failAt(
      f,
      name,
      f.at,
      `expected wire type ${wires.map((w) => `${w} (${wireNames[w]})`).join(' or ')}, got ${f.wire} (${wireNames[f.wire]})`,
    )
  }

  /**
   * The fields of the message up to `end`, one `read` call each; `read`
   * handles a field or calls `skip`. The field object is reused from one
   * field to the next.
   */
  fields(message: string, read: (f: Field) => void): void {
    const end = this.end
    const f = { message, number: 0, wire: 0, at: 0 }
    while (this.pos < end) {
      f.at = this.pos
      this.varintParts(f, TAG, end)
      if (this.hi !== 0 || this.lo < 8)
        this.failAt(f, TAG, f.at, `invalid tag ${this.hi * TWO32 + this.lo} (field number 0 or above 2^29)`)
      f.wire = this.lo & 7
      f.number = this.lo >>> 3
      if (f.wire === 3 || f.wire === 4 || f.wire > 5)
        this.fail(
          `${message} field ${f.number}`,
          f.at,
          `wire type ${f.wire} (${wireNames[f.wire]}) is not used by ONNX`,
        )
      read(f)
    }
  }
  /** Skips a field this reader does not know, by its wire type. */
  skip(f: Field): void {
    if (f.wire === 0) this.varintParts(f, UNKNOWN, this.end)
    else if (f.wire === 1) this.advance(f, UNKNOWN, 8)
    else if (f.wire === 5) this.advance(f, UNKNOWN, 4)
    else this.advance(f, UNKNOWN, this.length(f, UNKNOWN))
  }

  /** A nested message: `read` runs with `end` at the message's end, and must consume it all. */
  message<T>(f: Field, name: string, read: () => T): T {
    this.expect(f, name, 2)
    const n = this.length(f, name)
    if (this.depth >= MAX_DEPTH) this.failAt(f, name, f.at, `messages nest more than ${MAX_DEPTH} deep`)
    const outer = this.end
    this.end = this.pos + n
    this.depth++
    const value = read()
    this.depth--
    this.end = outer
    return value
  }
  /** The bytes of a length-delimited field, copied. */
  bytes(f: Field, name: string): Uint8Array {
    this.expect(f, name, 2)
    const n = this.length(f, name)
    this.pos += n
    return this.input.slice(this.pos - n, this.pos)
  }
  string(f: Field, name: string): string {
    this.expect(f, name, 2)
    const n = this.length(f, name)
    const at = this.pos
    this.pos += n
    try {
      return utf8Decoder.decode(this.input.subarray(at, at + n))
    } catch {
      return this.failAt(f, name, at, 'the string is not valid UTF-8')
    }
  }
  private int64Value(f: Field, name: string, end: number): number {
    const at = this.pos
    this.varintParts(f, name, end)
    const v = (this.hi | 0) * TWO32 + this.lo
    if (!Number.isSafeInteger(v)) {
      const exact = BigInt.asIntN(64, (BigInt(this.hi) << 32n) | BigInt(this.lo))
      this.failAt(f, name, at, `the int64 ${exact} is beyond ±(2^53 − 1), which a number cannot hold exactly`)
    }
    return v
  }
  /** An int64 as a number; a value a number cannot hold exactly is an error. */
  int64(f: Field, name: string): number {
    this.expect(f, name, 0)
    return this.int64Value(f, name, this.end)
  }
  /** An int32 or enum: the low 32 bits of the varint, signed. */
  int32(f: Field, name: string): number {
    this.expect(f, name, 0)
    this.varintParts(f, name, this.end)
    return this.lo | 0
  }
  float(f: Field, name: string): number {
    this.expect(f, name, 5)
    this.advance(f, name, 4)
    return this.view.getFloat32(this.pos - 4, true)
  }

  /** Where the packed run of a repeated scalar field ends (it may be empty); −1 for a single unpacked value. */
  private repeatedEnd(f: Field, name: string, wire: number): number {
    this.expect(f, name, wire, true)
    if (f.wire !== 2) return -1
    const n = this.length(f, name)
    return this.pos + n
  }
  /** A repeated int64 field, packed or not, appended to `out` as numbers. */
  int64s(f: Field, name: string, out: number[]): void {
    const stop = this.repeatedEnd(f, name, 0)
    if (stop < 0) out.push(this.int64Value(f, name, this.end))
    else while (this.pos < stop) out.push(this.int64Value(f, name, stop))
  }
  /** A repeated int32 field, packed or not. */
  int32s(f: Field, name: string, out: number[]): void {
    const stop = this.repeatedEnd(f, name, 0)
    const one = (end: number) => {
      this.varintParts(f, name, end)
      out.push(this.lo | 0)
    }
    if (stop < 0) one(this.end)
    else while (this.pos < stop) one(stop)
  }
  /** A repeated 64-bit field (int64 when `signed`, else uint64) as bigints, packed or not. */
  bigints(f: Field, name: string, out: bigint[], signed: boolean): void {
    const stop = this.repeatedEnd(f, name, 0)
    const one = (end: number) => {
      this.varintParts(f, name, end)
      const v = (BigInt(this.hi) << 32n) | BigInt(this.lo)
      out.push(signed ? BigInt.asIntN(64, v) : v)
    }
    if (stop < 0) one(this.end)
    else while (this.pos < stop) one(stop)
  }
  /** A repeated float (size 4, wire 5) or double (size 8, wire 1) field, packed or not. */
  fixed(f: Field, name: string, out: number[], size: 4 | 8): void {
    this.expect(f, name, size === 4 ? 5 : 1, true)
    let n: number = size
    if (f.wire === 2) {
      const at = this.pos
      n = this.length(f, name)
      if (n % size !== 0) this.failAt(f, name, at, `a packed run of ${size}-byte values is ${n} bytes long`)
    }
    this.advance(f, name, n)
    for (let at = this.pos - n; at < this.pos; at += size)
      out.push(size === 4 ? this.view.getFloat32(at, true) : this.view.getFloat64(at, true))
  }
}
