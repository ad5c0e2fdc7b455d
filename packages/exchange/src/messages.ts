/**
 * The messages of /ferry/blocks/1.0.0 and /ferry/scan/2.0.0 and their byte layout (docs/protocol.md is the
 * spec; test/golden.test.ts pins the bytes; /ferry/catalog and /ferry/announce are in catalog-messages.ts). A frame payload starts with a one-byte message type. Decoders
 * are per direction, so a message the other end must never send is rejected before dispatch.
 */
import { Uint8ArrayList } from 'uint8arraylist'
import { ByteReader, ByteWriter, protocolError, truncateUtf8, varintLength } from './codec.js'
import {
  MAX_BLOCK_BYTES, MAX_BLOCKS_FRAME_BYTES, MAX_CID_BYTES, MAX_CIDS_PER_REQUEST, MAX_MESSAGE_BYTES, MAX_SCAN_CREDIT,
  MAX_SCAN_FRAME_BYTES, MAX_SIGNATURE_BYTES, MAX_STRING_BYTES, SCAN_BATCH_BYTES
} from './constants.js'
import type { CID } from 'multiformats/cid'

/** Message type bytes (first byte of every frame payload). */
export const MessageType = {
  REQUEST: 0x01,
  BLOCK: 0x02,
  STATUS: 0x03,
  SCAN_REQUEST: 0x10,
  SCAN_MORE: 0x11,
  SCAN_RECORD: 0x12,
  SCAN_SKIPPED: 0x13,
  SCAN_ENTRIES: 0x14,
  SCAN_END: 0x15,
  CATALOG_REQUEST: 0x20,
  CATALOG_PAGE: 0x21,
  ANNOUNCE_SUBSCRIBE: 0x30,
  ANNOUNCE_ACCEPTED: 0x31,
  ANNOUNCE_SCAN: 0x32,
  ANNOUNCE_KEEPALIVE: 0x33,
  ERROR: 0x7f
} as const

/** Per-CID (or per-root) answers other than the data itself. */
export type BlockStatus = 'not-found' | 'changed' | 'denied'
const STATUS_CODES: Record<BlockStatus, number> = { 'not-found': 1, changed: 2, denied: 3 }
const STATUS_BY_CODE = new Map(Object.entries(STATUS_CODES).map(([k, v]) => [v, k as BlockStatus]))

/** Why a stream was ended. Unknown codes from a newer peer decode as 'internal'. */
export type WireErrorCode = 'protocol' | 'denied' | 'limit' | 'timeout' | 'internal' | 'unavailable'
const ERROR_CODES: Record<WireErrorCode, number> = { protocol: 1, denied: 2, limit: 3, timeout: 4, internal: 5, unavailable: 6 }
const ERROR_BY_CODE = new Map(Object.entries(ERROR_CODES).map(([k, v]) => [v, k as WireErrorCode]))

export type EntryType = 'file' | 'directory' | 'symlink'
const ENTRY_TYPES: EntryType[] = ['file', 'directory', 'symlink']

/** Ends the stream; either end may send it. */
export interface ErrorMessage { type: 'error', code: WireErrorCode, message: string }

/** Client → server on /ferry/blocks. */
export type BlocksClientMessage =
  | { type: 'request', cids: CID[] }
  | ErrorMessage

/** Server → client on /ferry/blocks. `bytes` are unverified here: the client hashes them. */
export type BlocksServerMessage =
  | { type: 'block', cid: CID, bytes: Uint8Array }
  | { type: 'status', cid: CID, status: BlockStatus, message: string }
  | ErrorMessage

/** One file, directory or symlink of a scan, as sent. */
export interface ScanEntry {
  /** Relative, '/'-separated; '' is the scan's root directory. */
  path: string
  type: EntryType
  size: number
  mode: number
  mtimeMs: number
  /** The entry's node in the DAG. */
  cid: CID
  /** Symlink target (symlinks only). */
  target?: string
}

/** An entry the origin could not read, so not in the scan. */
export interface SkippedEntry { path: string, code: string, message: string }

/**
 * The origin's signature over a scan record and its entries (docs/format.md, "Signed scan records"). Sent
 * unchanged by every node that re-serves the scan.
 */
export interface WireSignature {
  /** Version of the signed encoding (1); never 0 (0 on the wire means "unsigned"). */
  format: number
  /** ms since the epoch when the origin signed. */
  signedAt: number
  bytes: Uint8Array
}

/** The fixed part of a scan record as sent in SCAN_RECORD (the skipped list follows in SCAN_SKIPPED frames). */
export interface WireScanRecord {
  root: CID
  collection: string | null
  name: string
  /** PeerId string of the node that took the scan. */
  origin: string
  files: number
  directories: number
  symlinks: number
  bytes: number
  /** ms since the epoch. */
  created: number
  /** How many skipped entries follow. */
  skipped: number
  /** The origin's signature; undefined if the scan was never signed (a puller refuses it). */
  signature?: WireSignature
}

/** Client → server on /ferry/scan. */
export type ScanClientMessage =
  | { type: 'scan-request', root: CID, credit: number }
  | { type: 'scan-more', credit: number }
  | ErrorMessage

/** Server → client on /ferry/scan. */
export type ScanServerMessage =
  | { type: 'scan-record', record: WireScanRecord }
  | { type: 'scan-skipped', skipped: SkippedEntry[] }
  | { type: 'scan-entries', entries: ScanEntry[] }
  | { type: 'scan-end', entries: number, skipped: number }
  | { type: 'status', cid: CID, status: BlockStatus, message: string }
  | ErrorMessage

/* ---------------------------------------------------------------- encoders */

/** ERROR: 0x7f · u8 code · string message. */
export function encodeError (code: WireErrorCode, message: string): Uint8Array {
  return new ByteWriter().u8(MessageType.ERROR).u8(ERROR_CODES[code]).string(truncateUtf8(message, MAX_MESSAGE_BYTES), MAX_MESSAGE_BYTES).finish()
}

/** REQUEST: 0x01 · varint n · n × cid. */
export function encodeRequest (cids: readonly CID[]): Uint8Array {
  if (cids.length === 0 || cids.length > MAX_CIDS_PER_REQUEST) throw new RangeError(`A REQUEST holds 1 to ${MAX_CIDS_PER_REQUEST} CIDs, not ${cids.length}`)
  const w = new ByteWriter(2 + cids.length * 38).u8(MessageType.REQUEST).varint(cids.length)
  for (const cid of cids) w.cid(cid)
  return w.finish()
}

/** Header of a BLOCK frame: 0x02 · cid. The block's bytes follow to the end of the frame. */
export function encodeBlockHeader (cid: CID): Uint8Array {
  return new ByteWriter(2 + cid.bytes.byteLength).u8(MessageType.BLOCK).cid(cid).finish()
}

/** BLOCK as a list of [header, bytes]: the block itself is not copied. */
export function encodeBlock (cid: CID, bytes: Uint8Array): Uint8ArrayList {
  if (bytes.byteLength > MAX_BLOCK_BYTES) throw new RangeError(`Block of ${bytes.byteLength} bytes exceeds the limit of ${MAX_BLOCK_BYTES}`)
  return new Uint8ArrayList(encodeBlockHeader(cid), bytes)
}

/** STATUS: 0x03 · cid · u8 status · string message. */
export function encodeStatus (cid: CID, status: BlockStatus, message: string): Uint8Array {
  return new ByteWriter().u8(MessageType.STATUS).cid(cid).u8(STATUS_CODES[status]).string(truncateUtf8(message, MAX_MESSAGE_BYTES), MAX_MESSAGE_BYTES).finish()
}

/** SCAN_REQUEST: 0x10 · cid root · varint credit. */
export function encodeScanRequest (root: CID, credit: number): Uint8Array {
  return new ByteWriter().u8(MessageType.SCAN_REQUEST).cid(root).varint(credit).finish()
}

/** SCAN_MORE: 0x11 · varint credit. */
export function encodeScanMore (credit: number): Uint8Array {
  return new ByteWriter(4).u8(MessageType.SCAN_MORE).varint(credit).finish()
}

/**
 * SCAN_RECORD: 0x12 · cid root · u8 hasCollection (0|1) · [string collection] · string name · string origin ·
 * varint files · varint directories · varint symlinks · varint bytes · varint created · varint skipped ·
 * varint signatureFormat (0: unsigned, nothing follows) · [varint signedAt · varint length · signature].
 */
export function encodeScanRecord (r: WireScanRecord): Uint8Array {
  const w = new ByteWriter(256).u8(MessageType.SCAN_RECORD).cid(r.root)
  if (r.collection === null) w.u8(0)
  else w.u8(1).string(r.collection, MAX_STRING_BYTES)
  w.string(r.name, MAX_STRING_BYTES).string(r.origin, MAX_STRING_BYTES)
    .varint(r.files).varint(r.directories).varint(r.symlinks).varint(r.bytes).varint(r.created).varint(r.skipped)
  const sig = r.signature
  if (sig === undefined) return w.varint(0).finish()
  if (sig.format < 1 || sig.bytes.byteLength > MAX_SIGNATURE_BYTES) throw new RangeError(`Invalid scan signature (format ${sig.format}, ${sig.bytes.byteLength} bytes)`)
  return w.varint(sig.format).varint(sig.signedAt).lengthPrefixed(sig.bytes).finish()
}

/** SCAN_END: 0x15 · varint entries · varint skipped (totals sent, for the client to check). */
export function encodeScanEnd (entries: number, skipped: number): Uint8Array {
  return new ByteWriter(12).u8(MessageType.SCAN_END).varint(entries).varint(skipped).finish()
}

/** One entry: string path · u8 type · varint size · varint mode · f64 mtimeMs · cid · [string target if symlink]. */
function writeEntry (w: ByteWriter, e: ScanEntry): void {
  const type = ENTRY_TYPES.indexOf(e.type)
  if (type < 0) throw new RangeError(`Unknown entry type ${String(e.type)}`)
  w.string(e.path, MAX_STRING_BYTES).u8(type).varint(e.size).varint(e.mode).f64(e.mtimeMs).cid(e.cid)
  if (e.type === 'symlink') w.string(e.target ?? '', MAX_STRING_BYTES)
}

/** One skipped entry: string path · string code · string message. */
function writeSkipped (w: ByteWriter, s: SkippedEntry): void {
  w.string(s.path, MAX_STRING_BYTES).string(truncateUtf8(s.code, MAX_MESSAGE_BYTES), MAX_MESSAGE_BYTES).string(truncateUtf8(s.message, MAX_MESSAGE_BYTES), MAX_MESSAGE_BYTES)
}

/**
 * Packs entries (or skipped entries) into SCAN_ENTRIES (SCAN_SKIPPED) frames of about SCAN_BATCH_BYTES:
 * 0x14 (0x13) · varint n · n × item. `add` returns true once the batch is full; `take` returns the frame.
 */
export class ScanBatcher<T extends ScanEntry | SkippedEntry> {
  private body = new ByteWriter(4096)
  private count = 0

  constructor (private readonly kind: 'entries' | 'skipped', private readonly batchBytes = SCAN_BATCH_BYTES) {}

  get size (): number {
    return this.count
  }

  add (item: T): boolean {
    if (this.kind === 'entries') writeEntry(this.body, item as ScanEntry)
    else writeSkipped(this.body, item as SkippedEntry)
    this.count++
    return this.body.length >= this.batchBytes
  }

  take (): Uint8Array {
    const body = this.body.finish()
    const frame = new ByteWriter(1 + varintLength(this.count) + body.byteLength)
      .u8(this.kind === 'entries' ? MessageType.SCAN_ENTRIES : MessageType.SCAN_SKIPPED)
      .varint(this.count).bytes(body).finish()
    this.body = new ByteWriter(4096)
    this.count = 0
    return frame
  }
}

/** Frame bytes as they travel: varint payload length, then the payload. For fixtures and raw test peers. */
export function encodeFrame (payload: Uint8Array | Uint8ArrayList): Uint8Array {
  const prefix = new ByteWriter(8).varint(payload.byteLength).finish()
  const out = new Uint8Array(prefix.byteLength + payload.byteLength)
  out.set(prefix)
  out.set(payload instanceof Uint8Array ? payload : payload.subarray(), prefix.byteLength)
  return out
}

/* ---------------------------------------------------------------- decoders */

function contiguous (payload: Uint8Array | Uint8ArrayList): Uint8Array {
  return payload instanceof Uint8Array ? payload : payload.subarray()
}

function checkSize (payload: Uint8Array, max: number, what: string): void {
  if (payload.byteLength > max) throw protocolError('too-large', `${what} frame of ${payload.byteLength} bytes exceeds the limit of ${max}`)
  if (payload.byteLength === 0) throw protocolError('truncated', `${what} frame is empty`)
}

export function readError (r: ByteReader): ErrorMessage {
  const code = ERROR_BY_CODE.get(r.u8('error code')) ?? 'internal'
  const message = r.string('message', MAX_MESSAGE_BYTES)
  r.end()
  return { type: 'error', code, message }
}

function readStatus (r: ByteReader): { type: 'status', cid: CID, status: BlockStatus, message: string } {
  const cid = r.cid('cid', MAX_CID_BYTES)
  const code = r.u8('status')
  const status = STATUS_BY_CODE.get(code)
  if (status === undefined) throw protocolError('malformed', `${r.what} frame has unknown status ${code}`)
  const message = r.string('message', MAX_MESSAGE_BYTES)
  r.end()
  return { type: 'status', cid, status, message }
}

/** A reader over one whole frame of a `what` stream, after checking it against that stream's size limit. */
export function frameReader (frame: Uint8Array | Uint8ArrayList, maxBytes: number, what: string): ByteReader {
  const payload = contiguous(frame)
  checkSize(payload, maxBytes, what)
  return new ByteReader(payload, what)
}

export function unexpected (what: string, type: number): never {
  throw protocolError('unexpected', `${what}: message type 0x${type.toString(16).padStart(2, '0')} is not allowed in this direction`)
}

/** Decodes and validates a frame a blocks server received. */
export function decodeBlocksClientMessage (frame: Uint8Array | Uint8ArrayList): BlocksClientMessage {
  const r = frameReader(frame, MAX_BLOCKS_FRAME_BYTES, 'blocks')
  const type = r.u8('type')
  switch (type) {
    case MessageType.REQUEST: {
      const n = r.varint('CID count', MAX_CIDS_PER_REQUEST)
      if (n === 0) throw protocolError('malformed', 'blocks REQUEST frame asks for no CIDs')
      const cids: CID[] = []
      for (let i = 0; i < n; i++) cids.push(r.cid('cid', MAX_CID_BYTES))
      r.end()
      return { type: 'request', cids }
    }
    case MessageType.ERROR:
      return readError(r)
    default:
      return unexpected('blocks client', type)
  }
}

/** Decodes and validates a frame a blocks client received. A BLOCK's bytes are a view into `frame`. */
export function decodeBlocksServerMessage (frame: Uint8Array | Uint8ArrayList): BlocksServerMessage {
  const r = frameReader(frame, MAX_BLOCKS_FRAME_BYTES, 'blocks')
  const type = r.u8('type')
  switch (type) {
    case MessageType.BLOCK: {
      const cid = r.cid('cid', MAX_CID_BYTES)
      if (r.remaining > MAX_BLOCK_BYTES) throw protocolError('too-large', `blocks BLOCK of ${r.remaining} bytes exceeds the limit of ${MAX_BLOCK_BYTES}`)
      return { type: 'block', cid, bytes: r.bytes(r.remaining, 'block') }
    }
    case MessageType.STATUS:
      return readStatus(r)
    case MessageType.ERROR:
      return readError(r)
    default:
      return unexpected('blocks server', type)
  }
}

/**
 * Like decodeBlocksServerMessage, for a frame as it comes off the stream (a list of network chunks): a
 * BLOCK's bytes are returned as the list's own chunks (`data`), not copied into one array. Other messages
 * are small and decoded as usual.
 */
export function decodeBlocksServerFrame (frame: Uint8ArrayList): BlocksServerMessage | { type: 'block-chunks', cid: CID, data: Uint8ArrayList } {
  if (frame.byteLength > MAX_BLOCKS_FRAME_BYTES) throw protocolError('too-large', `blocks frame of ${frame.byteLength} bytes exceeds the limit of ${MAX_BLOCKS_FRAME_BYTES}`)
  if (frame.byteLength === 0 || frame.get(0) !== MessageType.BLOCK) return decodeBlocksServerMessage(frame)
  // type (1) + CID length varint (at most 2 bytes for MAX_CID_BYTES) + CID: the header fits in this prefix.
  const prefix = frame.subarray(0, Math.min(frame.byteLength, 3 + MAX_CID_BYTES))
  const r = new ByteReader(prefix, 'blocks')
  r.u8('type')
  const cid = r.cid('cid', MAX_CID_BYTES)
  const data = frame.sublist(r.offset)
  if (data.byteLength > MAX_BLOCK_BYTES) throw protocolError('too-large', `blocks BLOCK of ${data.byteLength} bytes exceeds the limit of ${MAX_BLOCK_BYTES}`)
  return { type: 'block-chunks', cid, data }
}

/** Decodes and validates a frame a scan server received. */
export function decodeScanClientMessage (frame: Uint8Array | Uint8ArrayList): ScanClientMessage {
  const r = frameReader(frame, MAX_SCAN_FRAME_BYTES, 'scan')
  const type = r.u8('type')
  switch (type) {
    case MessageType.SCAN_REQUEST: {
      const root = r.cid('root', MAX_CID_BYTES)
      const credit = r.varint('credit', MAX_SCAN_CREDIT)
      r.end()
      return { type: 'scan-request', root, credit }
    }
    case MessageType.SCAN_MORE: {
      const credit = r.varint('credit', MAX_SCAN_CREDIT)
      if (credit === 0) throw protocolError('malformed', 'scan SCAN_MORE frame grants no credit')
      r.end()
      return { type: 'scan-more', credit }
    }
    case MessageType.ERROR:
      return readError(r)
    default:
      return unexpected('scan client', type)
  }
}

function readEntry (r: ByteReader): ScanEntry {
  const path = r.string('path', MAX_STRING_BYTES)
  const typeCode = r.u8('entry type')
  const type = ENTRY_TYPES[typeCode]
  if (type === undefined) throw protocolError('malformed', `scan entry "${path}" has unknown type ${typeCode}`)
  const size = r.varint('size')
  const mode = r.varint('mode', 0xffffffff)
  const mtimeMs = r.f64('mtime')
  const cid = r.cid('cid', MAX_CID_BYTES)
  const e: ScanEntry = { path, type, size, mode, mtimeMs, cid }
  if (type === 'symlink') e.target = r.string('target', MAX_STRING_BYTES)
  return e
}

/** Decodes and validates a frame a scan client received. */
export function decodeScanServerMessage (frame: Uint8Array | Uint8ArrayList): ScanServerMessage {
  const r = frameReader(frame, MAX_SCAN_FRAME_BYTES, 'scan')
  const type = r.u8('type')
  switch (type) {
    case MessageType.SCAN_RECORD: {
      const root = r.cid('root', MAX_CID_BYTES)
      const hasCollection = r.u8('collection flag')
      if (hasCollection > 1) throw protocolError('malformed', `scan SCAN_RECORD frame has collection flag ${hasCollection}`)
      const collection = hasCollection === 1 ? r.string('collection', MAX_STRING_BYTES) : null
      const record: WireScanRecord = {
        root,
        collection,
        name: r.string('name', MAX_STRING_BYTES),
        origin: r.string('origin', MAX_STRING_BYTES),
        files: r.varint('files'),
        directories: r.varint('directories'),
        symlinks: r.varint('symlinks'),
        bytes: r.varint('bytes'),
        created: r.varint('created'),
        skipped: r.varint('skipped')
      }
      const format = r.varint('signature format')
      if (format !== 0) {
        const signedAt = r.varint('signed at')
        const length = r.varint('signature length', MAX_SIGNATURE_BYTES)
        record.signature = { format, signedAt, bytes: new Uint8Array(r.bytes(length, 'signature')) } // a copy, not a view of the frame
      }
      r.end()
      return { type: 'scan-record', record }
    }
    case MessageType.SCAN_SKIPPED: {
      const n = r.varint('count', MAX_SCAN_FRAME_BYTES)
      const skipped: SkippedEntry[] = []
      for (let i = 0; i < n; i++) {
        skipped.push({ path: r.string('path', MAX_STRING_BYTES), code: r.string('code', MAX_MESSAGE_BYTES), message: r.string('message', MAX_MESSAGE_BYTES) })
      }
      r.end()
      return { type: 'scan-skipped', skipped }
    }
    case MessageType.SCAN_ENTRIES: {
      const n = r.varint('count', MAX_SCAN_FRAME_BYTES)
      const entries: ScanEntry[] = []
      for (let i = 0; i < n; i++) entries.push(readEntry(r))
      r.end()
      return { type: 'scan-entries', entries }
    }
    case MessageType.SCAN_END: {
      const entries = r.varint('entries')
      const skipped = r.varint('skipped')
      r.end()
      return { type: 'scan-end', entries, skipped }
    }
    case MessageType.STATUS:
      return readStatus(r)
    case MessageType.ERROR:
      return readError(r)
    default:
      return unexpected('scan server', type)
  }
}
