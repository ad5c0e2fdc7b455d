/**
 * The serving side of /ferry/blocks/1.0.0. Per stream, two loops: a reader that validates each inbound
 * frame, asks the access hook, checks the pending limit and queues CIDs; and a sender that looks up to
 * `readAhead` blocks up ahead in the source and writes answers in request order, waiting for the stream to
 * drain after each frame (so a slow reader holds back the sender instead of filling memory).
 */
import { FerryError, errorMessage } from '@ferry/errors'
import { BLOCKS_PROTOCOL, MAX_BLOCKS_CLIENT_FRAME_BYTES, MAX_PENDING_PER_STREAM } from './constants.js'
import { decodeBlocksClientMessage, encodeBlock, encodeStatus } from './messages.js'
import { decide, openServed, type OpenedStream, type ServerContext } from './server-context.js'
import { StreamFailure } from './served-stream.js'
import type { BlockLookup } from './types.js'
import type { Connection, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** One blocks stream: what the reader queued for the sender. */
interface BlocksStream extends OpenedStream {
  ctx: ServerContext
  queue: CID[]
  /** CIDs requested and not yet answered. */
  pending: number
  /** The client closed its side: the sender ends once the queue is drained. */
  inputEnded: boolean
}

async function lookup (ctx: ServerContext, cid: CID, signal: AbortSignal): Promise<BlockLookup> {
  try {
    return await ctx.options.blocks.get(cid, { signal })
  } catch (err) {
    if (signal.aborted) return { status: 'missing', message: 'stream ended' } // never sent; must not reject unawaited
    ctx.log.error('reading block %s failed: %e', cid, err)
    return { status: 'missing', message: `could not read block: ${errorMessage(err)}` }
  }
}

function answer (cid: CID, result: BlockLookup): { frame: Uint8Array | ReturnType<typeof encodeBlock>, bytes: number } {
  switch (result.status) {
    case 'ok': return { frame: encodeBlock(cid, result.bytes), bytes: result.bytes.byteLength }
    case 'changed': return { frame: encodeStatus(cid, 'changed', result.message), bytes: 0 }
    default: return { frame: encodeStatus(cid, 'not-found', result.message ?? 'not here'), bytes: 0 }
  }
}

/** Reads REQUEST frames until the client closes its side, queueing their CIDs for the sender. */
async function readRequests (s: BlocksStream): Promise<void> {
  const { ctx, io, served, signal, peer } = s
  while (!signal.aborted) {
    const frame = await io.read()
    if (frame === null) {
      s.inputEnded = true
      s.poke()
      return
    }
    served.progress()
    served.started()
    const msg = decodeBlocksClientMessage(frame)
    if (msg.type === 'error') throw new FerryError('ERR_NETWORK', `client ended the stream: ${msg.message} (${msg.code})`)
    try {
      await decide(ctx.options.authorize, peer, BLOCKS_PROTOCOL)
    } catch (err) {
      ctx.stats.refused++
      throw err
    }
    // a peer asking faster than its rate waits here (all its streams share one budget)
    if (await ctx.limits.take(peer.toString(), msg.cids.length, signal) > 0) ctx.stats.throttled++
    if (s.pending + msg.cids.length > MAX_PENDING_PER_STREAM) {
      throw new StreamFailure('limit', `${s.pending + msg.cids.length} blocks requested and not yet answered on one stream: the limit is ${MAX_PENDING_PER_STREAM}`)
    }
    s.pending += msg.cids.length
    s.queue.push(...msg.cids)
    s.poke()
  }
}

/** Each block is authorised on its own right before it is read: a refusal comes back instead of a lookup. */
async function checkedLookup (s: BlocksStream, cid: CID): Promise<BlockLookup | StreamFailure> {
  try {
    await decide(s.ctx.options.authorize, s.peer, BLOCKS_PROTOCOL, undefined, cid)
  } catch (err) {
    return err instanceof StreamFailure ? err : new StreamFailure('internal', String(err))
  }
  return await lookup(s.ctx, cid, s.signal)
}

/** Looks blocks up `readAhead` ahead and writes the answers in request order, until the queue is drained. */
async function sendAnswers (s: BlocksStream): Promise<void> {
  const { ctx, io, served, signal } = s
  const ahead: Array<{ cid: CID, result: Promise<BlockLookup | StreamFailure> }> = []
  while (!signal.aborted) {
    while (ahead.length < ctx.options.readAhead && s.queue.length > 0) {
      const cid = s.queue.shift() as CID
      ahead.push({ cid, result: checkedLookup(s, cid) })
    }
    const head = ahead.shift()
    if (head === undefined) {
      if (s.inputEnded) return
      await s.waitForPoke()
      continue
    }
    const result = await head.result
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the stream may end while the result is awaited
    if (signal.aborted) return
    if (result instanceof StreamFailure) {
      if (result.code === 'denied') ctx.stats.refused++
      throw result
    }
    const { frame, bytes } = answer(head.cid, result)
    await io.write(frame)
    s.pending--
    if (result.status === 'ok') ctx.stats.blocksSent++
    ctx.stats.bytesSent += bytes
    served.progress()
  }
}

/** The handler of BLOCKS_PROTOCOL streams. Anything wrong ends the stream with an ERROR frame naming the problem. */
export function blocksHandler (ctx: ServerContext): (stream: Stream, connection: Connection) => Promise<void> {
  return async (stream, connection) => {
    const opened = openServed(ctx, 'blocks', stream, connection, MAX_BLOCKS_CLIENT_FRAME_BYTES, 'no request')
    const s: BlocksStream = { ...opened, ctx, queue: [], pending: 0, inputEnded: false }
    const { served } = s
    try {
      // The reader ends first (client closed its side); the sender then drains what is queued.
      await Promise.all([
        readRequests(s).catch(async (err) => { await served.fail(err) }),
        sendAnswers(s).catch(async (err) => { await served.fail(err) })
      ])
      await served.finish()
    } finally {
      opened.untrack()
    }
  }
}
