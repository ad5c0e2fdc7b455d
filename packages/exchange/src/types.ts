/**
 * What the exchange needs from its surroundings (narrow interfaces, so tests hand in small real pieces) and
 * what it gives back.
 */
import type { CatalogRow } from './catalog-messages.js'
import type { ScanEntry, SkippedEntry, WireScanRecord } from './messages.js'
import type { ComponentLogger, Libp2p, Logger, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** The part of a libp2p node the server uses. */
export type ServerComponents = Pick<Libp2p, 'handle' | 'unhandle'> & { logger?: ComponentLogger }

/** The part of a libp2p node a client uses. */
export type ClientComponents = Pick<Libp2p, 'dialProtocol'> & { logger?: ComponentLogger }

/** A block as this node can serve it. `ok` bytes must already be verified against the CID. */
export type BlockLookup =
  | { status: 'ok', bytes: Uint8Array }
  /** Not here. */
  | { status: 'missing', message?: string }
  /** Indexed, but the source file no longer holds these bytes: the client should fetch it elsewhere. */
  | { status: 'changed', message: string }

/** Where the server reads blocks. Called once per requested CID; should be safe to call concurrently. */
export interface BlockSource {
  get: (cid: CID, options: { signal: AbortSignal }) => Promise<BlockLookup>
}

/** A scan as this node serves it. */
export interface LocalScan {
  /** The record as it goes on the wire, but with the root as a CID. */
  record: Omit<RemoteScanRecord, 'root'> & { root: CID }
  /** The scan's entries in any stable order; read lazily (10^6 entries must stream). */
  entries: () => Iterable<ScanEntry> | AsyncIterable<ScanEntry>
}

/** Where the server finds scans by root. */
export interface ScanSource {
  getScan: (root: CID) => LocalScan | undefined | Promise<LocalScan | undefined>
}

/** What a catalog page is asked for, as the server hands it to its `CatalogSource`. */
export interface CatalogQuery {
  /** Only scans of this collection. */
  collection?: string
  /** Only scans whose name starts with this. */
  prefix?: string
  /** Only scans after this position (the `position` of the last row of the previous page). */
  after?: number
  /** Rows wanted (1 .. MAX_CATALOG_PAGE_ROWS). */
  limit: number
}

/** A row with its position in the source's order (a non-negative integer, increasing along the listing). */
export interface PositionedRow { position: number, row: CatalogRow }

/** Up to `limit` rows in position order; `more` if rows follow the last one. */
export interface CatalogSlice { rows: PositionedRow[], more: boolean }

/**
 * Where the server lists its catalog and hears of new scans. Rows must be only those `peer` may read (a
 * collection whose grants exclude it is left out, not marked): the server does not filter pages itself.
 */
export interface CatalogSource {
  /** One slice of the complete scans `peer` may read, in position order, read in bounded memory. */
  page: (peer: PeerId, query: CatalogQuery) => CatalogSlice | Promise<CatalogSlice>
  /** Whether `peer` may read `collection` now (null: a scan without collection); asked per announcement. */
  mayRead: (peer: PeerId, collection: string | null) => boolean
  /**
   * Calls `listener` once for every scan completed from now on (any collection: the server filters), until
   * the returned function is called. Without it the node announces nothing.
   */
  watch?: (listener: (row: CatalogRow) => void) => () => void
}

/** What a peer asks for, given to the access hook. */
export interface AccessRequest {
  /** BLOCKS_PROTOCOL, SCAN_PROTOCOL, CATALOG_PROTOCOL or ANNOUNCE_PROTOCOL (the last two: the peer alone, asked per request or announcement). */
  protocol: string
  /** The scan root (scan requests). */
  root?: CID
  /**
   * One requested block (blocks protocol): asked once per CID, just before the server reads it, so a grant
   * revoked mid-transfer stops the blocks not yet read. Without `cid` and `root` the hook decides on the
   * peer alone (asked once per REQUEST frame).
   */
  cid?: CID
}

/** The access hook's answer; `reason` is sent to the refused peer verbatim. */
export type AccessDecision = { allow: true } | { allow: false, reason: string }

/** Decides each request (every REQUEST frame and every scan request, not only the first). */
export type Authorize = (peer: PeerId, request: AccessRequest) => AccessDecision | Promise<AccessDecision>

/**
 * What a client's `get` answers. `ok` bytes have been hashed and match the CID. `chunks` are the same bytes
 * in the pieces they arrived in (write them with `writev` to avoid a copy); `bytes` joins them on first use.
 */
export type BlockResult =
  | { status: 'ok', readonly bytes: Uint8Array, readonly chunks: readonly Uint8Array[] }
  /** missing: not on that peer; changed: its source file changed, fetch elsewhere; denied: the peer refused us;
   *  bad: the peer sent bytes that do not hash to the CID (penalise it). */
  | { status: 'missing' | 'changed' | 'denied' | 'bad', message: string }

/**
 * A scan record as received from a peer: the SCAN_RECORD fields, with the root as text and the skipped
 * entries (sent in their own frames) gathered. Shaped like `ScanInfo` in @ferry/transfer.
 */
export type RemoteScanRecord = Omit<WireScanRecord, 'root' | 'skipped'> & {
  /** The root CID (CIDv1, base32). */
  root: string
  /** Entries the origin could not read (missing at the source). */
  skipped: SkippedEntry[]
}

/** A scan fetched from a peer: the record, then its entries as they stream in. */
export interface RemoteScan {
  record: RemoteScanRecord
  /** Iterate once. Breaking out early closes the stream. */
  entries: AsyncIterable<ScanEntry>
}

const noop = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false, newScope: () => noop }) as unknown as Logger

/** A scoped logger from `logger`, or a silent one. */
export function componentLogger (logger: ComponentLogger | undefined, name: string): Logger {
  return logger?.forComponent(name) ?? noop
}
