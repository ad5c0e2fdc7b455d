/**
 * @ferry/api without a daemon: the app on a stand-in context, over real loopback HTTP where a socket
 * matters (server-sent events), through Fastify's request pipeline (`inject`) elsewhere.
 */
import { connect } from 'node:net'
import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { FerryError, type ErrorCode } from '@ferry/errors'
import { createEventBus, type EventBus } from '@ferry/node'
import { HTTP_STATUS, buildApi, createSessions, openapiDocument, tokenMatches, type ApiContext } from '@ferry/api'
import type { FastifyInstance } from 'fastify'

const TOKEN = 'test-token'
const auth = { authorization: `Bearer ${TOKEN}` }

function context (events: EventBus, overrides: Partial<ApiContext> = {}): ApiContext {
  return {
    home: '/h',
    version: '0.1.0',
    node: () => ({ name: 'host', peerId: '12D3KooW', addresses: [], started: new Date(0).toISOString() }),
    space: async () => ({ available: 1, total: 2 }),
    remoteCatalog: async () => { throw new FerryError('ERR_INTERNAL', 'unused') },
    holds: () => false,
    url: () => 'http://127.0.0.1:1',
    listPeers: async () => [],
    trusted: async () => [],
    addPeer: async () => { throw new FerryError('ERR_INTERNAL', 'unused') },
    removePeer: async () => { throw new FerryError('ERR_INTERNAL', 'unused') },
    peerState: () => ({ state: 'unknown', since: null, reason: null }),
    checkPeer: () => {},
    events,
    ...overrides
  }
}

const apps: FastifyInstance[] = []
afterEach(async () => { await Promise.all(apps.splice(0).map(async (a) => { await a.close() })) })

async function app (events: EventBus, overrides: Partial<ApiContext> = {}, options: Parameters<typeof buildApi>[1] = { token: TOKEN }): Promise<FastifyInstance> {
  const a = await buildApi(context(events, overrides), options)
  apps.push(a)
  return a
}

describe('the OpenAPI document', () => {
  it('docs/api.openapi.json is the one the routes generate (npm run -w @ferry/api openapi)', async () => {
    const committed = JSON.parse(readFileSync(new URL('../../../docs/api.openapi.json', import.meta.url), 'utf8'))
    expect(await openapiDocument('0.1.0')).toEqual(committed)
  })
})

describe('errors', () => {
  it.each([
    ['ERR_NO_SPACE', 507], ['ERR_NOT_FOUND', 404], ['ERR_CONFLICT', 409], ['ERR_USAGE', 400], ['ERR_PEER_REFUSED', 403],
    ['ERR_NETWORK', 502], ['ERR_TIMEOUT', 504], ['ERR_ABORTED', 503], ['ERR_INTERNAL', 500]
  ] as Array<[ErrorCode, number]>)('a FerryError %s from a handler answers %i with { error: { code, message } }', async (code, status) => {
    const a = await app(createEventBus(), { listPeers: async () => { throw new FerryError(code, `boom ${code}`) } })
    const r = await a.inject({ method: 'GET', url: '/v1/peers', headers: auth })
    expect(r.statusCode).toBe(status)
    expect(HTTP_STATUS[code]).toBe(status)
    expect(r.json()).toEqual({ error: { code, message: `boom ${code}` } })
  })

  it('anything else is a 500 ERR_INTERNAL with the same shape', async () => {
    const a = await app(createEventBus(), { listPeers: async () => { throw new TypeError('oops') } })
    const r = await a.inject({ method: 'GET', url: '/v1/peers', headers: auth })
    expect(r.statusCode).toBe(500)
    expect(r.json()).toEqual({ error: { code: 'ERR_INTERNAL', message: 'Internal error: oops' } })
  })

  it('refuses query parameters no route takes, naming them', async () => {
    const a = await app(createEventBus())
    for (const url of ['/v1/node?x=1', '/v1/peers?verbose=true', '/v1/openapi.json?format=yaml']) {
      const r = await a.inject({ method: 'GET', url, headers: auth })
      expect(r.statusCode, url).toBe(400)
      expect(r.json().error).toEqual({ code: 'ERR_INVALID_ARGUMENT', message: `querystring.${url.split('?')[1]!.split('=')[0]!}: not a known field` })
    }
  })

  it('compares tokens whole, only as Bearer', () => {
    expect(tokenMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true)
    expect(tokenMatches(`bearer  ${TOKEN} `, TOKEN)).toBe(true)
    for (const h of [undefined, '', TOKEN, `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, `Bearer ${TOKEN} extra`]) expect(tokenMatches(h, TOKEN)).toBe(false)
  })
})

/** Reads from `port` the raw answer to GET /v1/events until `until` matches it (bounded). */
async function readEvents (port: number, until: RegExp, timeoutMs = 10_000): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  socket.write(`GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`)
  let text = ''
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no ${String(until)} in ${timeoutMs} ms: ${text}`)) }, timeoutMs)
      socket.setEncoding('utf8').on('data', (d: string) => {
        text += d
        if (until.test(text)) {
          clearTimeout(timer)
          resolve(text)
        }
      })
    })
  } finally {
    socket.destroy()
  }
}

describe('server-sent events', () => {
  it('sends events as id/event/data and a heartbeat comment', async () => {
    const events = createEventBus()
    const a = await app(events, {}, { token: TOKEN, events: { heartbeatMs: 50 } })
    await a.listen({ host: '127.0.0.1', port: 0 })
    const port = (a.server.address() as { port: number }).port
    const reading = readEvents(port, /: heartbeat\n\n[\s\S]*event: peer:connected/)
    const deadline = Date.now() + 5000
    while (events.size === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    await new Promise((resolve) => setTimeout(resolve, 120)) // let a heartbeat go first
    events.publish({ type: 'peer:connected', peer: '12D3KooWtest' })
    const text = await reading
    expect(text).toMatch(/^HTTP\/1\.1 200/)
    expect(text).toMatch(/content-type: text\/event-stream/i)
    const frame = /id: (\d+)\nevent: peer:connected\ndata: (.*)\n\n/.exec(text)
    expect(frame).not.toBeNull()
    expect(JSON.parse(frame![2]!)).toMatchObject({ type: 'peer:connected', peer: '12D3KooWtest', id: Number(frame![1]) })
  })

  it('drops a client that does not read once its buffer is full, and keeps serving others', async () => {
    const events = createEventBus()
    const a = await app(events, {}, { token: TOKEN, events: { maxBuffered: 8 } })
    await a.listen({ host: '127.0.0.1', port: 0 })
    const port = (a.server.address() as { port: number }).port
    const stalled = connect(port, '127.0.0.1')
    stalled.pause() // never reads
    stalled.write(`GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`)
    const deadline = Date.now() + 5000
    while (events.size === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(events.size).toBe(1)
    const reason = 'x'.repeat(1000)
    // socket buffers hold a few MB; at most 100k events of 1 kB must overflow them and then the 8-event queue
    for (let i = 0; i < 100_000 && events.size > 0; i++) {
      events.publish({ type: 'peer:unreachable', peer: '12D3KooWslow', reason })
      if (i % 500 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    expect(events.size).toBe(0)
    stalled.destroy()
    const r = await a.inject({ method: 'GET', url: '/v1/node', headers: auth })
    expect(r.statusCode).toBe(200)
  })
})

describe('the web page\'s login', () => {
  const assets = new Map([['/', { body: Buffer.from('<!doctype html><title>Ferry</title>'), type: 'text/html; charset=utf-8', etag: '"x"' }]])

  it('trades a one-time login token for an HttpOnly, SameSite=Strict cookie the API then accepts', async () => {
    const a = await app(createEventBus(), {}, { token: TOKEN, assets })
    const minted = await a.inject({ method: 'POST', url: '/v1/login-tokens', headers: auth })
    expect(minted.statusCode).toBe(201)
    const { token, url } = minted.json()
    expect(url).toBe(`http://127.0.0.1:1/login?token=${token}`)
    const login = await a.inject({ method: 'GET', url: `/login?token=${token}` })
    expect(login.statusCode).toBe(303)
    expect(login.headers.location).toBe('/')
    const cookie = String(login.headers['set-cookie'])
    expect(cookie).toMatch(/^ferry_session_\d+=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/)
    const session = cookie.split(';')[0] as string
    const home = await a.inject({ method: 'GET', url: '/', headers: { cookie: session } })
    expect(home.statusCode).toBe(200)
    expect(home.headers['content-security-policy']).toContain("script-src 'self'")
    expect((await a.inject({ method: 'GET', url: '/v1/peers', headers: { cookie: session } })).statusCode).toBe(200)
    // the token worked once; no cookie, no page
    expect((await a.inject({ method: 'GET', url: `/login?token=${token}` })).statusCode).toBe(401)
    const anon = await a.inject({ method: 'GET', url: '/' })
    expect(anon.statusCode).toBe(401)
    expect(anon.body).toContain('ferry web')
    // a change on the strength of the cookie must come from the page's own origin
    const host = 'localhost:80'
    const cross = await a.inject({ method: 'DELETE', url: '/v1/peers/x', headers: { cookie: session, host, origin: 'http://evil.example' } })
    expect(cross.statusCode).toBe(401)
    const same = await a.inject({ method: 'DELETE', url: '/v1/peers/x', headers: { cookie: session, host, origin: `http://${host}` } })
    expect(same.statusCode).toBe(500) // the stand-in's removePeer: past authentication
  })

  it('expires login tokens and keeps a bounded number of them', () => {
    let now = 0
    const s = createSessions(() => now)
    const first = s.issue().token
    const late = s.issue().token
    now = 11 * 60_000
    expect(s.redeem(late)).toBeUndefined()
    now = 0
    const tokens = Array.from({ length: 40 }, () => s.issue().token)
    expect(s.redeem(first)).toBeUndefined() // pushed out by newer ones
    const id = s.redeem(tokens.at(-1) as string)
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(s.valid(id as string)).toBe(true)
    expect(s.valid('forged')).toBe(false)
  })
})
