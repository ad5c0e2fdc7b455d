/** `GET /v1/node`: who this node is; `GET /v1/space`: free space where a pull would write. */
import type { FastifyInstance } from 'fastify'
import type { ApiContext } from '../context.js'
import { NoQuery, NodeBody, SpaceBody, SpaceQuery, errors } from '../schemas.js'
import type { Static } from 'typebox'

export function nodeRoutes (app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/node', {
    schema: {
      querystring: NoQuery,
      operationId: 'getNode',
      tags: ['node'],
      summary: 'This node: name, PeerId, listening addresses, version, home, start time, free space of the home\'s filesystem',
      response: { 200: NodeBody, ...errors() }
    }
  }, async () => ({ ...ctx.node(), version: ctx.version, home: ctx.home, api: ctx.url(), space: { path: ctx.home, ...await ctx.space(ctx.home) } }))

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
