/**
 * Primitive field codecs shared by both protocols: unsigned varints, length-prefixed UTF-8 strings and CIDs,
 * one-byte enums and big-endian float64. Every read is bounds-checked and every decode failure is a
 * FerryError ERR_PROTOCOL whose `details.problem` says what kind ('too-large', 'truncated', 'malformed').
 */
import { FerryError } from '@ferry/errors'
import { CID } from 'multiformats/cid'

/** Why a frame was rejected; carried in `FerryError.details.problem`. */
export type FrameProblem = 'too-large' | 'truncated' | 'malformed' | 'unexpected'

/** A FerryError ERR_PROTOCOL for a bad inbound frame. */
export function protocolError (problem: FrameProblem, message: string, cause?: unknown): FerryError {
  return new FerryError('ERR_PROTOCOL', message, { cause, details: { problem } })
}

const MAX_VARINT_BYTES = 8
/** The only multihash and codecs a CID on the wire may have (as in @ferry/dag's format). */
const SHA2_256_CODE = 0x12
const RAW_CODE = 0x55
const DAG_PB_CODE = 0x70
const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

/** Bytes a varint of `n` takes. */
export function varintLength (n: number): number {
  let len = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    len++
  }
  return len
}

/** Appends fields to a growing buffer. */
export class ByteWriter {
  private buf: Uint8Array
  private view: DataView
  length = 0

  constructor (initial = 64) {
    this.buf = new Uint8Array(initial)
    this.view = new DataView(this.buf.buffer)
  }

  private ensure (extra: number): void {
    if (this.length + extra <= this.buf.byteLength) return
    let size = this.buf.byteLength * 2
    while (size < this.length + extra) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8 (n: number): this {
    this.ensure(1)
    this.buf[this.length++] = n & 0xff
    return this
  }

  /** Unsigned LEB128, minimal, for integers 0 .. 2^53-1. */
  varint (n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new FerryError('ERR_INTERNAL', `Cannot encode ${n} as a varint`)
    this.ensure(MAX_VARINT_BYTES)
    while (n >= 0x80) {
      this.buf[this.length++] = (n % 128) | 0x80
      n = Math.floor(n / 128)
    }
    this.buf[this.length++] = n
    return this
  }

  f64 (n: number): this {
    this.ensure(8)
    this.view.setFloat64(this.length, n, false)
    this.length += 8
    return this
  }

  bytes (b: Uint8Array): this {
    this.ensure(b.byteLength)
    this.buf.set(b, this.length)
    this.length += b.byteLength
    return this
  }

  /** varint byte length, then the bytes. */
  lengthPrefixed (b: Uint8Array): this {
    return this.varint(b.byteLength).bytes(b)
  }

  /** varint byte length, then UTF-8; throws if longer than `max` bytes (an encoder bug, not a peer's). */
  string (s: string, max: number): this {
    const b = utf8.encode(s)
    if (b.byteLength > max) throw new FerryError('ERR_INTERNAL', `String of ${b.byteLength} bytes exceeds the wire limit of ${max}`)
    return this.lengthPrefixed(b)
  }

  cid (cid: CID): this {
    return this.lengthPrefixed(cid.bytes)
  }

  /** The bytes written so far (a view, not a copy). */
  finish (): Uint8Array {
    return this.buf.subarray(0, this.length)
  }
}

/** Reads fields from one frame payload; every method throws ERR_PROTOCOL on bad input. */
export class ByteReader {
  offset = 0
  private readonly view: DataView

  constructor (readonly buf: Uint8Array, readonly what: string) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  get remaining (): number {
    return this.buf.byteLength - this.offset
  }

  private need (n: number, field: string): void {
    if (this.remaining < n) throw protocolError('truncated', `${this.what} frame ends inside its ${field}`)
  }

  u8 (field: string): number {
    this.need(1, field)
    return this.buf[this.offset++] as number
  }

  varint (field: string, max = Number.MAX_SAFE_INTEGER): number {
    let value = 0
    let scale = 1
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      this.need(1, field)
      const byte = this.buf[this.offset++] as number
      value += (byte & 0x7f) * scale
      if ((byte & 0x80) === 0) {
        if (byte === 0 && i > 0) throw protocolError('malformed', `${this.what} frame has a non-minimal varint in its ${field}`)
        if (value > max) throw protocolError('malformed', `${this.what} frame has ${field} ${value}, above the limit of ${max}`)
        return value
      }
      scale *= 128
    }
    throw protocolError('malformed', `${this.what} frame has an overlong varint in its ${field}`)
  }

  f64 (field: string): number {
    this.need(8, field)
    const n = this.view.getFloat64(this.offset, false)
    this.offset += 8
    if (!Number.isFinite(n)) throw protocolError('malformed', `${this.what} frame has a non-finite ${field}`)
    return n
  }

  /** `n` bytes as a view into the frame. */
  bytes (n: number, field: string): Uint8Array {
    this.need(n, field)
    const b = this.buf.subarray(this.offset, this.offset + n)
    this.offset += n
    return b
  }

  string (field: string, max: number): string {
    const len = this.varint(`${field} length`)
    if (len > max) throw protocolError('malformed', `${this.what} frame has a ${field} of ${len} bytes, above the limit of ${max}`)
    const b = this.bytes(len, field)
    try {
      return utf8Strict.decode(b)
    } catch (err) {
      throw protocolError('malformed', `${this.what} frame has a ${field} that is not valid UTF-8`, err)
    }
  }

  cid (field: string, maxBytes: number): CID {
    const len = this.varint(`${field} length`)
    if (len === 0 || len > maxBytes) throw protocolError('malformed', `${this.what} frame has a ${field} of ${len} bytes (1 to ${maxBytes} allowed)`)
    const b = this.bytes(len, field)
    let cid: CID
    try {
      cid = CID.decode(b)
    } catch (err) {
      throw protocolError('malformed', `${this.what} frame has a ${field} that is not a CID`, err)
    }
    if (cid.version !== 1) throw protocolError('malformed', `${this.what} frame has a CIDv0 ${field}: only CIDv1 is used on the wire`)
    // identity CIDs would smuggle data in unverified, weaker hashes would let a peer choose collisions
    if (cid.multihash.code !== SHA2_256_CODE || cid.multihash.digest.byteLength !== 32) {
      throw protocolError('malformed', `${this.what} frame has a ${field} hashed with multihash 0x${cid.multihash.code.toString(16)}: only sha2-256 is accepted`)
    }
    if (cid.code !== RAW_CODE && cid.code !== DAG_PB_CODE) {
      throw protocolError('malformed', `${this.what} frame has a ${field} of codec 0x${cid.code.toString(16)}: only raw and dag-pb are used`)
    }
    return cid
  }

  /** Throws unless every byte was consumed. */
  end (): void {
    if (this.remaining !== 0) throw protocolError('malformed', `${this.what} frame has ${this.remaining} unexpected trailing bytes`)
  }
}

/** `s` cut to at most `max` UTF-8 bytes, on a character boundary. Senders use it for free-form messages. */
export function truncateUtf8 (s: string, max: number): string {
  const b = utf8.encode(s)
  if (b.byteLength <= max) return s
  let end = max
  while (end > 0 && ((b[end] as number) & 0xc0) === 0x80) end--
  return new TextDecoder().decode(b.subarray(0, end))
}
