/**
 * The serving side of /ferry/scan/2.0.0: one SCAN_REQUEST per stream, answered with SCAN_RECORD, then the
 * skipped entries and the entries in batches (one credit each, granted by the client's SCAN_MORE frames, so
 * a slow reader holds the server back), then SCAN_END; NOT_FOUND for a root this node has no scan of.
 */
import { FerryError } from '@ferry/errors'
import { MAX_SCAN_CLIENT_FRAME_BYTES, MAX_SCAN_CREDIT, SCAN_PROTOCOL } from './constants.js'
import {
  ScanBatcher, decodeScanClientMessage, encodeScanEnd, encodeScanRecord, encodeStatus, type ScanEntry, type SkippedEntry
} from './messages.js'
import { decide, openServed, type OpenedStream, type ServerContext } from './server-context.js'
import { StreamFailure } from './served-stream.js'
import type { LocalScan } from './types.js'
import type { Connection, Stream } from '@libp2p/interface'

/** One scan stream: the credit the client has granted and whether SCAN_END is due. */
interface ScanStream extends OpenedStream {
  ctx: ServerContext
  credit: number
  /** Every batch is sent: the client may close its side now. */
  complete: boolean
}

/** Reads SCAN_MORE frames after the request, adding their credit. */
async function readCredit (s: ScanStream): Promise<void> {
  const { io, served, signal } = s
  while (!signal.aborted) {
    const frame = await io.read()
    if (frame === null) {
      if (s.complete) return
      throw new FerryError('ERR_NETWORK', 'client closed the scan stream before its end')
    }
    const msg = decodeScanClientMessage(frame)
    if (msg.type === 'error') throw new FerryError('ERR_NETWORK', `client ended the scan stream: ${msg.message} (${msg.code})`)
    if (msg.type !== 'scan-more') throw new StreamFailure('protocol', 'a scan stream carries one SCAN_REQUEST')
    s.credit += msg.credit
    if (s.credit > MAX_SCAN_CREDIT) throw new StreamFailure('limit', `scan credit ${s.credit} exceeds the limit of ${MAX_SCAN_CREDIT}`)
    served.progress()
    s.poke()
  }
}

/** Writes one counted frame, first waiting for a credit. */
async function sendCounted (s: ScanStream, frame: Uint8Array): Promise<void> {
  const { signal } = s
  while (s.credit === 0) {
    if (signal.aborted) throw signal.reason
    await s.waitForPoke()
  }
  if (signal.aborted) throw signal.reason
  s.credit--
  await s.io.write(frame)
  s.served.progress()
}

/** SCAN_RECORD, the skipped entries, the entries and SCAN_END. */
async function sendScan (s: ScanStream, scan: LocalScan): Promise<void> {
  const r = scan.record
  await s.io.write(encodeScanRecord({
    root: r.root,
    collection: r.collection,
    name: r.name,
    origin: r.origin,
    files: r.files,
    directories: r.directories,
    symlinks: r.symlinks,
    bytes: r.bytes,
    created: r.created,
    skipped: r.skipped.length,
    signature: r.signature
  }))
  const credits = readCredit(s).catch(async (err) => { await s.served.fail(err) })

  const skipped = new ScanBatcher<SkippedEntry>('skipped')
  for (const e of r.skipped) {
    if (skipped.add(e)) await sendCounted(s, skipped.take())
  }
  if (skipped.size > 0) await sendCounted(s, skipped.take())

  const entries = new ScanBatcher<ScanEntry>('entries')
  let count = 0
  for await (const e of scan.entries()) {
    count++
    if (entries.add(e)) await sendCounted(s, entries.take())
  }
  if (entries.size > 0) await sendCounted(s, entries.take())
  s.complete = true
  await s.io.write(encodeScanEnd(count, r.skipped.length))
  void credits
}

/** Reads the SCAN_REQUEST, asks the access hook and answers it. */
async function serve (s: ScanStream): Promise<void> {
  const { ctx, io, served } = s
  const first = await io.read()
  if (first === null) return
  served.progress()
  served.started()
  const msg = decodeScanClientMessage(first)
  if (msg.type === 'error') return
  if (msg.type !== 'scan-request') throw new StreamFailure('protocol', 'a scan stream starts with SCAN_REQUEST')
  s.credit = msg.credit
  try {
    await decide(ctx.options.authorize, s.peer, SCAN_PROTOCOL, msg.root)
  } catch (err) {
    ctx.stats.refused++
    throw err
  }
  const scan = await ctx.options.scans?.getScan(msg.root)
  if (scan === undefined) {
    await io.write(encodeStatus(msg.root, 'not-found', `no scan with root ${msg.root.toString()} here`))
    return
  }
  await sendScan(s, scan)
}

/** The handler of SCAN_PROTOCOL streams. Anything wrong ends the stream with an ERROR frame naming the problem. */
export function scanHandler (ctx: ServerContext): (stream: Stream, connection: Connection) => Promise<void> {
  return async (stream, connection) => {
    const opened = openServed(ctx, 'scan', stream, connection, MAX_SCAN_CLIENT_FRAME_BYTES, 'no credit granted')
    const s: ScanStream = { ...opened, ctx, credit: 0, complete: false }
    try {
      await serve(s)
      await s.served.finish()
    } catch (err) {
      await s.served.fail(err)
    } finally {
      opened.untrack()
    }
  }
}
