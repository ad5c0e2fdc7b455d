/**
 * The web page (docs/api.md, "The web page"): `POST /v1/login-tokens` for `ferry web`, `GET /login?token=`
 * which trades a login token for the session cookie and redirects to `/`, and the page's files (`/`,
 * `/assets/*`) from @ferry/web. Everything but /login needs the bearer token or the cookie (server.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { WebAssets } from '@ferry/web'
import type { ApiContext } from '../context.js'
import { LoginTokenReply, NoQuery, errors } from '../schemas.js'
import { SESSION_IDLE_MS, type Sessions } from '../session.js'

/** The page's Content-Security-Policy: its own scripts, styles and API only, never framed. */
export const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/** The session cookie's name: per port, since browsers share cookies among all ports of a host. */
export function sessionCookieName (req: FastifyRequest): string {
  return `ferry_session_${req.socket.localPort ?? 0}`
}

function escapeHtml (s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** The page anyone without the token or the cookie gets: what Ferry is and how to log in. */
export function loginPage (req: FastifyRequest, reply: FastifyReply, status: number, why: string): FastifyReply {
  const port = String(req.socket.localPort ?? 'PORT')
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ferry: log in</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1d2430}code{background:#eef1f5;padding:.1rem .3rem;border-radius:3px}</style></head>
<body><main><h1>Ferry: log in</h1><p>${escapeHtml(why)}</p>
<p>On the machine that runs the daemon, run <code>ferry web</code>. It prints a link with a one-time login token (and opens it when it can); open that link in this browser.</p>
<p>From another machine, tunnel the port first: <code>ssh -L 8080:127.0.0.1:${port} site</code>, then open the link with <code>127.0.0.1:${port}</code> replaced by <code>localhost:8080</code>.</p></main></body></html>\n`
  return reply.code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
    .send(html)
}

function loginRoutes (app: FastifyInstance, ctx: ApiContext, sessions: Sessions): void {
  app.post('/v1/login-tokens', {
    schema: {
      querystring: NoQuery,
      operationId: 'createLoginToken',
      tags: ['web'],
      summary: 'A one-time login token for the web page (what `ferry web` prints): open `url` in a browser within 10 minutes',
      response: { 201: LoginTokenReply, ...errors() }
    }
  }, async (_req, reply) => {
    const { token, expires } = sessions.issue()
    return await reply.code(201).send({ token, url: `${ctx.url()}/login?token=${token}`, expires: new Date(expires).toISOString() })
  })

  app.get<{ Querystring: { token?: string } }>('/login', { schema: { hide: true } }, async (req, reply) => {
    const token = typeof req.query.token === 'string' ? req.query.token : ''
    const session = token === '' ? undefined : sessions.redeem(token)
    if (session === undefined) return await loginPage(req, reply, 401, 'This login link was used already or has expired (a link works once, within 10 minutes).')
    const cookie = `${sessionCookieName(req)}=${session}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_IDLE_MS / 1000}`
    // 303 to /: the token leaves the address bar and the history; no-referrer keeps it out of any later request
    return await reply.code(303).header('set-cookie', cookie).header('cache-control', 'no-store').header('location', '/').send()
  })
}

function assetRoutes (app: FastifyInstance, assets: WebAssets): void {
  const serve = async (req: FastifyRequest, reply: FastifyReply, path: string): Promise<FastifyReply> => {
    const asset = assets.get(path)
    if (asset === undefined) {
      const message = assets.size === 0 ? 'The web page was not built: run `npm run build` in the Ferry checkout' : `No file ${path}`
      return await reply.code(404).send({ error: { code: 'ERR_NOT_FOUND', message } })
    }
    void reply.header('etag', asset.etag).header('cache-control', 'no-cache').header('content-type', asset.type)
    if (asset.type.startsWith('text/html')) void reply.header('content-security-policy', PAGE_CSP)
    if (req.headers['if-none-match'] === asset.etag) return await reply.code(304).send()
    return await reply.send(asset.body)
  }
  app.get('/', { schema: { hide: true } }, async (req, reply) => await serve(req, reply, '/'))
  app.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, async (req, reply) => await serve(req, reply, `/assets/${req.params.file}`))
}

/** Registers the page's routes. */
export function webRoutes (app: FastifyInstance, ctx: ApiContext, sessions: Sessions, assets: WebAssets): void {
  loginRoutes(app, ctx, sessions)
  assetRoutes(app, assets)
}
