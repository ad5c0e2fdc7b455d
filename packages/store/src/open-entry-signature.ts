/**
 * Signed open-scan entries: the canonical bytes an origin signs for every file it publishes into an open scan
 * (a scan still being acquired), and the open scan's identifier. docs/format.md ("Signed open-scan entries")
 * is the spec; test/open-entry-signature.test.ts pins a golden vector.
 *
 *   "ferry-open-entry/v1\n" · open scan identity (origin, collection, name, created) · u64 seq · str path ·
 *   u64 size · u32 mode · f64 mtime · cid · u64 published
 *
 * Each entry is signed on its own, so a relay can pass entries on one at a time but cannot alter one, and
 * the sequence number (0, 1, 2, ... without gaps) makes a dropped or reordered entry visible.
 */
import { createHash } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { create as digestCreate } from 'multiformats/hashes/digest'
import { FerryError } from '@ferry/errors'
import { Canonical, type SignatureCheck, type Signer } from './scan-signature.js'

/** Version of the open-entry encoding; stored and sent with every entry signature. */
export const OPEN_ENTRY_SIGNATURE_FORMAT = 1

/** Domain-separation prefix of an open-scan entry signature. */
export const OPEN_ENTRY_DOMAIN = 'ferry-open-entry/v1\n'

/** Domain-separation prefix of a seal statement. */
export const OPEN_SEAL_DOMAIN = 'ferry-open-seal/v1\n'

/** Domain-separation prefix of the bytes an open scan's identifier hashes. */
export const OPEN_SCAN_ID_DOMAIN = 'ferry-open-scan/v1\n'

/** What names one open scan, everywhere: its origin, collection, name and creation time. */
export interface OpenScanIdentity {
  /** PeerId string of the origin (the signer). */
  origin: string
  collection: string | null
  name: string
  /** ms since the epoch when the open scan was started. */
  created: number
}

/** One published file of an open scan, as signed. */
export interface OpenEntryFields {
  /** 0 for the first file published, then one more for each, without gaps. */
  seq: number
  path: string
  size: number
  mode: number
  mtimeMs: number
  cid: CID | Uint8Array
  /** ms since the epoch when the origin published it. */
  published: number
}

const utf8 = new TextEncoder()

function cidBytes (cid: CID | Uint8Array): Uint8Array {
  if (cid instanceof Uint8Array) return cid
  const c = CID.asCID(cid)
  if (c === null) throw new FerryError('ERR_INVALID_CID', 'An open-scan entry needs a CID')
  return c.toV1().bytes
}

function identity (w: Canonical, id: OpenScanIdentity): Canonical {
  w.string(id.origin)
  if (id.collection === null) w.u8(0)
  else w.u8(1).string(id.collection)
  return w.string(id.name).u64(id.created, 'created')
}

/**
 * The open scan's identifier: CIDv1, raw codec, sha2-256 of `OPEN_SCAN_ID_DOMAIN` · identity. Anyone can
 * recompute it from the four fields; it stands for the open scan where a root would (catalog rows).
 */
export function openScanId (id: OpenScanIdentity): CID {
  const bytes = identity(new Canonical().raw(utf8.encode(OPEN_SCAN_ID_DOMAIN)), id).finish()
  return CID.createV1(0x55, digestCreate(0x12, createHash('sha256').update(bytes).digest()))
}

/** The exact message an origin signs for one published file (format 1). */
export function openEntrySigningBytes (id: OpenScanIdentity, e: OpenEntryFields): Uint8Array {
  return identity(new Canonical().raw(utf8.encode(OPEN_ENTRY_DOMAIN)), id)
    .u64(e.seq, 'seq').string(e.path).u64(e.size, 'size').u32(e.mode, 'mode').f64(e.mtimeMs, 'mtime')
    .bytes(cidBytes(e.cid), 'cid').u64(e.published, 'published').finish()
}

/** Signs one published file with the origin's node key. */
export async function signOpenEntry (key: Signer, id: OpenScanIdentity, e: OpenEntryFields): Promise<Uint8Array> {
  return new Uint8Array(await key.sign(openEntrySigningBytes(id, e)))
}

/**
 * Checks an entry's signature against the public key in `id.origin`, and (with `expectedSeq`) that it is the
 * next one: never throws for a bad entry, says why instead.
 */
export async function verifyOpenEntry (id: OpenScanIdentity, e: OpenEntryFields, signature: Uint8Array, expectedSeq?: number): Promise<SignatureCheck> {
  if (expectedSeq !== undefined && e.seq !== expectedSeq) {
    return { ok: false, reason: `entry ${e.seq} arrived where entry ${expectedSeq} was due: entries were dropped or reordered` }
  }
  let key
  try {
    key = peerIdFromString(id.origin).publicKey
  } catch (err) {
    return { ok: false, reason: `origin "${id.origin}" is not a PeerId (${(err as Error).message})` }
  }
  if (key === undefined) return { ok: false, reason: `origin ${id.origin} does not embed its public key` }
  let valid = false
  try {
    valid = await key.verify(openEntrySigningBytes(id, e), signature)
  } catch {
    valid = false
  }
  return valid ? { ok: true } : { ok: false, reason: `the signature does not match entry ${e.seq} ("${e.path}"): it was changed after ${id.origin} signed it, or it did not sign it` }
}

/** What the origin signs when it seals an open scan: how many entries it published, and the root it sealed into. */
export interface OpenSealFields {
  /** Entries published (the seq after the last one). */
  entries: number
  root: CID
  /** ms since the epoch when it sealed. */
  sealedAt: number
}

/** The exact message an origin signs when it seals (format 1): domain, identity, entry count, root, time. */
export function openSealSigningBytes (id: OpenScanIdentity, s: OpenSealFields): Uint8Array {
  return identity(new Canonical().raw(utf8.encode(OPEN_SEAL_DOMAIN)), id)
    .u64(s.entries, 'entries').bytes(cidBytes(s.root), 'root').u64(s.sealedAt, 'sealedAt').finish()
}

/** Signs a seal statement with the origin's node key. */
export async function signOpenSeal (key: Signer, id: OpenScanIdentity, s: OpenSealFields): Promise<Uint8Array> {
  return new Uint8Array(await key.sign(openSealSigningBytes(id, s)))
}

/** Checks a seal statement against the public key in `id.origin`; says why not instead of throwing. */
export async function verifyOpenSeal (id: OpenScanIdentity, s: OpenSealFields, signature: Uint8Array): Promise<SignatureCheck> {
  let valid = false
  try {
    const key = peerIdFromString(id.origin).publicKey
    valid = key !== undefined && await key.verify(openSealSigningBytes(id, s), signature)
  } catch {
    valid = false
  }
  return valid ? { ok: true } : { ok: false, reason: `the seal statement (${s.entries} entries, root ${s.root.toString()}) was not signed by ${id.origin}` }
}
