/**
 * Signed scan records: the canonical bytes a scan's origin signs with its node key (Ed25519), and the checks
 * a verifier makes with nothing but the origin's PeerId string (an Ed25519 PeerId embeds its public key).
 *
 * docs/format.md ("Signed scan records") is the spec; test/scan-signature.test.ts pins a golden vector.
 * In short, the signed message is
 *
 *   "ferry-scan-record/v1\n" · record fields · u64 entry count · sha-256 over every entry's encoding, in path
 *   order (UTF-8 byte order, strictly increasing)
 *
 * The entries are hashed one at a time (`EntriesDigest`), so a scan of 10^6 entries is never in memory.
 */
import { createHash, type Hash } from 'node:crypto'
import { FerryError } from '@ferry/errors'
import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'

/** Version of the canonical encoding; stored and sent with every signature. */
export const SCAN_SIGNATURE_FORMAT = 1

/** Domain-separation prefix of format 1: a signature over a scan record can never be taken for another message. */
export const SCAN_SIGNATURE_DOMAIN = 'ferry-scan-record/v1\n'

/** Largest signature accepted (an Ed25519 signature is 64 bytes). */
export const MAX_SIGNATURE_BYTES = 512

/** A signature over a scan record, as stored and sent. */
export interface ScanSignature {
  /** SCAN_SIGNATURE_FORMAT of the encoding that was signed. */
  format: number
  /** ms since the epoch when the origin signed (part of the signed bytes). */
  signedAt: number
  /** The origin's signature. */
  bytes: Uint8Array
}

/** The record fields covered by a signature (the skipped entries' messages are not: they are prose). */
export interface SignedRecordFields {
  root: CID
  collection: string | null
  name: string
  /** PeerId string of the signer. */
  origin: string
  files: number
  directories: number
  symlinks: number
  bytes: number
  /** ms since the epoch. */
  created: number
  skipped: ReadonlyArray<{ path: string, code: string }>
  signedAt: number
}

/** The per-entry fields covered by a signature. */
export interface SignedEntry {
  path: string
  type: 'file' | 'directory' | 'symlink'
  size: number
  mode: number
  mtimeMs: number
  /** The entry's CID, or its binary form (as stored in catalog.db: no need to decode it). */
  cid: CID | Uint8Array
  target?: string
}

/** Binary CIDv1 of `cid` (a CIDv0 is converted). */
function cidV1Bytes (cid: CID | Uint8Array): Uint8Array {
  if (cid instanceof Uint8Array) return cid[0] === 1 ? cid : CID.decode(cid).toV1().bytes
  const c = CID.asCID(cid)
  if (c === null) throw new FerryError('ERR_INVALID_CID', 'A signed entry needs a CID')
  return c.toV1().bytes
}

/**
 * Checks that `id` is a PeerId whose public key can verify scan signatures (Ed25519): ERR_INVALID_ARGUMENT
 * otherwise. Returns it in its canonical spelling.
 */
export function parseSigner (id: string): string {
  let peer
  try {
    peer = peerIdFromString(id.trim())
  } catch (err) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `'${id}' is not a PeerId (expected something like 12D3KooW...; \`ferry id\` prints a node's)`, { cause: err })
  }
  if (peer.type !== 'Ed25519') throw new FerryError('ERR_INVALID_ARGUMENT', `${id} is a ${peer.type} PeerId: only Ed25519 node keys sign scans`)
  return peer.toString()
}

/** Outcome of `verifyScanSignature`. */
export type SignatureCheck = { ok: true } | { ok: false, reason: string }

const ENTRY_TYPES = { file: 0, directory: 1, symlink: 2 } as const
const utf8 = new TextEncoder()

/** Appends fixed-width big-endian integers and length-prefixed byte strings. */
class Canonical {
  private readonly parts: Uint8Array[] = []

  raw (b: Uint8Array): this {
    this.parts.push(b)
    return this
  }

  u8 (n: number): this {
    return this.raw(Uint8Array.of(n))
  }

  u32 (n: number, what: string): this {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new FerryError('ERR_INVALID_ARGUMENT', `${what} ${n} is not a 32-bit unsigned integer`)
    const b = Buffer.alloc(4)
    b.writeUInt32BE(n)
    return this.raw(b)
  }

  u64 (n: number, what: string): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new FerryError('ERR_INVALID_ARGUMENT', `${what} ${n} is not a non-negative safe integer`)
    const b = Buffer.alloc(8)
    b.writeBigUInt64BE(BigInt(n))
    return this.raw(b)
  }

  f64 (n: number, what: string): this {
    if (!Number.isFinite(n)) throw new FerryError('ERR_INVALID_ARGUMENT', `${what} ${n} is not a finite number`)
    const b = Buffer.alloc(8)
    b.writeDoubleBE(n === 0 ? 0 : n) // -0 is written as +0
    return this.raw(b)
  }

  bytes (b: Uint8Array, what: string): this {
    this.u32(b.byteLength, `${what} length`)
    return this.raw(b)
  }

  string (s: string): this {
    return this.bytes(utf8.encode(s), 'string')
  }

  finish (): Uint8Array {
    return Buffer.concat(this.parts)
  }
}

/** Canonical bytes of one entry (format 1). */
export function encodeSignedEntry (e: SignedEntry): Uint8Array {
  const type = ENTRY_TYPES[e.type]
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- e.type comes from a peer's record, whatever its declared type
  if (type === undefined) throw new FerryError('ERR_INVALID_ARGUMENT', `Entry "${e.path}" has unknown type "${String(e.type)}"`)
  const w = new Canonical().string(e.path).u8(type).u64(e.size, 'size').u32(e.mode, 'mode').f64(e.mtimeMs, 'mtime')
    .bytes(cidV1Bytes(e.cid), 'cid')
  if (e.type === 'symlink') w.string(e.target ?? '')
  return w.finish()
}

/**
 * sha-256 over a scan's entries, fed one at a time in path order. Refuses an entry whose path is not
 * strictly after the previous one in UTF-8 byte order (so one list has one digest, and duplicates fail).
 */
export class EntriesDigest {
  private readonly hash: Hash = createHash('sha256')
  private last: Buffer | undefined
  /** Entries added so far. */
  count = 0

  add (e: SignedEntry): void {
    const path = Buffer.from(e.path, 'utf8')
    if (this.last !== undefined && Buffer.compare(this.last, path) >= 0) {
      throw new FerryError('ERR_BAD_SIGNATURE', `Scan entries are not in strictly increasing path order at "${e.path}"`, { details: { path: e.path } })
    }
    this.last = path
    this.hash.update(encodeSignedEntry(e))
    this.count++
  }

  /** The digest; call once, after the last entry. */
  digest (): Uint8Array {
    return new Uint8Array(this.hash.digest())
  }
}

/** The exact message an origin signs (format 1): domain prefix, record fields, entry count and digest. */
export function scanSigningBytes (r: SignedRecordFields, entries: { count: number, digest: Uint8Array }): Uint8Array {
  if (entries.digest.byteLength !== 32) throw new FerryError('ERR_INTERNAL', 'The entries digest must be 32 bytes (sha-256)')
  const root = CID.asCID(r.root)
  if (root === null) throw new FerryError('ERR_INVALID_CID', 'A signed scan record needs a root CID')
  const w = new Canonical().raw(utf8.encode(SCAN_SIGNATURE_DOMAIN)).bytes(root.toV1().bytes, 'root')
  if (r.collection === null) w.u8(0)
  else w.u8(1).string(r.collection)
  w.string(r.name).string(r.origin)
    .u64(r.files, 'files').u64(r.directories, 'directories').u64(r.symlinks, 'symlinks').u64(r.bytes, 'bytes')
    .u64(r.created, 'created').u64(r.signedAt, 'signedAt')
    .u32(r.skipped.length, 'skipped count')
  for (const s of r.skipped) w.string(s.path).string(s.code)
  return w.u64(entries.count, 'entry count').raw(entries.digest).finish()
}

/** Hashes `entries` (path order) for `scanSigningBytes`. */
export async function digestEntries (entries: Iterable<SignedEntry> | AsyncIterable<SignedEntry>): Promise<{ count: number, digest: Uint8Array }> {
  const d = new EntriesDigest()
  for await (const e of entries) d.add(e)
  return { count: d.count, digest: d.digest() }
}

/** Something that signs like a libp2p PrivateKey. */
export interface Signer {
  sign: (data: Uint8Array) => Uint8Array | Promise<Uint8Array>
}

/** Signs a record whose entries were digested with `EntriesDigest`/`digestEntries`. */
export async function signScanRecord (key: Signer, r: SignedRecordFields, entries: { count: number, digest: Uint8Array }): Promise<ScanSignature> {
  const bytes = await key.sign(scanSigningBytes(r, entries))
  return { format: SCAN_SIGNATURE_FORMAT, signedAt: r.signedAt, bytes: new Uint8Array(bytes) }
}

/**
 * Checks `signature` over the record and digested entries against the public key inside `signer` (a PeerId
 * string; default: the record's own origin). Never throws for a bad or foreign signature: says why instead.
 */
export async function verifyScanSignature (
  r: Omit<SignedRecordFields, 'signedAt'>, entries: { count: number, digest: Uint8Array }, signature: ScanSignature | undefined, signer: string = r.origin
): Promise<SignatureCheck> {
  if (signature === undefined) return { ok: false, reason: 'the record is not signed' }
  if (signature.format !== SCAN_SIGNATURE_FORMAT) return { ok: false, reason: `signature format ${signature.format} is not known to this Ferry (it knows ${SCAN_SIGNATURE_FORMAT})` }
  if (signer !== r.origin) return { ok: false, reason: `the record names ${r.origin} as its origin, not ${signer}` }
  let key
  try {
    key = peerIdFromString(signer).publicKey
  } catch (err) {
    return { ok: false, reason: `origin "${signer}" is not a PeerId (${(err as Error).message})` }
  }
  if (key === undefined) return { ok: false, reason: `origin ${signer} does not embed its public key (only Ed25519 node keys can sign scans)` }
  let message: Uint8Array
  try {
    message = scanSigningBytes({ ...r, signedAt: signature.signedAt }, entries)
  } catch (err) {
    return { ok: false, reason: `the record cannot be encoded (${(err as Error).message})` }
  }
  let valid = false
  try {
    valid = await key.verify(message, signature.bytes)
  } catch {
    valid = false
  }
  return valid ? { ok: true } : { ok: false, reason: `the signature does not match the record and entries: they were changed after ${signer} signed them, or it did not sign them` }
}
