/**
 * The daemon's HTTP API (docs/api.md): Fastify on 127.0.0.1, every request authenticated with the home's
 * bearer token, every body, parameter and query checked against its JSON schema, errors as
 * `{ error: { code, message } }` with the status from one table (errors.ts), the OpenAPI document built
 * from the same schemas.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import { FerryError } from '@ferry/errors'
import type { ApiContext } from './context.js'
import { errorReply } from './errors.js'
import { NoQuery, errors } from './schemas.js'
import { eventRoutes } from './routes/events.js'
import { nodeRoutes } from './routes/node.js'
import { peerRoutes } from './routes/peers.js'
import { subscriptionRoutes } from './routes/subscriptions.js'
import type { EventStreamOptions } from './sse.js'
import { tokenMatches } from './token.js'
import type { WebAssets } from '@ferry/web'
import { catalogRoutes } from './routes/catalog.js'
import { loginPage, sessionCookieName, webRoutes } from './routes/web.js'
import { cookieValue, createSessions, type Sessions } from './session.js'

/** Largest request body accepted. */
export const MAX_BODY_BYTES = 64 * 1024

/** Options of `buildApi`. */
export interface BuildApiOptions {
  /** The bearer token every request must carry. */
  token: string
  /** Heartbeat and per-client buffer of GET /v1/events. */
  events?: EventStreamOptions
  /** The web page's files (@ferry/web `loadWebAssets`); none: the page answers that it was not built. */
  assets?: WebAssets
}

function openapiInfo (version: string): Parameters<typeof swagger>[1] {
  return {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Ferry daemon API', version, description: 'The HTTP API of a running `ferry daemon` (docs/api.md). Listens on 127.0.0.1; the base URL is in daemon.json (`api`) and `ferry id --json`.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The token in the home\'s api-token file' } } },
      security: [{ bearer: [] }]
    }
  }
}

/**
 * Every request but /login needs the bearer token or a session cookie from /login. Without either, /v1/*
 * answers the JSON 401 and everything else the login page. A request that changes something on the
 * strength of the cookie must come from the page itself (Origin is this host), on top of SameSite=Strict.
 */
function authenticate (app: FastifyInstance, ctx: ApiContext, token: string, sessions: Sessions): void {
  app.addHook('onRequest', async (req, reply) => {
    const route = req.url.split('?')[0] ?? ''
    if (route === '/login') return
    const header = req.headers.authorization
    if (header !== undefined) {
      if (!tokenMatches(header, token)) throw new FerryError('ERR_UNAUTHORIZED', `Wrong bearer token: use the one in ${ctx.home}/api-token`)
      return
    }
    const session = cookieValue(req.headers.cookie, sessionCookieName(req))
    if (session !== undefined && sessions.valid(session)) {
      const safe = req.method === 'GET' || req.method === 'HEAD'
      if (!safe && req.headers.origin !== `http://${req.headers.host ?? ''}`) {
        throw new FerryError('ERR_UNAUTHORIZED', `Refused ${req.method} from origin ${req.headers.origin ?? '(none)'}: the session cookie works only from the page itself`)
      }
      return
    }
    if (!route.startsWith('/v1/')) return await loginPage(req, reply, 401, 'You are not logged in to this Ferry daemon (or it restarted since).')
    throw new FerryError('ERR_UNAUTHORIZED', `Missing bearer token: send "Authorization: Bearer <token>" with the token in ${ctx.home}/api-token (in a browser: run \`ferry web\`)`)
  })
  app.addHook('onSend', async (_req, reply) => {
    void reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer').header('x-frame-options', 'DENY')
  })
}

/** The API's Fastify app for `ctx`, routes registered and ready, not listening. */
export async function buildApi (ctx: ApiContext, options: BuildApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: MAX_BODY_BYTES,
    forceCloseConnections: true,
    return503OnClosing: true,
    // Fastify's default drops unknown fields silently and coerces types; a request with junk is refused instead
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } }
  })
  const streams = new Set<() => void>()
  app.setErrorHandler(async (err, _req, reply) => {
    const { status, body } = errorReply(err)
    if (status === 401) void reply.header('www-authenticate', 'Bearer realm="ferry"')
    return await reply.code(status).send(body)
  })
  app.setNotFoundHandler(async (req, reply) => await reply.code(404).send({
    error: { code: 'ERR_NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0] ?? ''}: GET /v1/openapi.json lists them` }
  }))
  const sessions = createSessions()
  authenticate(app, ctx, options.token, sessions)
  await app.register(swagger, openapiInfo(ctx.version))
  nodeRoutes(app, ctx)
  peerRoutes(app, ctx)
  subscriptionRoutes(app, ctx)
  catalogRoutes(app, ctx)
  webRoutes(app, ctx, sessions, options.assets ?? new Map())
  eventRoutes(app, ctx, options.events ?? {}, streams)
  app.get('/v1/openapi.json', {
    schema: { querystring: NoQuery, operationId: 'getOpenApi', tags: ['meta'], summary: 'This document (OpenAPI 3.1)', response: { 200: { type: 'object', additionalProperties: true, description: 'The OpenAPI document' }, ...errors() } }
  }, async () => app.swagger())
  app.addHook('onClose', async () => { for (const end of [...streams]) end() })
  await app.ready()
  return await app
}
