/**
 * The serving side of /ferry/announce/1.0.0: one ANNOUNCE_SUBSCRIBE per stream (a collection, or every
 * one), checked with the access hook (the peer), answered with ANNOUNCE_ACCEPTED; from then on, until either
 * end closes, one ANNOUNCE_SCAN for every scan the `CatalogSource` reports completed in that collection that
 * the peer may read at that moment (asked per announcement, so a grant or a revocation applies to the next
 * one; a scan it may not read is left out, not marked), and ANNOUNCE_KEEPALIVE after each keep-alive
 * interval without one. Trust is asked again before every frame: an untrusted peer's subscription ends with
 * ERROR DENIED within one interval. At most MAX_ANNOUNCE_QUEUE announcements wait for a slow subscriber;
 * beyond that it is ended with ERROR LIMIT and catches up with a catalog listing.
 */
import { decodeAnnounceClientMessage, encodeAnnounceAccepted, encodeAnnounceKeepAlive, encodeAnnounceScan, type CatalogRow } from './catalog-messages.js'
import { ANNOUNCE_PROTOCOL, MAX_ANNOUNCE_QUEUE, MAX_CATALOG_CLIENT_FRAME_BYTES } from './constants.js'
import { decide, openServed, type OpenedStream, type ServerContext } from './server-context.js'
import { StreamFailure } from './served-stream.js'
import type { Connection, Stream } from '@libp2p/interface'

/** One subscription: what it waits to send, and whether the client has closed its side. */
interface AnnounceStream extends OpenedStream {
  queue: CatalogRow[]
  clientDone: boolean
}

/** Asks the access hook about the peer; a refusal is counted and ends the stream (ERROR DENIED). */
async function checkPeer (ctx: ServerContext, s: AnnounceStream): Promise<void> {
  try {
    await decide(ctx.options.authorize, s.peer, ANNOUNCE_PROTOCOL)
  } catch (err) {
    ctx.stats.refused++
    throw err
  }
}

/** Reads what the client sends after its subscription: only its close (or an ERROR) is allowed. */
async function watchClient (s: AnnounceStream): Promise<void> {
  const frame = await s.io.read()
  if (frame !== null) {
    const msg = decodeAnnounceClientMessage(frame)
    if (msg.type !== 'error') throw new StreamFailure('protocol', 'an announce stream carries one ANNOUNCE_SUBSCRIBE')
  }
  s.clientDone = true
  s.poke()
}

/** Waits for a poke (a queued row, the client's close, the stream's end) or `ms`; true if the time ran out. */
async function pause (s: AnnounceStream, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = await new Promise<boolean>((resolve) => {
    timer = setTimeout(() => { resolve(true) }, ms)
    void s.waitForPoke().then(() => { resolve(false) })
  })
  clearTimeout(timer)
  return timedOut
}

/** Sends queued announcements the peer may read, and keep-alives in quiet spells, until either end stops. */
async function sendLoop (ctx: ServerContext, s: AnnounceStream): Promise<void> {
  const keepAliveMs = ctx.timeouts.keepAliveMs
  while (!s.signal.aborted && !s.clientDone) {
    const row = s.queue.shift()
    if (row === undefined) {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- both change while pause() waits
      if (!await pause(s, keepAliveMs) || s.signal.aborted || s.clientDone) continue
      await checkPeer(ctx, s)
      await s.io.write(encodeAnnounceKeepAlive())
      s.served.progress()
      continue
    }
    await checkPeer(ctx, s)
    if (ctx.options.catalog?.mayRead(s.peer, row.collection) !== true) continue
    await s.io.write(encodeAnnounceScan(row))
    s.served.progress()
  }
}

/** Reads the subscription, checks the peer, then announces until either end stops. */
async function serve (ctx: ServerContext, s: AnnounceStream): Promise<void> {
  const first = await s.io.read()
  if (first === null) return
  s.served.progress()
  s.served.started()
  const msg = decodeAnnounceClientMessage(first)
  if (msg.type === 'error') return
  await checkPeer(ctx, s)
  const { collection } = msg
  const unwatch = ctx.options.catalog?.watch?.((row) => {
    if (collection !== null && row.collection !== collection) return
    if (s.queue.length >= MAX_ANNOUNCE_QUEUE) {
      void s.served.fail(new StreamFailure('limit', `${MAX_ANNOUNCE_QUEUE} announcements wait for this subscriber: catch up with a catalog listing`))
      return
    }
    s.queue.push(row)
    s.poke()
  })
  try {
    await s.io.write(encodeAnnounceAccepted(ctx.timeouts.keepAliveMs))
    s.served.progress()
    watchClient(s).catch(async (err) => { await s.served.fail(err) })
    await sendLoop(ctx, s)
  } finally {
    unwatch?.()
  }
}

/** The handler of ANNOUNCE_PROTOCOL streams. Anything wrong ends the stream with an ERROR frame naming the problem. */
export function announceHandler (ctx: ServerContext): (stream: Stream, connection: Connection) => Promise<void> {
  return async (stream, connection) => {
    const opened = openServed(ctx, 'announce', stream, connection, MAX_CATALOG_CLIENT_FRAME_BYTES, 'the subscriber took no announcement')
    const s: AnnounceStream = { ...opened, queue: [], clientDone: false }
    try {
      await serve(ctx, s)
      await s.served.finish()
    } catch (err) {
      await s.served.fail(err)
    } finally {
      opened.untrack()
    }
  }
}
