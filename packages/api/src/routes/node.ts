/** `GET /v1/node`: who this node is; `GET /v1/space`: free space where a pull would write. */
import type { FastifyInstance } from 'fastify'
import type { ApiContext } from '../context.js'
import { DESTINATIONS_SHOWN, NoQuery, NodeBody, SpaceBody, SpaceQuery, errors } from '../schemas.js'
import type { Static } from 'typebox'

type Use = 'task' | 'subscription'

/** The destinations written to now (live tasks', then subscriptions'), each with what writes there, at most DESTINATIONS_SHOWN. */
function destinationsInUse (ctx: ApiContext): Map<string, Use[]> {
  const out = new Map<string, Use[]>()
  const add = (path: string, use: Use): void => {
    const uses = out.get(path)
    if (uses === undefined) {
      if (out.size < DESTINATIONS_SHOWN) out.set(path, [use])
    } else if (!uses.includes(use)) uses.push(use)
  }
  for (const t of ctx.tasks?.()?.list({ conditions: ['ACTIVE', 'QUEUED'], limit: DESTINATIONS_SHOWN }) ?? []) add(t.destination, 'task')
  for (const s of ctx.subscriptions?.()?.list() ?? []) add(s.destination, 'subscription')
  return out
}

/** Each destination in use with the free space of its filesystem (measured in parallel). */
async function destinationSpace (ctx: ApiContext): Promise<Array<{ path: string, available: number, total: number, use: Use[] }>> {
  return await Promise.all([...destinationsInUse(ctx)].map(async ([path, use]) => ({ path, ...await ctx.space(path), use })))
}

export function nodeRoutes (app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/node', {
    schema: {
      querystring: NoQuery,
      operationId: 'getNode',
      tags: ['node'],
      summary: 'This node: name, PeerId, listening addresses, version, home, start time, free space of the home\'s filesystem and of each destination in use',
      response: { 200: NodeBody, ...errors() }
    }
  }, async () => ({ ...ctx.node(), version: ctx.version, home: ctx.home, api: ctx.url(), space: { path: ctx.home, ...await ctx.space(ctx.home) }, destinations: await destinationSpace(ctx) }))

  app.get<{ Querystring: Static<typeof SpaceQuery> }>('/v1/space', {
    schema: {
      querystring: SpaceQuery,
      operationId: 'getSpace',
      tags: ['node'],
      summary: 'Free and total bytes of the filesystem that holds a path (or, for a path not made yet, its nearest existing ancestor): for a pull\'s destination',
      response: { 200: SpaceBody, ...errors(400, 500) }
    }
  }, async (req) => ({ path: req.query.path, ...await ctx.space(req.query.path) }))
}
