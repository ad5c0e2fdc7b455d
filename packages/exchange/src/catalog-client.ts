/**
 * The client side of /ferry/catalog/1.0.0 and /ferry/announce/1.0.0, used by `PeerClient.listCatalog` and
 * `PeerClient.watchAnnouncements`. A listing is one stream carrying one request per page, the next sent
 * only once the caller has taken the previous page, so neither end holds more than a page. A subscription
 * is one long-lived stream; silence beyond three keep-alive intervals fails it with ERR_TIMEOUT.
 */
import { FerryError } from '@ferry/errors'
import {
  decodeAnnounceServerMessage, decodeCatalogServerMessage, encodeAnnounceSubscribe, encodeCatalogRequest, encodeOpenEntriesRequest, type CatalogRow,
  type OpenEntryRow, type OpenScanState, type OpenSeal, type PublishedFileRow
} from './catalog-messages.js'
import { dialError, errorFromWire } from './client-errors.js'
import { protocolError } from './codec.js'
import { ANNOUNCE_PROTOCOL, CATALOG_PROTOCOL, DEFAULT_CATALOG_PAGE_ROWS, MAX_CATALOG_FRAME_BYTES, MAX_CATALOG_PAGE_ROWS } from './constants.js'
import { framed, type Framed } from './framed.js'
import type { ClientComponents } from './types.js'
import type { PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'

/** A catalog row as a caller gets it: the root as text (CIDv1, base32). */
export type RemoteCatalogRow = Omit<CatalogRow, 'root'> & { root: string }

/** One page of a remote catalog. */
export interface CatalogPage {
  rows: RemoteCatalogRow[]
  /** Opaque cursor of the page after this one (pass it as `cursor` to resume there); empty on the last page. */
  next: Uint8Array
}

/** Options of `PeerClient.listCatalog`. */
export interface ListCatalogOptions {
  /** Only scans of this collection. */
  collection?: string
  /** Only scans whose name starts with this. */
  prefix?: string
  /** Rows per page, 1 .. MAX_CATALOG_PAGE_ROWS; default DEFAULT_CATALOG_PAGE_ROWS. */
  pageSize?: number
  /** Start after this cursor (a page's `next`, e.g. kept by a paged HTTP listing); default from the start. */
  cursor?: Uint8Array
  signal?: AbortSignal
}

/** Options of `PeerClient.watchAnnouncements`. */
export interface WatchAnnouncementsOptions {
  /** Only scans of this collection; default every collection the peer lets us read. */
  collection?: string
  /** Called once the peer has accepted the subscription: scans completed after this are announced (list the catalog now to catch up). */
  onSubscribed?: () => void
  signal?: AbortSignal
}

/** Who and how a catalog client dials. */
export interface CatalogDial {
  components: ClientComponents
  target: PeerId | Multiaddr
  peer: string
  timeoutMs: number
}

function toRemote (row: CatalogRow): RemoteCatalogRow {
  return { ...row, root: row.root.toString() }
}

/** Whether `signal` has fired (a function, so a check after an await is not narrowed away). */
/** ERR_ABORTED when `signal` has fired (not a type guard: a signal that has not fired is still a signal). */
function throwIfFired (signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw aborted(signal)
}

function aborted (signal: AbortSignal): FerryError {
  return new FerryError('ERR_ABORTED', 'Operation aborted', { cause: signal.reason })
}

async function open (d: CatalogDial, protocol: string, signal: AbortSignal | undefined): Promise<Framed> {
  throwIfFired(signal)
  let stream: Stream
  try {
    const dialSignal = AbortSignal.timeout(d.timeoutMs)
    stream = await d.components.dialProtocol(d.target, protocol, { signal: signal === undefined ? dialSignal : AbortSignal.any([signal, dialSignal]) })
  } catch (err) {
    throwIfFired(signal)
    throw dialError(err, d.peer, protocol)
  }
  return framed(stream, MAX_CATALOG_FRAME_BYTES, 2 * MAX_CATALOG_FRAME_BYTES, `${protocol} stream to peer ${d.peer}`)
}

/** The next frame within `ms` (ERR_TIMEOUT) or until `signal` (ERR_ABORTED); the end of the stream is ERR_NETWORK. */
async function readWithin (io: Framed, d: CatalogDial, ms: number, signal: AbortSignal | undefined, what: string): Promise<Uint8ArrayList> {
  const timeout = AbortSignal.timeout(ms)
  let frame
  try {
    frame = await io.read({ signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) })
  } catch (err) {
    throwIfFired(signal)
    if (timeout.aborted) throw new FerryError('ERR_TIMEOUT', `Peer ${d.peer} sent nothing for ${ms / 1000} s while sending ${what}`, { cause: err, details: { peer: d.peer } })
    throw err
  }
  if (frame === null) throw new FerryError('ERR_NETWORK', `Peer ${d.peer} ended the stream while sending ${what}`, { details: { peer: d.peer } })
  return frame
}

/** Closes the stream after a clean end, aborts it after a failure or an abandoned iteration. */
function end (io: Framed, err: unknown): void {
  const stream = io.stream
  if (err === undefined) {
    stream.close().catch((e: Error) => { stream.abort(e) })
  } else {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}

function pageSizeOf (options: ListCatalogOptions): number {
  const size = options.pageSize ?? DEFAULT_CATALOG_PAGE_ROWS
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_CATALOG_PAGE_ROWS) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `A catalog page holds 1 to ${MAX_CATALOG_PAGE_ROWS} rows, not ${String(size)}`)
  }
  return size
}

/** The pages of a peer's catalog (see `PeerClient.listCatalog`). */
export async function * listCatalog (d: CatalogDial, options: ListCatalogOptions = {}): AsyncGenerator<CatalogPage> {
  const pageSize = pageSizeOf(options)
  const { signal } = options
  const io = await open(d, CATALOG_PROTOCOL, signal)
  const request = { collection: options.collection ?? null, prefix: options.prefix ?? '', pageSize }
  let cursor: Uint8Array = options.cursor ?? new Uint8Array(0)
  let failure: unknown = new FerryError('ERR_ABORTED', 'catalog listing abandoned by the reader')
  try {
    while (true) {
      throwIfFired(signal)
      await io.write(encodeCatalogRequest({ ...request, cursor }), { signal })
      const msg = decodeCatalogServerMessage(await readWithin(io, d, d.timeoutMs, signal, 'its catalog'))
      if (msg.type === 'error') throw errorFromWire(msg, d.peer)
      if (msg.type !== 'catalog-page') throw protocolError('malformed', `Peer ${d.peer} answered a catalog request with ${msg.type}`)
      if (msg.rows.length > pageSize) throw protocolError('malformed', `Peer ${d.peer} sent ${msg.rows.length} catalog rows for a page of ${pageSize}`)
      const last = msg.next.byteLength === 0
      if (last) failure = undefined
      yield { rows: msg.rows.map(toRemote), next: msg.next }
      if (last) return
      cursor = msg.next
    }
  } catch (err) {
    failure = err
    throw err
  } finally {
    end(io, failure)
  }
}

/** Subscribes and waits for ANNOUNCE_ACCEPTED; returns the keep-alive interval the peer announced. */
async function subscribe (io: Framed, d: CatalogDial, options: WatchAnnouncementsOptions, files = false): Promise<number> {
  const { signal } = options
  await io.write(encodeAnnounceSubscribe(options.collection ?? null, files), { signal })
  const msg = decodeAnnounceServerMessage(await readWithin(io, d, d.timeoutMs, signal, 'its answer to our subscription'))
  if (msg.type === 'error') throw errorFromWire(msg, d.peer)
  if (msg.type !== 'announce-accepted') throw protocolError('unexpected', `Peer ${d.peer} sent ${msg.type} before accepting the subscription`)
  options.onSubscribed?.()
  return msg.keepAliveMs
}

/** The scans a peer announces (see `PeerClient.watchAnnouncements`). */
export async function * watchAnnouncements (d: CatalogDial, options: WatchAnnouncementsOptions = {}): AsyncGenerator<RemoteCatalogRow> {
  const { signal } = options
  const io = await open(d, ANNOUNCE_PROTOCOL, signal)
  let failure: unknown = new FerryError('ERR_ABORTED', 'announcements abandoned by the reader')
  try {
    const silenceMs = 3 * await subscribe(io, d, options)
    while (true) {
      throwIfFired(signal)
      const msg = decodeAnnounceServerMessage(await readWithin(io, d, silenceMs, signal, 'announcements'))
      if (msg.type === 'error') throw errorFromWire(msg, d.peer)
      if (msg.type === 'announce-accepted') throw protocolError('unexpected', `Peer ${d.peer} accepted the subscription twice`)
      if (msg.type === 'announce-scan') yield toRemote(msg.row)
    }
  } catch (err) {
    failure = err
    throw err
  } finally {
    end(io, failure)
  }
}

/** One page of an open scan's entries (see `PeerClient.openEntries`). */
export interface OpenEntriesAnswer {
  state: OpenScanState
  seal: OpenSeal | null
  entries: OpenEntryRow[]
}

/** One OPEN_ENTRIES_REQUEST on its own catalog stream: the entries of open scan `key` from `fromSeq`, at most `max`. */
export async function openEntries (d: CatalogDial, key: CID, fromSeq: number, max: number, signal?: AbortSignal): Promise<OpenEntriesAnswer> {
  if (!Number.isSafeInteger(max) || max < 1 || max > MAX_CATALOG_PAGE_ROWS) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `An open-entries page holds 1 to ${MAX_CATALOG_PAGE_ROWS} entries, not ${String(max)}`)
  }
  const io = await open(d, CATALOG_PROTOCOL, signal)
  let failure: unknown
  try {
    await io.write(encodeOpenEntriesRequest({ key, fromSeq, max }), { signal })
    const msg = decodeCatalogServerMessage(await readWithin(io, d, d.timeoutMs, signal, 'open-scan entries'))
    if (msg.type === 'error') throw errorFromWire(msg, d.peer)
    if (msg.type !== 'open-entries-page') throw protocolError('malformed', `Peer ${d.peer} answered an open-entries request with ${msg.type}`)
    if (msg.entries.length > max) throw protocolError('malformed', `Peer ${d.peer} sent ${msg.entries.length} entries for a page of ${max}`)
    return { state: msg.state, seal: msg.seal, entries: msg.entries }
  } catch (err) {
    failure = err
    throw err
  } finally {
    end(io, failure)
  }
}

/** What a subscription with published files yields: a completed scan, or a file published into an open scan. */
export type Publication = { type: 'scan', row: RemoteCatalogRow } | { type: 'file', file: PublishedFileRow }

/** The scans a peer announces and the files it publishes into open scans (ANNOUNCE_SUBSCRIBE_FILES). */
export async function * watchPublications (d: CatalogDial, options: WatchAnnouncementsOptions = {}): AsyncGenerator<Publication> {
  const { signal } = options
  const io = await open(d, ANNOUNCE_PROTOCOL, signal)
  let failure: unknown = new FerryError('ERR_ABORTED', 'announcements abandoned by the reader')
  try {
    const silenceMs = 3 * await subscribe(io, d, options, true)
    while (true) {
      throwIfFired(signal)
      const msg = decodeAnnounceServerMessage(await readWithin(io, d, silenceMs, signal, 'announcements'))
      if (msg.type === 'error') throw errorFromWire(msg, d.peer)
      if (msg.type === 'announce-accepted') throw protocolError('unexpected', `Peer ${d.peer} accepted the subscription twice`)
      if (msg.type === 'announce-scan') yield { type: 'scan', row: toRemote(msg.row) }
      if (msg.type === 'announce-file') yield { type: 'file', file: msg.file }
    }
  } catch (err) {
    failure = err
    throw err
  } finally {
    end(io, failure)
  }
}
