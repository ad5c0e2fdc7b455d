/**
 * The exchange over real libp2p nodes (TCP on 127.0.0.1, Noise, yamux) in this process: a real server over
 * a temp store, the real client, and hostile or broken test doubles on either side.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { lpStream } from '@libp2p/utils'
import { afterEach, describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { FerryError } from '@ferry/errors'
import { digestEntries, verifyScanSignature } from '@ferry/store'
import {
  BLOCKS_PROTOCOL, MAX_BLOCKS_FRAME_BYTES, MAX_PENDING_PER_STREAM, PeerClient, SCAN_PROTOCOL, VerifyPool, decodeBlocksClientMessage,
  decodeBlocksServerMessage, encodeBlock, encodeFrame, encodeRequest, startExchangeServer, type AccessDecision, type ExchangeServer,
  type LocalScan, type ScanEntry
} from '@ferry/exchange'
import { cleanup, makeNode, makeScan, sleep, type TestScan } from './helpers.js'
import { homeSources } from '@ferry/node'
import type { Libp2p } from 'libp2p'
import { pattern, rejection, waitFor } from '../../../test/support/unit.js'

afterEach(cleanup)

const ALLOW: AccessDecision = { allow: true }

interface Setup {
  scan: TestScan
  server: Libp2p
  client: Libp2p
  exchange: ExchangeServer
  peer: PeerClient
}

async function setup (authorize: () => AccessDecision = () => ALLOW, init: Partial<ConstructorParameters<typeof PeerClient>[1]> = {}): Promise<Setup> {
  const scan = await makeScan()
  const server = await makeNode()
  const client = await makeNode()
  const exchange = await startExchangeServer(server, { ...homeSources(scan.home), authorize })
  const peer = new PeerClient(client, { peer: server.getMultiaddrs()[0]!, ...init })
  return { scan, server, client, exchange, peer }
}

async function randomCid (codec = 0x55): Promise<CID> {
  return CID.createV1(codec, await sha256.digest(pattern(64, Math.floor(Math.random() * 1e9))))
}

describe('blocks', () => {
  it('fetches every leaf and inner node concurrently, verified, over a few streams', async () => {
    const { scan, peer } = await setup()
    const big = scan.leaves.get('big.raw')!
    expect(big).toHaveLength(4)
    const all = [...[...scan.leaves.values()].flat(), ...scan.inner]
    const results = await Promise.all(all.map(async (cid) => await peer.get(cid)))
    expect(results.every((r) => r.status === 'ok')).toBe(true)
    const bigBytes = Buffer.concat(results.slice(0, 4).map((r) => r.status === 'ok' ? r.bytes : new Uint8Array()))
    expect(bigBytes.equals(await fs.readFile(path.join(scan.dir, 'big.raw')))).toBe(true)
    expect(peer.inflight).toBe(0)
    await peer.close()
  })

  it('shares one request between concurrent gets of a CID and counts inflight', async () => {
    const { scan, peer, exchange } = await setup()
    const cid = scan.leaves.get('big.raw')![0]!
    const gets = [peer.get(cid), peer.get(cid), peer.get(cid)]
    expect(peer.inflight).toBe(1)
    const results = await Promise.all(gets)
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok'])
    expect(exchange.stats.blocksSent).toBe(1)
  })

  it('answers missing for blocks it does not have', async () => {
    const { peer } = await setup()
    expect((await peer.get(await randomCid())).status).toBe('missing')
    expect((await peer.get(await randomCid(0x70))).status).toBe('missing')
  })

  it('answers changed when the source file changed since import, and never serves it', async () => {
    const { scan, peer, exchange } = await setup()
    const leaf = scan.leaves.get('small.txt')![0]!
    await fs.writeFile(path.join(scan.dir, 'small.txt'), 'HELLO FERRY\n') // same size, other bytes
    const r = await peer.get(leaf)
    expect(r.status).toBe('changed')
    expect(r.status !== 'ok' && r.message).toContain('small.txt')
    expect(exchange.stats.bytesSent).toBe(0)
  })

  it('refuses an untrusted peer with the hook\'s reason and zero bytes of data', async () => {
    const reason = 'peer X is not trusted by Y: ask its operator to run `ferry trust X`'
    const { scan, peer, exchange } = await setup(() => ({ allow: false, reason }))
    const results = await Promise.all([...scan.leaves.values()].flat().map(async (cid) => await peer.get(cid)))
    for (const r of results) expect(r).toEqual({ status: 'denied', message: reason })
    expect(exchange.stats.bytesSent).toBe(0)
    expect(exchange.stats.refused).toBeGreaterThan(0)
    const err = await rejection(peer.getScan(scan.root))
    expect(err.code).toBe('ERR_PEER_REFUSED')
    expect(err.message).toBe(reason)
  })

  it('asks the access hook on every request, so trust changes apply to open clients', async () => {
    let trusted = false
    const { scan, peer } = await setup(() => trusted ? ALLOW : { allow: false, reason: 'not trusted' })
    const cid = scan.leaves.get('small.txt')![0]!
    expect((await peer.get(cid)).status).toBe('denied')
    trusted = true
    expect((await peer.get(cid)).status).toBe('ok')
    trusted = false
    expect((await peer.get(scan.leaves.get('big.raw')![0]!)).status).toBe('denied')
  })

  it('rejects outstanding gets with ERR_ABORTED on close, and single gets on their signal', async () => {
    const { scan, peer } = await setup()
    const controller = new AbortController()
    const aborted = peer.get(scan.leaves.get('big.raw')![1]!, { signal: controller.signal })
    controller.abort()
    expect((await rejection(aborted)).code).toBe('ERR_ABORTED')
    const pending = peer.get(scan.leaves.get('big.raw')![2]!)
    await peer.close()
    expect((await rejection(pending)).code).toBe('ERR_ABORTED')
    expect((await rejection(peer.get(scan.root))).code).toBe('ERR_ABORTED')
  })

  it('returns ok blocks as the chunks received, joined into bytes on demand', async () => {
    const { scan, peer } = await setup()
    const r = await peer.get(scan.leaves.get('big.raw')![0]!)
    expect(r.status).toBe('ok')
    if (r.status !== 'ok') return
    expect(r.chunks.length).toBeGreaterThan(1) // a 1 MiB block arrives in many Noise messages
    expect(Buffer.concat(r.chunks).equals(Buffer.from(r.bytes))).toBe(true)
    expect(Buffer.from(r.bytes).equals((await fs.readFile(path.join(scan.dir, 'big.raw'))).subarray(0, 1024 * 1024))).toBe(true)
  })

  it('verifies on worker threads with a VerifyPool', async () => {
    const pool = new VerifyPool({ workers: 1 })
    try {
      const { scan, peer } = await setup(undefined, { verify: pool.verify })
      const big = scan.leaves.get('big.raw')!
      const results = await Promise.all([...big, ...scan.leaves.get('small.txt')!].map(async (cid) => await peer.get(cid)))
      expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok'])
      const joined = Buffer.concat(results.slice(0, 4).map((r) => r.status === 'ok' ? r.bytes : new Uint8Array()))
      expect(joined.equals(await fs.readFile(path.join(scan.dir, 'big.raw')))).toBe(true)
    } finally {
      await pool.close()
    }
  })

  it('shares one abort listener between the gets of one signal', async () => {
    const { scan, peer } = await setup()
    const controller = new AbortController()
    const warnings: string[] = []
    const onWarning = (w: Error): void => { warnings.push(w.name) }
    process.on('warning', onWarning)
    try {
      const all = [...scan.leaves.values()].flat()
      const results = await Promise.all(Array.from({ length: 40 }, async (_, i) => await peer.get(all[i % all.length]!, { signal: controller.signal })))
      expect(results.every((r) => r.status === 'ok')).toBe(true)
      await sleep(10)
      expect(warnings).not.toContain('MaxListenersExceededWarning')
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('rejects CIDs it cannot verify', async () => {
    const { peer } = await setup()
    const { identity } = await import('multiformats/hashes/identity')
    const cid = CID.createV1(0x55, identity.digest(new Uint8Array([1, 2, 3])))
    expect((await rejection(peer.get(cid))).code).toBe('ERR_INVALID_CID')
  })
})

describe('blocks against broken or hostile servers', () => {
  /** A node whose blocks handler is `handler`, and a client for it. */
  async function double (handler: (lp: ReturnType<typeof lpStream>, stream: any, connection: any) => Promise<void>, init: Partial<ConstructorParameters<typeof PeerClient>[1]> = {}): Promise<PeerClient> {
    const server = await makeNode()
    const client = await makeNode()
    await server.handle(BLOCKS_PROTOCOL, async (stream, connection) => {
      const lp = lpStream(stream, { maxDataLength: MAX_BLOCKS_FRAME_BYTES })
      await handler(lp, stream, connection).catch(() => {})
    })
    return new PeerClient(client, { peer: server.getMultiaddrs()[0]!, ...init })
  }

  it('returns bad for bytes that do not hash to the CID, with a VerifyPool too', async () => {
    const pool = new VerifyPool({ workers: 1, minBytes: 8192 })
    try {
      const peer = await double(async (lp) => {
        while (true) {
          const msg = decodeBlocksClientMessage(await lp.read())
          if (msg.type !== 'request') return
          for (const cid of msg.cids) await lp.write(encodeBlock(cid, new Uint8Array(100_000)))
        }
      }, { verify: pool.verify })
      expect((await peer.get(await randomCid())).status).toBe('bad')
    } finally {
      await pool.close()
    }
  })

  it('returns bad for bytes that do not hash to the CID', async () => {
    const peer = await double(async (lp) => {
      while (true) {
        const msg = decodeBlocksClientMessage(await lp.read())
        if (msg.type !== 'request') return
        for (const cid of msg.cids) await lp.write(encodeBlock(cid, new TextEncoder().encode('not what you asked for')))
      }
    })
    const r = await peer.get(await randomCid())
    expect(r.status).toBe('bad')
    expect(r.status !== 'ok' && r.message).toContain(peer.id)
  })

  it('fails with ERR_PROTOCOL when a server answers for a CID nobody asked for', async () => {
    const stray = await randomCid()
    const peer = await double(async (lp) => {
      await lp.read()
      await lp.write(encodeBlock(stray, new Uint8Array(3)))
    })
    expect((await rejection(peer.get(await randomCid()))).code).toBe('ERR_PROTOCOL')
  })

  it('rejects outstanding gets with ERR_TIMEOUT when the server goes silent', async () => {
    const peer = await double(async (lp) => {
      await lp.read()
      await sleep(10_000)
    }, { timeoutMs: 400 })
    const started = Date.now()
    const gets = [peer.get(await randomCid()), peer.get(await randomCid())]
    for (const g of gets) expect((await rejection(g)).code).toBe('ERR_TIMEOUT')
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('rejects outstanding gets with ERR_NETWORK when the connection drops mid-request', async () => {
    const peer = await double(async (lp, stream, connection) => {
      const msg = decodeBlocksClientMessage(await lp.read())
      if (msg.type === 'request') await lp.write(encodeBlock(msg.cids[0]!, new Uint8Array(0))) // one bad answer, then drop
      connection.abort(new Error('cable cut'))
    })
    const gets = [peer.get(await randomCid()), peer.get(await randomCid()), peer.get(await randomCid())]
    const settled = await Promise.allSettled(gets)
    const codes = settled.map((s) => s.status === 'rejected' ? (s.reason as FerryError).code : s.value.status)
    expect(codes.filter((c) => c === 'ERR_NETWORK').length).toBeGreaterThanOrEqual(2)
    // Later gets redial; the server is still there, so they are answered again.
    const again = await Promise.allSettled([peer.get(await randomCid())])
    expect(again[0]!.status === 'rejected' ? (again[0].reason as FerryError).code : again[0]!.value.status).toMatch(/ERR_NETWORK|bad/)
  })

  it('fails gets with ERR_NETWORK when the peer cannot be reached', async () => {
    const server = await makeNode()
    const client = await makeNode()
    const addr = server.getMultiaddrs()[0]!
    await server.stop()
    const peer = new PeerClient(client, { peer: addr, timeoutMs: 3_000 })
    expect((await rejection(peer.get(await randomCid()))).code).toMatch(/ERR_NETWORK|ERR_TIMEOUT/)
  })
})

describe('server limits against a raw client', () => {
  async function raw (s: Setup): Promise<{ stream: any, lp: ReturnType<typeof lpStream> }> {
    const stream = await s.client.dialProtocol(s.server.getMultiaddrs()[0]!, BLOCKS_PROTOCOL)
    return { stream, lp: lpStream(stream, { maxDataLength: MAX_BLOCKS_FRAME_BYTES }) }
  }

  it('ends the stream with ERROR protocol for an oversize frame', async () => {
    const s = await setup()
    const { stream, lp } = await raw(s)
    stream.send(encodeFrame(new Uint8Array(MAX_BLOCKS_FRAME_BYTES + 1)))
    const msg = decodeBlocksServerMessage(await lp.read())
    expect(msg.type === 'error' && msg.code).toBe('protocol')
    expect(msg.type === 'error' && msg.message).toMatch(/too long|exceeds/)
  })

  it('ends the stream with ERROR protocol for garbage', async () => {
    const s = await setup()
    const { lp } = await raw(s)
    await lp.write(new Uint8Array([0x42, 1, 2, 3]))
    const msg = decodeBlocksServerMessage(await lp.read())
    expect(msg.type === 'error' && msg.code).toBe('protocol')
  })

  it('ends the stream with ERROR limit when too many blocks are outstanding', async () => {
    const s = await setup()
    const { lp } = await raw(s)
    const cid = s.scan.leaves.get('small.txt')![0]!
    await lp.write(encodeRequest(Array.from({ length: MAX_PENDING_PER_STREAM + 1 }, () => cid)))
    const msg = decodeBlocksServerMessage(await lp.read())
    expect(msg.type === 'error' && msg.code).toBe('limit')
  })

  it('asks for many small blocks in a few REQUESTs of many CIDs, not one per block, every block verified', async () => {
    const blocks = new Map<string, Uint8Array>()
    const cids: CID[] = []
    for (let i = 0; i < 512; i++) {
      const bytes = pattern(1 + (i * 131) % 4096, i)
      const cid = CID.createV1(0x55, await sha256.digest(bytes))
      blocks.set(cid.toString(), bytes)
      cids.push(cid)
    }
    const server = await makeNode()
    const client = await makeNode()
    let requests = 0
    await startExchangeServer(server, {
      blocks: { get: async (cid) => ({ status: 'ok', bytes: blocks.get(cid.toString())! }) },
      // asked once per REQUEST frame (without a CID), then once per block
      authorize: (_peer, req) => { if (req.cid === undefined) requests++; return ALLOW }
    })
    const peer = new PeerClient(client, { peer: server.getMultiaddrs()[0]!, streams: 1, pendingPerStream: 64 })
    // 64 callers, each asking for its next block as soon as it has the last: a pull's lanes
    const got = new Map<string, Uint8Array>()
    let next = 0
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < cids.length) {
        const cid = cids[next++]!
        const r = await peer.get(cid)
        if (r.status === 'ok') got.set(cid.toString(), r.bytes)
      }
    }))
    await peer.close()
    expect(got.size).toBe(cids.length)
    for (const cid of cids) expect(Buffer.from(got.get(cid.toString())!).equals(blocks.get(cid.toString())!)).toBe(true)
    // 449 REQUESTs (one per answer after the first window) when the client flushed after every frame read;
    // 8 now (a window each), 16 with the per-turn flush and no holding back
    expect(requests).toBeLessThanOrEqual(cids.length / 8)
  })

  it('holds back for a reader that does not read: few blocks read from the source, all delivered once it reads', async () => {
    const scan = await makeScan()
    const server = await makeNode()
    const client = await makeNode()
    const sources = homeSources(scan.home)
    let lookups = 0
    const exchange = await startExchangeServer(server, {
      blocks: { get: async (cid, o) => { lookups++; return await sources.blocks.get(cid, o) } },
      authorize: () => ALLOW,
      readAhead: 4
    })
    const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, BLOCKS_PROTOCOL)
    stream.pause()
    const cid = scan.leaves.get('big.raw')![0]! // 1 MiB
    stream.send(encodeFrame(encodeRequest(Array.from({ length: MAX_PENDING_PER_STREAM }, () => cid))))
    await sleep(1500)
    // One frame stuck in the stream's write buffer, up to 4 read ahead, one being read: not 64 MiB.
    expect(lookups).toBeLessThanOrEqual(6)
    expect(exchange.stats.bytesSent).toBeLessThanOrEqual(1024 * 1024)
    const lp = lpStream(stream, { maxDataLength: MAX_BLOCKS_FRAME_BYTES, maxBufferSize: 80 * MAX_BLOCKS_FRAME_BYTES })
    stream.resume()
    for (let i = 0; i < MAX_PENDING_PER_STREAM; i++) {
      const msg = decodeBlocksServerMessage(await lp.read())
      expect(msg.type).toBe('block')
    }
    expect(lookups).toBe(MAX_PENDING_PER_STREAM)
    // the server counts a block once its write returns, which may be just after the client has read it
    await waitFor(() => exchange.stats.bytesSent >= MAX_PENDING_PER_STREAM * 1024 * 1024, { what: 'the server to count every block sent' })
    expect(exchange.stats.bytesSent).toBe(MAX_PENDING_PER_STREAM * 1024 * 1024)
  })

  it('closes idle streams with ERROR timeout', async () => {
    const scan = await makeScan()
    const server = await makeNode()
    const client = await makeNode()
    await startExchangeServer(server, { ...homeSources(scan.home), authorize: () => ALLOW, idleTimeoutMs: 300 })
    const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, BLOCKS_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: MAX_BLOCKS_FRAME_BYTES })
    const msg = decodeBlocksServerMessage(await lp.read())
    expect(msg.type === 'error' && msg.code).toBe('timeout')
  })
})

describe('scans', () => {
  it('sends the record, then every entry, then checks the end', async () => {
    const { scan, peer } = await setup()
    const { record, entries } = await peer.getScan(scan.root)
    const local = scan.home.catalog.getScan(scan.root)!
    const { signature, ...rest } = record
    expect(rest).toEqual({
      root: scan.root.toString(),
      collection: 'c1',
      name: 'scan',
      origin: scan.home.peerId.toString(),
      files: local.files,
      directories: local.directories,
      symlinks: local.symlinks,
      bytes: local.bytes,
      skipped: [],
      created: local.created
    })
    // the origin's signature travels unchanged and verifies over what was received
    expect(signature?.format).toBe(1)
    expect(signature?.signedAt).toBe(local.signature?.signedAt)
    expect(Buffer.from(signature?.bytes ?? [])).toEqual(Buffer.from(local.signature?.bytes ?? [1]))
    const got: ScanEntry[] = []
    for await (const e of entries) got.push(e)
    const want = [...scan.home.catalog.entries(local.id)]
    expect(got.map((e) => ({ ...e, cid: e.cid.toString() }))).toEqual(want.map((e) => ({ ...e, cid: e.cid.toString() })))
    expect(await verifyScanSignature({ ...record, root: scan.root }, await digestEntries(got), signature)).toEqual({ ok: true })
    const altered = got.map((e) => e.path === 'small.txt' ? { ...e, mode: e.mode ^ 0o002 } : e)
    expect((await verifyScanSignature({ ...record, root: scan.root }, await digestEntries(altered), signature)).ok).toBe(false)
    expect(got.find((e) => e.path === 'link')?.target).toBe('small.txt')
  })

  it('answers ERR_ROOT_NOT_FOUND naming the peer', async () => {
    const { peer } = await setup()
    const err = await rejection(peer.getScan(await randomCid(0x70)))
    expect(err.code).toBe('ERR_ROOT_NOT_FOUND')
    expect(err.message).toContain(peer.id)
  })

  it('streams 10^5 entries and a long skipped list in bounded frames, held back by a slow reader', async () => {
    const server = await makeNode()
    const client = await makeNode()
    const leaf = await randomCid()
    const total = 100_000
    let produced = 0
    const skipped = Array.from({ length: 3000 }, (_, i) => ({ path: `unreadable/${i}`, code: 'EACCES', message: 'permission denied' }))
    const local: LocalScan = {
      record: { root: leaf, collection: null, name: 'big', origin: 'someone', files: total, directories: 0, symlinks: 0, bytes: total, skipped, created: 1 },
      entries: function * () {
        for (let i = 0; i < total; i++) {
          produced++
          yield { path: `f/${String(i).padStart(7, '0')}.tif`, type: 'file', size: 1, mode: 0o100644, mtimeMs: i, cid: leaf }
        }
      }
    }
    await startExchangeServer(server, { blocks: { get: async () => ({ status: 'missing' }) }, scans: { getScan: () => local }, authorize: () => ALLOW })
    const peer = new PeerClient(client, { peer: server.getMultiaddrs()[0]! })
    const { record, entries } = await peer.getScan(leaf)
    expect(record.skipped).toEqual(skipped)
    expect(record.collection).toBeNull()
    const it = entries[Symbol.asyncIterator]()
    await it.next()
    await sleep(500)
    expect(produced).toBeLessThan(total / 5) // held back by credit, not run to the end
    let n = 1
    let last = ''
    while (true) {
      const r = await it.next()
      if (r.done === true) break
      expect(r.value.path > last).toBe(true)
      last = r.value.path
      n++
    }
    expect(n).toBe(total)
  })

  it('closes the stream when the reader stops early', async () => {
    const { scan, peer, exchange } = await setup()
    const { entries } = await peer.getScan(scan.root)
    for await (const e of entries) {
      expect(e.path).toBe('')
      break
    }
    await waitFor(() => exchange.stats.streams === 0, { what: 'the server to end the scan stream' })
  })

  it('a raw client that never grants credit is timed out by the server', async () => {
    const scan = await makeScan()
    const server = await makeNode()
    const client = await makeNode()
    await startExchangeServer(server, { ...homeSources(scan.home), authorize: () => ALLOW, idleTimeoutMs: 300 })
    const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, SCAN_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: 1 << 20 })
    const { encodeScanRequest, decodeScanServerMessage } = await import('@ferry/exchange')
    await lp.write(encodeScanRequest(scan.root, 0))
    expect(decodeScanServerMessage(await lp.read()).type).toBe('scan-record')
    const msg = decodeScanServerMessage(await lp.read())
    expect(msg.type === 'error' && msg.code).toBe('timeout')
  })
})
