/**
 * The daemon's HTTP API (issue 11, items 3 and 7) and peers by name, with real daemons in real processes
 * and real HTTP over loopback: authentication, validation, the address book through the CLI and the API,
 * peer states and server-sent events, `--from <name>`, and the served OpenAPI document checked against the
 * server's answers.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Ajv } from 'ajv'
import { ferry, initTestHome, json } from '../support/ferry.js'
import { DaemonSet, type Daemon } from '../support/daemon.js'
import { apiOf, openEvents, until, type ApiHandle } from '../support/api.js'
import { cleanup, tempDir, writeTree } from '../support/tree.js'

const daemons = new DaemonSet()
let dir: string
let a: { dir: string, id: string }
let b: { dir: string, id: string }
let daemonA: Daemon
let daemonB: Daemon
let api: ApiHandle

beforeAll(async () => {
  dir = tempDir('ferry-api-')
  a = await initTestHome(dir, 'a')
  b = await initTestHome(dir, 'b')
  daemonA = await daemons.start(a.dir)
  api = apiOf(a.dir)
})

afterAll(async () => {
  await daemons.stopAll()
  cleanup(dir)
})

describe('discovery and authentication', () => {
  it('writes the API URL to daemon.json and `ferry id --json`, and the token with mode 0600', async () => {
    const id = json(await ferry(['id', '--home', a.dir, '--json']))
    expect(id.api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(id.api).toBe(api.url)
    expect(api.token).toMatch(/^[A-Za-z0-9_-]{43}$/) // 32 bytes, base64url
    expect(statSync(join(a.dir, 'api-token')).mode & 0o777).toBe(0o600)
    expect(daemonA.output()).toContain(`API: ${api.url}`)
    const node = await api.call('GET', '/v1/node')
    expect(node.status).toBe(200)
    expect(node.body).toMatchObject({ peerId: a.id, home: a.dir, version: '0.1.0', api: api.url })
    expect(node.body.addresses).toContain(daemonA.addr)
  })

  it('answers 401 without a token and with a wrong one, naming the token file', async () => {
    for (const auth of [null, 'Bearer wrong', `Basic ${api.token}`, `Bearer ${api.token}x`]) {
      const r = await api.call('GET', '/v1/peers', undefined, auth)
      expect(r.status).toBe(401)
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/)
      expect(r.body.error.code).toBe('ERR_UNAUTHORIZED')
      expect(r.body.error.message).toContain(join(a.dir, 'api-token'))
    }
    expect((await api.call('GET', '/v1/nowhere', undefined, null)).status).toBe(401) // no route list for strangers
  })

  it('answers 404 with the error body for an unknown route', async () => {
    const r = await api.call('GET', '/v1/nowhere')
    expect(r.status).toBe(404)
    expect(r.body.error).toEqual({ code: 'ERR_NOT_FOUND', message: expect.stringContaining('GET /v1/nowhere') })
  })
})

describe('config api.port', () => {
  it('listens on the configured port, and a port in use stops the daemon with exit 6 naming the setting', async () => {
    const busy = createServer()
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
    const port = (busy.address() as AddressInfo).port
    const f = await initTestHome(dir, 'f')
    const cfgFile = join(f.dir, 'config.json')
    writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(readFileSync(cfgFile, 'utf8')), api: { port } }))
    try {
      const r = await ferry(['daemon', '--home', f.dir, '--listen', '/ip4/127.0.0.1/tcp/0'])
      expect(r.code).toBe(6)
      expect(r.stderr).toContain(`Cannot listen on 127.0.0.1:${port} for the API`)
      expect(r.stderr).toContain('"api": { "port": N }')
    } finally {
      await new Promise((resolve) => busy.close(resolve))
    }
    const d = await daemons.start(f.dir) // the port is free now
    expect(apiOf(f.dir).url).toBe(`http://127.0.0.1:${port}`)
    await d.stop()
    writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(readFileSync(cfgFile, 'utf8')), api: { port: 'http' } }))
    const bad = await ferry(['id', '--home', f.dir])
    expect(bad.code).toBe(8)
    expect(bad.stderr).toContain('"api.port" must be a TCP port number')
  })
})

describe('validation', () => {
  const valid = (): string => `/ip4/127.0.0.1/tcp/9/p2p/${b.id}`
  it.each([
    ['a missing field', () => ({ name: 'x' }), 'body.addr: required'],
    ['an extra field', () => ({ name: 'x', addr: valid(), trusted: true }), 'body.trusted: not a known field'],
    ['a name that is not a slug', () => ({ name: 'Not A Slug', addr: valid() }), 'body.name: must match'],
    ['a wrong type', () => ({ name: 'x', addr: 7 }), 'body.addr: must be string'],
    ['a multiaddr without /p2p/', () => ({ name: 'x', addr: '/ip4/127.0.0.1/tcp/9' }), 'body.addr: must match'],
    ['a /p2p/ that is no PeerId', () => ({ name: 'x', addr: '/ip4/127.0.0.1/tcp/9/p2p/12D3KooWnope' }), 'body.addr: "/ip4/127.0.0.1/tcp/9/p2p/12D3KooWnope" ends in /p2p/12D3KooWnope, which is not a peer ID'],
    ['a malformed multiaddr', () => ({ name: 'x', addr: `/ip9/1/p2p/${b.id}` }), 'body.addr: "/ip9/1/p2p/'],
    ['JSON that does not parse', () => '{"name": "x",', 'not valid JSON'],
    ['a body that is not an object', () => '[1]', 'body: must be object']
  ])('POST /v1/peers refuses %s with 400 naming the field', async (_what, body, message) => {
    const r = await api.call('POST', '/v1/peers', body())
    expect(r.status).toBe(400)
    expect(r.body.error.code).toMatch(/^ERR_(INVALID_ARGUMENT|USAGE)$/)
    expect(r.body.error.message).toContain(message)
    expect((await api.call('GET', '/v1/peers')).body.peers).toEqual([]) // nothing stored
  })

  it('DELETE refuses a name that is not a slug (400) and an unknown one (404)', async () => {
    expect((await api.call('DELETE', '/v1/peers/NO')).status).toBe(400)
    const r = await api.call('DELETE', '/v1/peers/nobody')
    expect(r.status).toBe(404)
    expect(r.body.error.code).toBe('ERR_NOT_FOUND')
  })
})

describe('the address book', () => {
  it('peers added and removed through the CLI and through the API agree', async () => {
    const added = await ferry(['peer', 'add', 'esrf', `/ip4/127.0.0.1/tcp/9/p2p/${b.id}`, '--home', a.dir])
    expect(added.code).toBe(0)
    expect(added.stdout).toContain('Added esrf')
    expect(added.stdout).toContain(`Not trusted: esrf cannot fetch from this node until you run \`ferry trust ${b.id}\``)
    const viaApi = await api.call('GET', '/v1/peers')
    expect(viaApi.body.peers.map((p: any) => [p.name, p.id, p.addrs, p.trusted])).toEqual([['esrf', b.id, [`/ip4/127.0.0.1/tcp/9/p2p/${b.id}`], false]])

    const c = await initTestHome(dir, 'c')
    const posted = await api.call('POST', '/v1/peers', { name: 'soleil', addr: `/ip4/127.0.0.1/tcp/10/p2p/${c.id}` })
    expect(posted.status).toBe(201)
    expect(posted.body).toMatchObject({ created: true, peer: { name: 'soleil', id: c.id, trusted: false } })
    expect((await api.call('POST', '/v1/peers', { name: 'soleil', addr: `/ip4/127.0.0.1/tcp/10/p2p/${c.id}` })).status).toBe(200) // idempotent
    const viaCli = json(await ferry(['peers', '--home', a.dir, '--json']))
    const fromApi = (await api.call('GET', '/v1/peers')).body
    expect(viaCli.peers.map((p: any) => [p.name, p.id, p.addrs, p.trusted])).toEqual(fromApi.peers.map((p: any) => [p.name, p.id, p.addrs, p.trusted]))
    expect(viaCli.peers.map((p: any) => p.name)).toEqual(['esrf', 'soleil'])

    const conflict = await api.call('POST', '/v1/peers', { name: 'esrf', addr: `/ip4/127.0.0.1/tcp/10/p2p/${c.id}` })
    expect(conflict.status).toBe(409)
    expect(conflict.body.error.code).toBe('ERR_CONFLICT')
    const cliConflict = await ferry(['peer', 'add', 'esrf', `/ip4/127.0.0.1/tcp/10/p2p/${c.id}`, '--home', a.dir])
    expect(cliConflict.code).toBe(2)
    expect(cliConflict.stderr).toContain('The name "esrf" is already peer')

    expect((await ferry(['peer', 'remove', 'soleil', '--home', a.dir])).code).toBe(0)
    expect((await api.call('GET', '/v1/peers')).body.peers.map((p: any) => p.name)).toEqual(['esrf'])
    const del = await api.call('DELETE', '/v1/peers/esrf')
    expect(del.status).toBe(200)
    expect(del.body.removed).toEqual({ name: 'esrf', id: b.id, addrs: [`/ip4/127.0.0.1/tcp/9/p2p/${b.id}`] })
    expect(json(await ferry(['peers', '--home', a.dir, '--json'])).peers).toEqual([])
    const gone = await ferry(['peer', 'remove', 'esrf', '--home', a.dir])
    expect(gone.code).toBe(7)
  })

  it('refuses bad names and addresses on the command line with exit 2', async () => {
    for (const args of [['add', 'Bad Name', `/ip4/127.0.0.1/tcp/9/p2p/${b.id}`], ['add', 'x', '/ip4/127.0.0.1/tcp/9'], ['add', 'x', 'nonsense'], ['frob', 'x']]) {
      const r = await ferry(['peer', ...args, '--home', a.dir])
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(/^ferry: /)
    }
  })

  it('shows "unknown (daemon not running)" without a daemon', async () => {
    expect((await ferry(['peer', 'add', 'a', daemonA.addr, '--home', b.dir])).code).toBe(0)
    const r = await ferry(['peers', '--home', b.dir])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('unknown (daemon not running)')
    expect(json(await ferry(['peers', '--home', b.dir, '--json'])).peers[0].state).toEqual({ state: 'unknown', since: null, reason: 'daemon not running' })
    expect((await ferry(['peer', 'remove', 'a', '--home', b.dir])).code).toBe(0)
  })
})

describe('peer states and events', () => {
  it('reports an unreachable peer with the reason', async () => {
    const d = await initTestHome(dir, 'd')
    expect((await api.call('POST', '/v1/peers', { name: 'down', addr: `/ip4/127.0.0.1/tcp/1/p2p/${d.id}` })).status).toBe(201)
    const state = await until(async () => {
      const p = (await api.call('GET', '/v1/peers')).body.peers.find((x: any) => x.name === 'down')
      return p?.state.state === 'unreachable' ? p.state : undefined
    }, 30_000, 'unreachable')
    expect(state.reason).toContain('ECONNREFUSED')
    expect(Date.parse(state.since)).not.toBeNaN()
    const shown = await ferry(['peers', '--home', a.dir])
    expect(shown.stdout).toMatch(/down\s+\S+\s+not trusted\s+unreachable since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(.*ECONNREFUSED/)
    expect((await api.call('DELETE', '/v1/peers/down')).status).toBe(200)
  })

  it('streams peer:connected when a second real daemon connects, and shows that it refuses us', async () => {
    const events = await openEvents(api)
    try {
      daemonB = await daemons.start(b.dir)
      expect((await api.call('POST', '/v1/peers', { name: 'bee', addr: daemonB.addr })).status).toBe(201)
      const connected = await events.waitFor((e) => e.event === 'peer:connected' && e.data.peer === b.id)
      expect(connected.data).toMatchObject({ type: 'peer:connected', peer: b.id })
      expect(Number(connected.data.id)).toBeGreaterThan(0)
      expect(Date.parse(connected.data.at)).not.toBeNaN()
      expect(events.comments).toContain('ferry events')
      // B does not trust A: the check is refused, with B's message
      const refused = await events.waitFor((e) => e.event === 'peer:refused' && e.data.peer === b.id)
      expect(refused.data.reason).toContain(`ferry trust ${a.id}`)
      const peer = (await api.call('GET', '/v1/peers')).body.peers.find((x: any) => x.name === 'bee')
      expect(peer.state).toMatchObject({ state: 'refused', reason: expect.stringContaining('not trusted') })
      expect((await ferry(['peers', '--home', a.dir])).stdout).toMatch(/bee .* refused us since .*: .*not trusted/)
    } finally {
      events.close()
    }
  })

  it('pulls with --from <name>', async () => {
    const src = join(dir, 'src')
    writeTree(src, { 'one.bin': 4096, 'sub/two.txt': 'hello' })
    const root = (await ferry(['add', src, '--home', b.dir])).stdout.trim()
    expect((await ferry(['trust', a.id, '--home', b.dir])).code).toBe(0)
    const dest = join(dir, 'dest')
    const r = await ferry(['pull', root, dest, '--from', 'bee', '--home', a.dir, '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(json(r).complete).toBe(true)
    expect(readFileSync(join(dest, 'sub/two.txt'), 'utf8')).toBe('hello')
    // now that B trusts A, adding it again (CLI) makes the running daemon check it at once: connected
    expect((await ferry(['peer', 'add', 'bee', daemonB.addr, '--home', a.dir])).code).toBe(0)
    const state = await until(async () => {
      const p = (await api.call('GET', '/v1/peers')).body.peers.find((x: any) => x.name === 'bee')
      return p?.state.state === 'connected' ? p.state : undefined
    }, 30_000, 'connected')
    expect(state.reason).toBeNull()
    expect((await ferry(['peers', '--home', a.dir])).stdout).toMatch(/bee\s+\S+\s+not trusted\s+connected since /)
    const unknown = await ferry(['pull', root, join(dir, 'dest2'), '--from', 'nobody', '--home', a.dir])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('--from nobody: not a multiaddr and no peer of that name')
  })
})

describe('peer:disconnected', () => {
  it('streams peer:disconnected when the second daemon stops, and shows it', async () => {
    const events = await openEvents(api)
    try {
      await daemonB.stop()
      const gone = await events.waitFor((e) => e.event === 'peer:disconnected' && e.data.peer === b.id)
      expect(gone.data.type).toBe('peer:disconnected')
      const peer = (await api.call('GET', '/v1/peers')).body.peers.find((x: any) => x.name === 'bee')
      expect(['disconnected', 'unreachable']).toContain(peer.state.state) // unreachable if a check ran since
    } finally {
      events.close()
    }
  })
})

describe('the OpenAPI document', () => {
  let e: { dir: string, id: string }
  beforeAll(async () => { e = await initTestHome(dir, 'e') })
  /** How to call each documented operation: a request that succeeds, on the state left by the tests above. */
  const cases: Record<string, () => { method: string, path: string, body?: unknown }> = {
    getNode: () => ({ method: 'GET', path: '/v1/node' }),
    listPeers: () => ({ method: 'GET', path: '/v1/peers' }),
    addPeer: () => ({ method: 'POST', path: '/v1/peers', body: { name: 'conformance', addr: `/ip4/127.0.0.1/tcp/11/p2p/${e.id}` } }),
    removePeer: () => ({ method: 'DELETE', path: '/v1/peers/bee' }),
    // a reachable peer's page is checked against this schema in web.test.ts; here, the documented 404
    listPeerCatalog: () => ({ method: 'GET', path: '/v1/peers/nobody/catalog' }),
    createLoginToken: () => ({ method: 'POST', path: '/v1/login-tokens' }),
    getSpace: () => ({ method: 'GET', path: `/v1/space?path=${encodeURIComponent(join(dir, 'not', 'made', 'yet'))}` }),
    streamEvents: () => ({ method: 'GET', path: '/v1/events' }),
    getOpenApi: () => ({ method: 'GET', path: '/v1/openapi.json' }),
    listSubscriptions: () => ({ method: 'GET', path: '/v1/subscriptions' }),
    createSubscription: () => ({ method: 'POST', path: '/v1/subscriptions', body: { collection: 'conformance', destination: join(dir, 'conformance'), from: [`/ip4/127.0.0.1/tcp/11/p2p/${e.id}`] } }),
    deleteSubscription: () => ({ method: 'DELETE', path: `/v1/subscriptions/${subscriptionId}?cancelTasks=true` })
  }
  let subscriptionId = '00000000' // set by the createSubscription case, which runs first (paths in registration order)

  it('is served, equals docs/api.openapi.json, and every route answers as documented', async () => {
    const served = await api.call('GET', '/v1/openapi.json')
    expect(served.status).toBe(200)
    const doc = served.body
    expect(doc.openapi).toMatch(/^3\./)
    const committed = JSON.parse(readFileSync(new URL('../../docs/api.openapi.json', import.meta.url), 'utf8'))
    expect(doc).toEqual(committed) // run `npm run -w @ferry/api openapi` after changing a route
    const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true })
    const operations = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })))
    expect(operations.map((o) => o.op.operationId).sort()).toEqual(Object.keys(cases).sort()) // a new route needs a case here

    const check = async (status: number, contentType: string | null, body: unknown, op: any, label: string): Promise<void> => {
      const documented = op.responses[String(status)]
      expect(documented, `${label}: ${status} is not documented`).toBeDefined()
      if (contentType?.startsWith('application/json') === true) {
        const validate = ajv.compile(documented.content['application/json'].schema)
        expect(validate(body), `${label} ${status}: ${JSON.stringify(validate.errors)}`).toBe(true)
      }
    }
    for (const { path, method, op } of operations) {
      const label = `${method} ${path}`
      // without a token: the documented 401
      const anon = await fetch(new URL(path.replace('{name}', 'bee').replace('{id}', '00000000'), api.url), { method })
      await check(anon.status, anon.headers.get('content-type'), await anon.json(), op, label)
      expect(anon.status).toBe(401)
      const c = cases[op.operationId as string]!()
      if (op.operationId === 'streamEvents') {
        const controller = new AbortController()
        const res = await fetch(new URL(c.path, api.url), { headers: { authorization: `Bearer ${api.token}` }, signal: controller.signal })
        expect(res.status).toBe(200)
        expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
        expect(Object.keys(op.responses['200'].content)).toEqual(['text/event-stream'])
        controller.abort()
        continue
      }
      const r = await api.call(c.method, c.path, c.body)
      expect(r.status, `${label}: ${JSON.stringify(r.body)}`).toBeLessThan(500)
      if (op.operationId === 'createSubscription') subscriptionId = r.body.subscription.id
      await check(r.status, r.headers.get('content-type'), r.body, op, label)
      if (op.requestBody !== undefined) {
        const bad = await api.call(c.method, c.path, { junk: true })
        expect(bad.status).toBe(400)
        await check(bad.status, bad.headers.get('content-type'), bad.body, op, `${label} (bad body)`)
      }
    }
  })
})
