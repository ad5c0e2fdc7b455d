/**
 * The reading side of one /ferry/scan/2.0.0 stream, as a state machine in the manner of iroh-blobs'
 * `get::fsm`: the frames must come in the order record → skipped → entries → end, each state is an object
 * of its own whose `next()` reads only the frames that state allows and returns the next state, and each
 * state has its own errors (all ERR_PROTOCOL unless said otherwise).
 *
 * The reader does no I/O itself: it is handed `read` (the next message, with the ERROR frame, the silence
 * and the early end of the stream already turned into errors) and `grant` (one more credit to the server).
 */
import { FerryError } from '@ferry/errors'
import { protocolError } from './codec.js'
import { MAX_SCAN_ENTRIES } from './constants.js'
import type { ErrorMessage, ScanEntry, ScanServerMessage, SkippedEntry, WireScanRecord } from './messages.js'
import type { RemoteScanRecord } from './types.js'
import type { CID } from 'multiformats/cid'

/** The frames of one scan stream, as the reader needs them. */
export interface ScanFrames {
  /** The next message (an ERROR frame, a timeout or the end of the stream rejects instead). */
  read: () => Promise<Exclude<ScanServerMessage, ErrorMessage>>
  /** Grants the server one more frame. */
  grant: () => void
}

/** What the reader says in its errors. */
export interface ScanReaderInit {
  /** The root asked for. */
  root: CID
  /** The peer's PeerId string. */
  peer: string
  /** "scan <root> from peer <peer>". */
  what: string
}

/** State `record`: the request is sent; SCAN_RECORD (or NOT_FOUND) comes first. */
export interface AtRecord {
  readonly state: 'record'
  /**
   * Reads SCAN_RECORD. ERR_ROOT_NOT_FOUND if the peer has no such scan; ERR_PROTOCOL for another frame, a
   * record of another root, or more skipped entries announced than MAX_SCAN_ENTRIES.
   */
  next: () => Promise<AtSkipped>
}

/** State `skipped`: the record is read; the skipped entries it announced come next, in SCAN_SKIPPED frames. */
export interface AtSkipped {
  readonly state: 'skipped'
  /** SCAN_RECORD as received. */
  readonly announced: WireScanRecord
  /** Reads every skipped entry. ERR_PROTOCOL for another frame before the last, or a count other than announced. */
  next: () => Promise<AtEntries>
}

/** State `entries`: the record is complete; SCAN_ENTRIES frames come until SCAN_END. */
export interface AtEntries {
  readonly state: 'entries'
  readonly record: RemoteScanRecord
  /** Entries received so far. */
  readonly received: number
  /**
   * The next batch of entries (first granting a credit for the batch before it), or the `end` state at
   * SCAN_END. ERR_PROTOCOL for more than MAX_SCAN_ENTRIES entries, another frame, or an end whose counts
   * are not those sent.
   */
  next: () => Promise<EntryBatch | AtEnd>
}

/** One SCAN_ENTRIES frame's entries; the reader stays in state `entries`. */
export interface EntryBatch {
  readonly state: 'entries'
  readonly entries: ScanEntry[]
}

/** State `end`: SCAN_END read and its counts checked; nothing more may come. */
export interface AtEnd {
  readonly state: 'end'
  readonly record: RemoteScanRecord
  /** Entries received. */
  readonly entries: number
}

/** A scan reader in its first state. */
export function scanReader (frames: ScanFrames, init: ScanReaderInit): AtRecord {
  return {
    state: 'record',
    next: async () => atSkipped(frames, init, await readRecord(frames, init))
  }
}

async function readRecord (frames: ScanFrames, { root, peer, what }: ScanReaderInit): Promise<WireScanRecord> {
  const first = await frames.read()
  if (first.type === 'status') {
    throw new FerryError('ERR_ROOT_NOT_FOUND', `Root ${root.toString()} is not on peer ${peer}`, { details: { peer, root: root.toString(), message: first.message } })
  }
  if (first.type !== 'scan-record') throw protocolError('unexpected', `Peer ${peer} did not start ${what} with SCAN_RECORD`)
  const r = first.record
  if (r.root.toString() !== root.toString()) throw protocolError('malformed', `Peer ${peer} answered for root ${r.root.toString()} when asked for ${root.toString()}`)
  if (r.skipped > MAX_SCAN_ENTRIES) throw protocolError('malformed', `Peer ${peer} announced ${r.skipped} skipped entries for ${what}: the limit is ${MAX_SCAN_ENTRIES}`)
  return r
}

function atSkipped (frames: ScanFrames, init: ScanReaderInit, announced: WireScanRecord): AtSkipped {
  return {
    state: 'skipped',
    announced,
    next: async () => atEntries(frames, init, await readSkipped(frames, init, announced))
  }
}

async function readSkipped (frames: ScanFrames, { peer, what }: ScanReaderInit, r: WireScanRecord): Promise<RemoteScanRecord> {
  const skipped: SkippedEntry[] = []
  while (skipped.length < r.skipped) {
    const msg = await frames.read()
    if (msg.type !== 'scan-skipped') throw protocolError('unexpected', `Peer ${peer} sent ${msg.type} before all ${r.skipped} skipped entries of ${what}`)
    skipped.push(...msg.skipped)
    frames.grant()
  }
  if (skipped.length !== r.skipped) throw protocolError('malformed', `Peer ${peer} sent ${skipped.length} skipped entries for ${what}, announced ${r.skipped}`)
  return {
    root: r.root.toString(),
    collection: r.collection,
    name: r.name,
    origin: r.origin,
    files: r.files,
    directories: r.directories,
    symlinks: r.symlinks,
    bytes: r.bytes,
    skipped,
    created: r.created,
    ...(r.signature !== undefined ? { signature: r.signature } : {})
  }
}

function atEntries (frames: ScanFrames, { peer, what }: ScanReaderInit, record: RemoteScanRecord): AtEntries {
  let received = 0
  let batches = 0
  const next = async (): Promise<EntryBatch | AtEnd> => {
    if (batches > 0) frames.grant() // the batch before this one has been taken
    const msg = await frames.read()
    if (msg.type === 'scan-entries') {
      received += msg.entries.length
      if (received > MAX_SCAN_ENTRIES) throw protocolError('too-large', `Peer ${peer} sent more than ${MAX_SCAN_ENTRIES} entries for ${what}`)
      batches++
      return { state: 'entries', entries: msg.entries }
    }
    if (msg.type === 'scan-end') {
      if (msg.entries !== received || msg.skipped !== record.skipped.length) {
        throw protocolError('malformed', `Peer ${peer} ended ${what} claiming ${msg.entries} entries and ${msg.skipped} skipped, but sent ${received} and ${record.skipped.length}`)
      }
      return { state: 'end', record, entries: received }
    }
    throw protocolError('unexpected', `Peer ${peer} sent ${msg.type} inside the entries of ${what}`)
  }
  return {
    state: 'entries',
    record,
    get received () { return received },
    next
  }
}
