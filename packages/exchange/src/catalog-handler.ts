/**
 * The serving side of /ferry/catalog/1.0.0: a stream carries CATALOG_REQUEST frames one after another,
 * each checked with the access hook (the peer alone: trust), its page size against MAX_CATALOG_PAGE_ROWS
 * (ERROR LIMIT) and answered with one CATALOG_PAGE: the rows the `CatalogSource` gives for that peer (only
 * what it may read) after the request's cursor, packed up to CATALOG_PAGE_BYTES, and the cursor of what
 * follows (empty on the last page). The client closes its side when it has what it wants.
 */
import { ByteReader, ByteWriter } from './codec.js'
import { CatalogPageBuilder, decodeCatalogClientMessage, type CatalogRequest } from './catalog-messages.js'
import { CATALOG_PROTOCOL, MAX_CATALOG_CLIENT_FRAME_BYTES, MAX_CATALOG_PAGE_ROWS } from './constants.js'
import { decide, openServed, type OpenedStream, type ServerContext } from './server-context.js'
import { StreamFailure } from './served-stream.js'
import type { CatalogQuery, CatalogSlice } from './types.js'
import type { Connection, Stream } from '@libp2p/interface'

/** The cursor this server hands out: the varint of the last row's position. */
export function encodeCatalogCursor (position: number): Uint8Array {
  return new ByteWriter(8).varint(position).finish().slice()
}

/** The position a cursor from a client names (undefined: from the start); ERR_PROTOCOL if it is not one of ours. */
export function decodeCatalogCursor (cursor: Uint8Array): number | undefined {
  if (cursor.byteLength === 0) return undefined
  const r = new ByteReader(cursor, 'catalog cursor')
  const position = r.varint('position')
  r.end()
  return position
}

function queryOf (req: CatalogRequest, after: number | undefined): CatalogQuery {
  return {
    limit: req.pageSize,
    ...(req.collection !== null ? { collection: req.collection } : {}),
    ...(req.prefix !== '' ? { prefix: req.prefix } : {}),
    ...(after !== undefined ? { after } : {})
  }
}

/** One page as a frame: the slice's rows up to the byte budget, and the cursor after the last one sent. */
function pageFrame (slice: CatalogSlice, limit: number): Uint8Array {
  const rows = slice.rows.slice(0, limit)
  const page = new CatalogPageBuilder()
  let sent = 0
  while (sent < rows.length) {
    const full = page.add((rows[sent] as CatalogSlice['rows'][number]).row)
    sent++
    if (full) break
  }
  const more = sent < rows.length || slice.more
  const last = rows[sent - 1]
  return page.take(more && last !== undefined ? encodeCatalogCursor(last.position) : new Uint8Array(0))
}

/** Checks and answers one CATALOG_REQUEST. */
async function answer (ctx: ServerContext, s: OpenedStream, req: CatalogRequest): Promise<void> {
  try {
    await decide(ctx.options.authorize, s.peer, CATALOG_PROTOCOL)
  } catch (err) {
    ctx.stats.refused++
    throw err
  }
  if (req.pageSize > MAX_CATALOG_PAGE_ROWS) {
    throw new StreamFailure('limit', `catalog page size ${req.pageSize} exceeds the limit of ${MAX_CATALOG_PAGE_ROWS} rows`)
  }
  const after = decodeCatalogCursor(req.cursor)
  const source = ctx.options.catalog
  const slice = source === undefined ? { rows: [], more: false } : await source.page(s.peer, queryOf(req, after))
  await s.io.write(pageFrame(slice, req.pageSize))
  s.served.progress()
}

/** Answers requests until the client closes its side. */
async function serve (ctx: ServerContext, s: OpenedStream): Promise<void> {
  while (!s.signal.aborted) {
    const frame = await s.io.read()
    if (frame === null) return
    s.served.progress()
    s.served.started()
    const msg = decodeCatalogClientMessage(frame)
    if (msg.type === 'error') return
    await answer(ctx, s, msg)
  }
}

/** The handler of CATALOG_PROTOCOL streams. Anything wrong ends the stream with an ERROR frame naming the problem. */
export function catalogHandler (ctx: ServerContext): (stream: Stream, connection: Connection) => Promise<void> {
  return async (stream, connection) => {
    const s = openServed(ctx, 'catalog', stream, connection, MAX_CATALOG_CLIENT_FRAME_BYTES, 'no catalog request')
    try {
      await serve(ctx, s)
      await s.served.finish()
    } catch (err) {
      await s.served.fail(err)
    } finally {
      s.untrack()
    }
  }
}
