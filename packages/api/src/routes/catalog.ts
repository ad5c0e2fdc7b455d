/** `GET /v1/peers/:name/catalog`: one page of a named peer's catalog, dialled from this node. */
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { FerryError } from '@ferry/errors'
import type { ApiContext } from '../context.js'
import { CATALOG_PAGE_DEFAULT, CATALOG_PAGE_MAX, CatalogQuery, CatalogReply, PeerParams, errors } from '../schemas.js'

function limitOf (value: string | undefined): number {
  const n = value === undefined ? CATALOG_PAGE_DEFAULT : Number(value)
  if (n > CATALOG_PAGE_MAX) throw new FerryError('ERR_INVALID_ARGUMENT', `querystring.limit: at most ${CATALOG_PAGE_MAX} rows a page, not ${n}`)
  return n
}

export function catalogRoutes (app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Params: Static<typeof PeerParams>, Querystring: Static<typeof CatalogQuery> }>('/v1/peers/:name/catalog', {
    schema: {
      querystring: CatalogQuery,
      params: PeerParams,
      operationId: 'listPeerCatalog',
      tags: ['peers'],
      summary: 'One page of the scans a named peer lets this node read (/ferry/catalog/1.0.0), each marked `held` if this node has it; `next` pages on',
      response: { 200: CatalogReply, ...errors(400, 403, 404, 502, 504) }
    }
  }, async (req) => {
    const { name } = req.params
    const peer = (await ctx.listPeers()).find((p) => p.name === name)
    if (peer === undefined) throw new FerryError('ERR_NOT_FOUND', `No peer named "${name}": add it first (POST /v1/peers, \`ferry peer add\`)`)
    const q = req.query
    const page = await ctx.remoteCatalog(peer, {
      limit: limitOf(q.limit),
      ...(q.collection !== undefined ? { collection: q.collection } : {}),
      ...(q.prefix !== undefined && q.prefix !== '' ? { prefix: q.prefix } : {}),
      ...(q.cursor !== undefined ? { cursor: new Uint8Array(Buffer.from(q.cursor, 'base64url')) } : {})
    })
    return {
      rows: page.rows.map((r) => ({ ...r, created: new Date(r.created).toISOString(), held: ctx.holds(r.root) })),
      next: page.next.byteLength === 0 ? null : Buffer.from(page.next).toString('base64url')
    }
  })
}
