/** `GET /v1/node`: who this node is. */
import type { FastifyInstance } from 'fastify'
import type { ApiContext } from '../context.js'
import { NoQuery, NodeBody, errors } from '../schemas.js'

export function nodeRoutes (app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/node', {
    schema: {
      querystring: NoQuery,
      operationId: 'getNode',
      tags: ['node'],
      summary: 'This node: PeerId, listening addresses, version, home, start time',
      response: { 200: NodeBody, ...errors() }
    }
  }, async () => ({ ...ctx.node(), version: ctx.version, home: ctx.home, api: ctx.url() }))
}
