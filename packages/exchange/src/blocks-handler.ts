/**
 * The serving side of /ferry/blocks/1.0.0. Per stream, two loops: a reader that validates each inbound
 * frame, asks the access hook, checks the pending limit and queues CIDs; and a sender that looks up to
 * `readAhead` blocks up ahead in the source and writes answers in request order, waiting for the stream to
 * drain after each frame (so a slow reader holds back the sender instead of filling memory).
 */
import { FerryError, errorMessage } from '@ferry/errors'
import { ANSWER_BATCH_BYTES, BLOCKS_PROTOCOL, MAX_BLOCKS_CLIENT_FRAME_BYTES, MAX_PENDING_PER_STREAM, SMALL_BLOCK_BYTES, SMALL_READ_AHEAD } from './constants.js'
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

/** A lookup under way, with its result once it settled (so answers already known can go out together). */
interface Ahead { cid: CID, result: Promise<BlockLookup | StreamFailure>, settled?: BlockLookup | StreamFailure }

function lookAhead (s: BlocksStream, cid: CID): Ahead {
  const a: Ahead = { cid, result: checkedLookup(s, cid) }
  a.result.then((r) => { a.settled = r }, () => {})
  return a
}

/**
 * Looks blocks up `readAhead` ahead and writes the answers in request order, until the queue is drained.
 * The first answer is awaited; the answers after it that are already known go out with it in one write (up
 * to ANSWER_BATCH_BYTES), so many small blocks cost one muxer frame and one encryption, not one each.
 */
async function sendAnswers (s: BlocksStream): Promise<void> {
  const { ctx, signal } = s
  const ahead: Ahead[] = []
  let readAhead = ctx.options.readAhead
  while (!signal.aborted) {
    while (ahead.length < readAhead && s.queue.length > 0) ahead.push(lookAhead(s, s.queue.shift() as CID))
    const head = ahead.shift()
    if (head === undefined) {
      if (s.inputEnded) return
      await s.waitForPoke()
      continue
    }
    const first = await head.result
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the stream may end while the result is awaited
    if (signal.aborted) return
    const batch: Array<{ cid: CID, result: BlockLookup | StreamFailure }> = [{ cid: head.cid, result: first }]
    let bytes = first instanceof StreamFailure || first.status !== 'ok' ? 0 : first.bytes.byteLength
    while (bytes < ANSWER_BATCH_BYTES && ahead[0]?.settled !== undefined) {
      const next = ahead.shift() as Ahead
      const r = next.settled as BlockLookup | StreamFailure
      batch.push({ cid: next.cid, result: r })
      if (!(r instanceof StreamFailure) && r.status === 'ok') bytes += r.bytes.byteLength
    }
    // small blocks: look further ahead, so that more answers are known when the next write goes out
    readAhead = bytes <= SMALL_BLOCK_BYTES * batch.length ? Math.max(ctx.options.readAhead, SMALL_READ_AHEAD) : ctx.options.readAhead
    await sendBatch(s, batch)
  }
}

/** Writes the answers of `batch` in one go; a refusal among them is sent after those before it, then ends the stream. */
async function sendBatch (s: BlocksStream, batch: Array<{ cid: CID, result: BlockLookup | StreamFailure }>): Promise<void> {
  const { ctx, io, served } = s
  const frames: Array<ReturnType<typeof answer>['frame']> = []
  let failure: StreamFailure | undefined
  let bytes = 0
  let blocks = 0
  for (const { cid, result } of batch) {
    if (result instanceof StreamFailure) {
      failure = result
      break
    }
    const a = answer(cid, result)
    frames.push(a.frame)
    bytes += a.bytes
    if (result.status === 'ok') blocks++
  }
  if (frames.length === 1) await io.write(frames[0] as Uint8Array)
  else if (frames.length > 1) await io.writeMany(frames)
  s.pending -= frames.length
  ctx.stats.blocksSent += blocks
  ctx.stats.bytesSent += bytes
  if (frames.length > 0) served.progress()
  if (failure !== undefined) {
    if (failure.code === 'denied') ctx.stats.refused++
    throw failure
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
