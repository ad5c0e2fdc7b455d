/**
 * /ferry/catalog and /ferry/announce over real libp2p nodes, with a small in-memory CatalogSource: paging
 * by cursor in bounded pages (and the byte budget cutting a page short), the page-size limit, refusals,
 * the per-peer stream limit, announcements filtered by collection and by what the peer may read, keep-alives,
 * the end of a subscription when trust is withdrawn, and the first-frame timeout.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { lpStream } from '@libp2p/utils'
import {
  ANNOUNCE_PROTOCOL, CATALOG_PROTOCOL, MAX_ANNOUNCE_QUEUE, MAX_CATALOG_FRAME_BYTES, MAX_CATALOG_PAGE_ROWS, PeerClient, decodeAnnounceServerMessage, decodeCatalogServerMessage,
  encodeAnnounceSubscribe, encodeCatalogRequest, startExchangeServer, type CatalogRow, type CatalogSource, type ExchangeServerInit, type RemoteCatalogRow
} from '@ferry/exchange'
import { cleanup, makeNode, sleep } from './helpers.js'
import type { Libp2p, PeerId } from '@libp2p/interface'

afterEach(cleanup)

async function rowOf (i: number, collection: string | null, name = `scan-${String(i).padStart(4, '0')}`): Promise<CatalogRow> {
  const root = CID.createV1(0x70, await sha256.digest(new TextEncoder().encode(name)))
  return { root, collection, name, origin: 'P', files: i, directories: 1, symlinks: 0, bytes: i * 10, created: 1_700_000_000_000 + i, skipped: 0, state: 'sealed' }
}

/** A CatalogSource over `rows` (position = index + 1), hiding `hidden` from every peer but `granted`. */
function memorySource (rows: CatalogRow[], opts: { hidden?: string, granted?: () => string } = {}): CatalogSource & { emit: (row: CatalogRow) => void, pages: number } {
  const listeners = new Set<(row: CatalogRow) => void>()
  const may = (peer: PeerId, c: string | null): boolean => c !== opts.hidden || peer.toString() === opts.granted?.()
  const src = {
    pages: 0,
    page (peer: PeerId, q: Parameters<CatalogSource['page']>[1]) {
      src.pages++
      const hits = rows.map((row, i) => ({ position: i + 1, row }))
        .filter((r) => r.position > (q.after ?? 0) && may(peer, r.row.collection) && (q.collection === undefined || r.row.collection === q.collection) && (q.prefix === undefined || r.row.name.startsWith(q.prefix)))
      return { rows: hits.slice(0, q.limit), more: hits.length > q.limit }
    },
    mayRead: may,
    watch (listener: (row: CatalogRow) => void) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    emit (row: CatalogRow) { for (const l of listeners) l(row) }
  }
  return src
}

async function serve (catalog: CatalogSource, init: Partial<ExchangeServerInit> = {}): Promise<{ server: Libp2p, client: Libp2p, peer: PeerClient }> {
  const server = await makeNode()
  await startExchangeServer(server, { blocks: { get: async () => ({ status: 'missing' }) }, catalog, authorize: () => ({ allow: true }), ...init })
  const client = await makeNode()
  return { server, client, peer: new PeerClient(client, { peer: server.getMultiaddrs()[0]!, timeoutMs: 5000 }) }
}

async function collect (pages: AsyncIterable<{ rows: RemoteCatalogRow[] }>): Promise<{ sizes: number[], names: string[] }> {
  const sizes: number[] = []
  const names: string[] = []
  for await (const p of pages) {
    sizes.push(p.rows.length)
    names.push(...p.rows.map((r) => r.name))
  }
  return { sizes, names }
}

describe('/ferry/catalog', () => {
  it('pages by cursor: every row once, in order, filtered by collection, prefix and what the peer may read', async () => {
    const rows = await Promise.all(Array.from({ length: 250 }, async (_, i) => await rowOf(i, i % 5 === 0 ? 'secret' : 'open')))
    const src = memorySource(rows, { hidden: 'secret' })
    const { peer } = await serve(src)
    const all = await collect(peer.listCatalog({ pageSize: 100 }))
    expect(all.names).toEqual(rows.filter((r) => r.collection === 'open').map((r) => r.name))
    expect(all.sizes).toEqual([100, 100])
    expect((await collect(peer.listCatalog({ collection: 'secret' }))).names).toEqual([])
    expect((await collect(peer.listCatalog({ prefix: 'scan-024', pageSize: 3 }))).names).toEqual(['scan-0241', 'scan-0242', 'scan-0243', 'scan-0244', 'scan-0246', 'scan-0247', 'scan-0248', 'scan-0249'])
    // breaking out early asks for no further page
    const before = src.pages
    for await (const p of peer.listCatalog({ pageSize: 10 })) { expect(p.rows).toHaveLength(10); break }
    await sleep(100)
    expect(src.pages - before).toBe(1)
  })

  it('resumes a listing from a page\'s next cursor on a new stream, and gives an empty next on the last page', async () => {
    const rows = await Promise.all(Array.from({ length: 25 }, async (_, i) => await rowOf(i, 'open')))
    const { peer } = await serve(memorySource(rows))
    const names: string[] = []
    let cursor: Uint8Array | undefined
    for (let n = 0; n < 10; n++) {
      let page
      for await (const p of peer.listCatalog({ pageSize: 10, ...(cursor !== undefined ? { cursor } : {}) })) { page = p; break }
      names.push(...page!.rows.map((r) => r.name))
      if (page!.next.byteLength === 0) break
      cursor = page!.next
    }
    expect(names).toEqual(rows.map((r) => r.name))
  })

  it('cuts a page short at the byte budget and continues from there', async () => {
    const long = 'n'.repeat(30_000)
    const rows = await Promise.all(Array.from({ length: 12 }, async (_, i) => await rowOf(i, 'c', `${long}-${i}`)))
    const { peer } = await serve(memorySource(rows))
    const got = await collect(peer.listCatalog({ pageSize: 1000 }))
    expect(got.names).toEqual(rows.map((r) => r.name))
    expect(got.sizes[0]).toBeLessThan(12) // ~128 KiB per page: 5 rows of 30 kB
    expect(got.sizes.reduce((a, b) => a + b)).toBe(12)
  })

  it('refuses an oversize page with ERROR LIMIT, and a refused peer with ERROR DENIED', async () => {
    const rows = [await rowOf(1, 'c')]
    let allow = true
    const { server, client, peer } = await serve(memorySource(rows), { authorize: () => allow ? { allow: true } : { allow: false, reason: 'not trusted here' } })
    const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, CATALOG_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: MAX_CATALOG_FRAME_BYTES })
    await lp.write(encodeCatalogRequest({ collection: null, prefix: '', cursor: new Uint8Array(0), pageSize: MAX_CATALOG_PAGE_ROWS + 1 }))
    expect(decodeCatalogServerMessage((await lp.read()).subarray())).toEqual({ type: 'error', code: 'limit', message: `catalog page size ${MAX_CATALOG_PAGE_ROWS + 1} exceeds the limit of ${MAX_CATALOG_PAGE_ROWS} rows` })
    allow = false
    await expect(collect(peer.listCatalog())).rejects.toMatchObject({ code: 'ERR_PEER_REFUSED', message: 'not trusted here' })
  })

  it('a bad cursor is ERROR PROTOCOL; a stream over the per-peer limit is ERROR LIMIT', async () => {
    const { server, client } = await serve(memorySource([await rowOf(1, 'c')]), { limits: { catalogStreamsPerPeer: 1 } })
    const addr = server.getMultiaddrs()[0]!
    const badStream = await client.dialProtocol(addr, CATALOG_PROTOCOL)
    const bad = lpStream(badStream, { maxDataLength: MAX_CATALOG_FRAME_BYTES })
    await bad.write(encodeCatalogRequest({ collection: null, prefix: '', cursor: Uint8Array.of(0x81, 0x00), pageSize: 5 }))
    expect(decodeCatalogServerMessage((await bad.read()).subarray())).toMatchObject({ type: 'error', code: 'protocol' })
    badStream.abort(new Error('done'))
    const held = [await client.dialProtocol(addr, CATALOG_PROTOCOL)]
    await sleep(100)
    const extra = lpStream(await client.dialProtocol(addr, CATALOG_PROTOCOL), { maxDataLength: MAX_CATALOG_FRAME_BYTES })
    expect(decodeCatalogServerMessage((await extra.read()).subarray())).toMatchObject({ type: 'error', code: 'limit', message: expect.stringContaining('1 catalog streams already open') })
    for (const h of held) h.abort(new Error('done'))
  })

  it('a stream that never sends its request ends with ERROR TIMEOUT', async () => {
    const { server, client } = await serve(memorySource([]), { firstFrameTimeoutMs: 300 })
    const lp = lpStream(await client.dialProtocol(server.getMultiaddrs()[0]!, CATALOG_PROTOCOL), { maxDataLength: MAX_CATALOG_FRAME_BYTES })
    expect(decodeCatalogServerMessage((await lp.read()).subarray())).toMatchObject({ type: 'error', code: 'timeout' })
  })
})

describe('/ferry/announce', () => {
  it('announces new scans of the collection the peer may read, with keep-alives between, and nothing it may not', async () => {
    let granted = ''
    const src = memorySource([], { hidden: 'secret', granted: () => granted })
    const { server, client, peer } = await serve(src, { keepAliveMs: 200 })
    const stop = new AbortController()
    let subscribed = false
    const it = peer.watchAnnouncements({ signal: stop.signal, onSubscribed: () => { subscribed = true } })[Symbol.asyncIterator]()
    const first = it.next()
    while (!subscribed) await sleep(10)
    src.emit(await rowOf(1, 'secret'))
    src.emit(await rowOf(2, 'open'))
    expect((await first).value).toMatchObject({ name: 'scan-0002', collection: 'open' })
    granted = client.peerId.toString() // a grant applies to the next announcement
    src.emit(await rowOf(3, 'secret'))
    expect((await it.next()).value).toMatchObject({ name: 'scan-0003', collection: 'secret' })

    // the raw stream: ACCEPTED, then keep-alives while nothing happens; a collection filter
    const lp = lpStream(await client.dialProtocol(server.getMultiaddrs()[0]!, ANNOUNCE_PROTOCOL), { maxDataLength: MAX_CATALOG_FRAME_BYTES })
    await lp.write(encodeAnnounceSubscribe('open'))
    expect(decodeAnnounceServerMessage((await lp.read()).subarray())).toEqual({ type: 'announce-accepted', keepAliveMs: 200 })
    expect(decodeAnnounceServerMessage((await lp.read()).subarray())).toEqual({ type: 'announce-keepalive' })
    src.emit(await rowOf(4, 'other'))
    src.emit(await rowOf(5, 'open'))
    let msg = decodeAnnounceServerMessage((await lp.read()).subarray())
    while (msg.type === 'announce-keepalive') msg = decodeAnnounceServerMessage((await lp.read()).subarray())
    expect(msg).toMatchObject({ type: 'announce-scan', row: { name: 'scan-0005' } })
    stop.abort()
    await expect(it.next()).rejects.toMatchObject({ code: 'ERR_ABORTED' })
  })

  it('ends a subscription with ERROR LIMIT when more than MAX_ANNOUNCE_QUEUE announcements wait for it', async () => {
    const src = memorySource([])
    const { server, client } = await serve(src)
    const lp = lpStream(await client.dialProtocol(server.getMultiaddrs()[0]!, ANNOUNCE_PROTOCOL), { maxDataLength: MAX_CATALOG_FRAME_BYTES })
    await lp.write(encodeAnnounceSubscribe(null))
    expect(decodeAnnounceServerMessage((await lp.read()).subarray())).toMatchObject({ type: 'announce-accepted' })
    const row = await rowOf(1, 'c')
    for (let i = 0; i <= MAX_ANNOUNCE_QUEUE; i++) src.emit(row) // all at once: none can have been sent yet
    let msg = decodeAnnounceServerMessage((await lp.read()).subarray())
    while (msg.type === 'announce-scan') msg = decodeAnnounceServerMessage((await lp.read()).subarray())
    expect(msg).toMatchObject({ type: 'error', code: 'limit', message: expect.stringContaining('catch up with a catalog listing') })
  })

  it('ends a subscription with ERROR DENIED once the peer is no longer trusted', async () => {
    let trusted = true
    const { peer } = await serve(memorySource([]), { keepAliveMs: 100, authorize: () => trusted ? { allow: true } : { allow: false, reason: 'untrusted now' } })
    let subscribed = false
    const it = peer.watchAnnouncements({ onSubscribed: () => { subscribed = true } })[Symbol.asyncIterator]()
    const next = it.next()
    while (!subscribed) await sleep(10)
    trusted = false
    await expect(next).rejects.toMatchObject({ code: 'ERR_PEER_REFUSED', message: 'untrusted now' })
  })
})
