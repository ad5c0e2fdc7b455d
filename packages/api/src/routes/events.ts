/** `GET /v1/events`: the daemon's events as server-sent events (sse.ts). */
import type { FastifyInstance } from 'fastify'
import type { ApiContext } from '../context.js'
import { NoQuery, errors } from '../schemas.js'
import { streamEvents, type EventStreamOptions } from '../sse.js'

export function eventRoutes (app: FastifyInstance, ctx: ApiContext, options: EventStreamOptions, streams: Set<() => void>): void {
  app.get('/v1/events', {
    schema: {
      querystring: NoQuery,
      operationId: 'streamEvents',
      tags: ['events'],
      summary: 'Server-sent events: peer:connected, peer:disconnected, peer:unreachable, peer:refused; a comment line every 15 s',
      response: {
        200: { description: 'text/event-stream: `id`, `event` (the type) and `data` (the event as JSON) per event', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        ...errors()
      }
    }
  }, (req, reply) => {
    reply.hijack()
    const end = streamEvents(reply.raw, ctx.events, options)
    streams.add(end)
    req.raw.on('close', () => { streams.delete(end) })
  })
}
