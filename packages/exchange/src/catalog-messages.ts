/**
 * The messages of /ferry/catalog/1.0.0 and /ferry/announce/1.0.0 and their byte layout (docs/protocol.md,
 * "Remote catalogs" and "Announcements", is the spec; test/golden.test.ts pins the bytes). Both carry the
 * same row: one complete scan as a catalog lists it. Field codecs, the ERROR frame and the per-direction
 * decoding are those of messages.ts.
 */
import { ByteReader, ByteWriter, protocolError, varintLength } from './codec.js'
import {
  CATALOG_PAGE_BYTES, MAX_ANNOUNCE_KEEPALIVE_MS, MAX_CATALOG_CLIENT_FRAME_BYTES, MAX_CATALOG_CURSOR_BYTES, MAX_CATALOG_FRAME_BYTES, MAX_CID_BYTES,
  MAX_STRING_BYTES
} from './constants.js'
import { MessageType, frameReader, readError, unexpected, type ErrorMessage } from './messages.js'
import type { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'

/** A scan's state in a catalog: sealed (complete, never changes) or open (reserved: still growing). */
export type CatalogState = 'sealed' | 'open'
const CATALOG_STATES: CatalogState[] = ['sealed', 'open']

/** One scan as a remote catalog lists it (and an announcement names it). */
export interface CatalogRow {
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
  /** Entries the origin could not read. */
  skipped: number
  state: CatalogState
}

/** Client → server on /ferry/catalog: one page of rows, after `cursor` (empty: from the start). */
export interface CatalogRequest {
  type: 'catalog-request'
  /** Only scans of this collection; null: every collection. */
  collection: string | null
  /** Only scans whose name starts with this ('' = any). */
  prefix: string
  /** Opaque; empty for the first page, else the `next` of the previous page. */
  cursor: Uint8Array
  /** Rows wanted, 1 .. (server limit MAX_CATALOG_PAGE_ROWS, else ERROR LIMIT). */
  pageSize: number
}

export type CatalogClientMessage = CatalogRequest | ErrorMessage

/** Server → client on /ferry/catalog. `next` is empty on the last page. */
export type CatalogServerMessage =
  | { type: 'catalog-page', next: Uint8Array, rows: CatalogRow[] }
  | ErrorMessage

/** Client → server on /ferry/announce: the subscription, first and only frame. */
export type AnnounceClientMessage =
  | { type: 'announce-subscribe', collection: string | null }
  | ErrorMessage

/** Server → client on /ferry/announce. */
export type AnnounceServerMessage =
  | { type: 'announce-accepted', keepAliveMs: number }
  | { type: 'announce-scan', row: CatalogRow }
  | { type: 'announce-keepalive' }
  | ErrorMessage

/* ---------------------------------------------------------------- encoders */

function optionalString (w: ByteWriter, s: string | null): ByteWriter {
  return s === null ? w.u8(0) : w.u8(1).string(s, MAX_STRING_BYTES)
}

/**
 * One row: cid root · u8 hasCollection · [string collection] · string name · string origin · varint files ·
 * varint directories · varint symlinks · varint bytes · varint created · varint skipped · u8 state.
 */
function writeRow (w: ByteWriter, r: CatalogRow): void {
  const state = CATALOG_STATES.indexOf(r.state)
  if (state < 0) throw new RangeError(`Unknown catalog state ${String(r.state)}`)
  optionalString(w.cid(r.root), r.collection).string(r.name, MAX_STRING_BYTES).string(r.origin, MAX_STRING_BYTES)
    .varint(r.files).varint(r.directories).varint(r.symlinks).varint(r.bytes).varint(r.created).varint(r.skipped).u8(state)
}

function writeCursor (w: ByteWriter, cursor: Uint8Array): ByteWriter {
  if (cursor.byteLength > MAX_CATALOG_CURSOR_BYTES) throw new RangeError(`Cursor of ${cursor.byteLength} bytes exceeds the limit of ${MAX_CATALOG_CURSOR_BYTES}`)
  return w.lengthPrefixed(cursor)
}

/** CATALOG_REQUEST: 0x20 · u8 hasCollection · [string collection] · string prefix · bytes cursor · varint pageSize. */
export function encodeCatalogRequest (req: Omit<CatalogRequest, 'type'>): Uint8Array {
  const w = optionalString(new ByteWriter(64).u8(MessageType.CATALOG_REQUEST), req.collection).string(req.prefix, MAX_STRING_BYTES)
  return writeCursor(w, req.cursor).varint(req.pageSize).finish()
}

/**
 * Packs rows into one CATALOG_PAGE (0x21 · bytes next · varint n · n × row) of about CATALOG_PAGE_BYTES:
 * `add` returns true once the page is full; `take` returns the frame with the cursor of what follows.
 */
export class CatalogPageBuilder {
  private readonly body = new ByteWriter(4096)
  private count = 0

  constructor (private readonly pageBytes = CATALOG_PAGE_BYTES) {}

  get size (): number {
    return this.count
  }

  add (row: CatalogRow): boolean {
    writeRow(this.body, row)
    this.count++
    return this.body.length >= this.pageBytes
  }

  take (next: Uint8Array): Uint8Array {
    const body = this.body.finish()
    const w = new ByteWriter(1 + 1 + next.byteLength + varintLength(this.count) + body.byteLength).u8(MessageType.CATALOG_PAGE)
    return writeCursor(w, next).varint(this.count).bytes(body).finish()
  }
}

/** ANNOUNCE_SUBSCRIBE: 0x30 · u8 hasCollection · [string collection]. */
export function encodeAnnounceSubscribe (collection: string | null): Uint8Array {
  return optionalString(new ByteWriter(32).u8(MessageType.ANNOUNCE_SUBSCRIBE), collection).finish()
}

/** ANNOUNCE_ACCEPTED: 0x31 · varint keepAliveMs. */
export function encodeAnnounceAccepted (keepAliveMs: number): Uint8Array {
  return new ByteWriter(8).u8(MessageType.ANNOUNCE_ACCEPTED).varint(keepAliveMs).finish()
}

/** ANNOUNCE_SCAN: 0x32 · row. */
export function encodeAnnounceScan (row: CatalogRow): Uint8Array {
  const w = new ByteWriter(256).u8(MessageType.ANNOUNCE_SCAN)
  writeRow(w, row)
  return w.finish()
}

/** ANNOUNCE_KEEPALIVE: 0x33. */
export function encodeAnnounceKeepAlive (): Uint8Array {
  return Uint8Array.of(MessageType.ANNOUNCE_KEEPALIVE)
}

/* ---------------------------------------------------------------- decoders */

function readOptionalString (r: ByteReader, field: string): string | null {
  const flag = r.u8(`${field} flag`)
  if (flag > 1) throw protocolError('malformed', `${r.what} frame has ${field} flag ${flag}`)
  return flag === 1 ? r.string(field, MAX_STRING_BYTES) : null
}

function readCursor (r: ByteReader, field: string): Uint8Array {
  const len = r.varint(`${field} length`, MAX_CATALOG_CURSOR_BYTES)
  return new Uint8Array(r.bytes(len, field)) // a copy: it outlives the frame
}

function readRow (r: ByteReader): CatalogRow {
  const root = r.cid('root', MAX_CID_BYTES)
  const collection = readOptionalString(r, 'collection')
  const row = {
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
  const code = r.u8('state')
  const state = CATALOG_STATES[code]
  if (state === undefined) throw protocolError('malformed', `${r.what} frame has unknown scan state ${code}`)
  return { ...row, state }
}

/** Decodes and validates a frame a catalog server received. A page size of 0 is malformed; one above the server's limit is the handler's to refuse (ERROR LIMIT). */
export function decodeCatalogClientMessage (frame: Uint8Array | Uint8ArrayList): CatalogClientMessage {
  const r = frameReader(frame, MAX_CATALOG_CLIENT_FRAME_BYTES, 'catalog')
  const type = r.u8('type')
  switch (type) {
    case MessageType.CATALOG_REQUEST: {
      const collection = readOptionalString(r, 'collection')
      const prefix = r.string('prefix', MAX_STRING_BYTES)
      const cursor = readCursor(r, 'cursor')
      const pageSize = r.varint('page size')
      if (pageSize === 0) throw protocolError('malformed', 'catalog CATALOG_REQUEST frame asks for no rows')
      r.end()
      return { type: 'catalog-request', collection, prefix, cursor, pageSize }
    }
    case MessageType.ERROR:
      return readError(r)
    default:
      return unexpected('catalog client', type)
  }
}

/** Decodes and validates a frame a catalog client received. */
export function decodeCatalogServerMessage (frame: Uint8Array | Uint8ArrayList): CatalogServerMessage {
  const r = frameReader(frame, MAX_CATALOG_FRAME_BYTES, 'catalog')
  const type = r.u8('type')
  switch (type) {
    case MessageType.CATALOG_PAGE: {
      const next = readCursor(r, 'next cursor')
      const n = r.varint('row count', MAX_CATALOG_FRAME_BYTES)
      const rows: CatalogRow[] = []
      for (let i = 0; i < n; i++) rows.push(readRow(r))
      r.end()
      return { type: 'catalog-page', next, rows }
    }
    case MessageType.ERROR:
      return readError(r)
    default:
      return unexpected('catalog server', type)
  }
}

/** Decodes and validates a frame an announce server received. */
export function decodeAnnounceClientMessage (frame: Uint8Array | Uint8ArrayList): AnnounceClientMessage {
  const r = frameReader(frame, MAX_CATALOG_CLIENT_FRAME_BYTES, 'announce')
  const type = r.u8('type')
  switch (type) {
    case MessageType.ANNOUNCE_SUBSCRIBE: {
      const collection = readOptionalString(r, 'collection')
      r.end()
      return { type: 'announce-subscribe', collection }
    }
    case MessageType.ERROR:
      return readError(r)
    default:
      return unexpected('announce client', type)
  }
}

/** Decodes and validates a frame an announce client received. */
export function decodeAnnounceServerMessage (frame: Uint8Array | Uint8ArrayList): AnnounceServerMessage {
  const r = frameReader(frame, MAX_CATALOG_FRAME_BYTES, 'announce')
  const type = r.u8('type')
  switch (type) {
    case MessageType.ANNOUNCE_ACCEPTED: {
      const keepAliveMs = r.varint('keep-alive', MAX_ANNOUNCE_KEEPALIVE_MS)
      if (keepAliveMs === 0) throw protocolError('malformed', 'announce ANNOUNCE_ACCEPTED frame has a keep-alive of 0 ms')
      r.end()
      return { type: 'announce-accepted', keepAliveMs }
    }
    case MessageType.ANNOUNCE_SCAN: {
      const row = readRow(r)
      r.end()
      return { type: 'announce-scan', row }
    }
    case MessageType.ANNOUNCE_KEEPALIVE:
      r.end()
      return { type: 'announce-keepalive' }
    case MessageType.ERROR:
      return readError(r)
    default:
      return unexpected('announce server', type)
  }
}
