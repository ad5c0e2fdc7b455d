/**
 * Per-peer limits of the server over real libp2p nodes: stream caps count a peer's streams across all its
 * connections (two nodes with one identity, as two `ferry pull` processes of one home are), an extra
 * stream ends with ERROR LIMIT and a message while the peer's other streams and other peers carry on, the
 * request rate is a token bucket that slows a flooding peer to its rate, and a stream that never sends its
 * first frame is ended.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { createLibp2p, type Libp2p } from 'libp2p'
import {
  BLOCKS_PROTOCOL, MAX_BLOCKS_FRAME_BYTES, PeerClient, PeerLimits, SCAN_PROTOCOL, decodeBlocksServerMessage, decodeScanServerMessage,
  encodeRequest, startExchangeServer, type ExchangeServerInit
} from '@ferry/exchange'
import { cleanup, makeNode, makeScan, sleep } from './helpers.js'
import { homeSources } from '@ferry/node'
import type { PrivateKey } from '@libp2p/interface'
import { waitFor } from '../../../test/support/unit.js'

afterEach(cleanup)

async function nodeWithKey (privateKey: PrivateKey): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false }
  })
  return node
}

async function serve (init: Partial<ExchangeServerInit> = {}): Promise<{ server: Libp2p, exchange: Awaited<ReturnType<typeof startExchangeServer>>, scan: Awaited<ReturnType<typeof makeScan>> }> {
  const scan = await makeScan()
  const server = await makeNode()
  const exchange = await startExchangeServer(server, { ...homeSources(scan.home), authorize: () => ({ allow: true }), ...init })
  return { server, exchange, scan }
}

describe('PeerLimits', () => {
  it('caps streams per peer and in total, and forgets idle peers', () => {
    const limits = new PeerLimits({ blockStreamsPerPeer: 2, blockStreamsTotal: 3 })
    const a1 = limits.open('A', 'blocks')
    const a2 = limits.open('A', 'blocks')
    expect(typeof a1).toBe('object')
    expect(typeof a2).toBe('object')
    expect(limits.open('A', 'blocks')).toMatch(/2 blocks streams already open from this peer.*limit is 2/)
    expect(typeof limits.open('A', 'scan')).toBe('object') // another protocol, another count
    const b1 = limits.open('B', 'blocks')
    expect(typeof b1).toBe('object')
    expect(limits.open('C', 'blocks')).toMatch(/limit of 3 blocks streams/)
    if (typeof a1 === 'string' || typeof a2 === 'string' || typeof b1 === 'string') throw new Error('unreachable')
    a1.release()
    a1.release() // idempotent
    expect(limits.streams('A', 'blocks')).toBe(1)
    expect(typeof limits.open('C', 'blocks')).toBe('object')
  })

  it('remembers only peers with streams open or a bucket still refilling', async () => {
    const limits = new PeerLimits({ requestRate: 100_000, requestBurst: 10 })
    const gone = AbortSignal.abort()
    for (let i = 0; i < 3000; i++) {
      const slot = limits.open(`P${i}`, 'blocks')
      if (typeof slot === 'string') throw new Error(slot)
      await limits.take(`P${i}`, 20, gone).catch(() => {}) // leaves in debt: 10 over, repaid within 0.1 ms
      slot.release()
      if (i % 500 === 0) await sleep(2)
    }
    expect(limits.size).toBeGreaterThan(0) // some were still in debt when they left...
    expect(limits.size).toBeLessThanOrEqual(1025) // ...and were swept once repaid
  })

  it('slows a peer to its rate and leaves other peers their own budget', async () => {
    const limits = new PeerLimits({ requestRate: 1000, requestBurst: 100 })
    // Timed from before the bucket exists: 300 tokens at a burst of 100 and 1000/s cannot all be had in less
    // than 0.2 s, however slow the machine (time lost between the two calls refills the bucket, so the second
    // wait alone may be shorter than 0.2 s on a loaded machine: the sum is what the bucket guarantees).
    const started = performance.now()
    expect(await limits.take('A', 100)).toBe(0) // the burst
    const waited = await limits.take('A', 200) // 200 over, less what refilled meanwhile
    expect(waited).toBeGreaterThan(0)
    expect(waited).toBeLessThanOrEqual(200)
    expect(performance.now() - started).toBeGreaterThanOrEqual(199)
    expect(await limits.take('B', 100)).toBe(0)
    const controller = new AbortController()
    const p = limits.take('A', 10_000, controller.signal)
    controller.abort()
    await expect(p).rejects.toMatchObject({ code: 'ERR_ABORTED' })
  })
})

describe('server limits per peer, across connections', () => {
  it('ends a stream beyond the per-peer cap with ERROR LIMIT, even over a second connection, and serves everyone else', async () => {
    const { server, exchange, scan } = await serve({ limits: { blockStreamsPerPeer: 3 } })
    const key = await generateKeyPair('Ed25519')
    const one = await nodeWithKey(key)
    const two = await nodeWithKey(key) // the same peer, a separate connection
    try {
      const addr = server.getMultiaddrs()[0]!
      const held = [await one.dialProtocol(addr, BLOCKS_PROTOCOL), await one.dialProtocol(addr, BLOCKS_PROTOCOL), await two.dialProtocol(addr, BLOCKS_PROTOCOL)]
      expect(server.getConnections().length).toBe(2)
      // a stream counts toward the cap once the server's handler has it: dialProtocol may return before
      await waitFor(() => exchange.stats.streams === 3, { what: 'the server to serve the 3 held streams' })
      const extra = await two.dialProtocol(addr, BLOCKS_PROTOCOL)
      const msg = decodeBlocksServerMessage((await lpStream(extra, { maxDataLength: MAX_BLOCKS_FRAME_BYTES }).read()).subarray())
      expect(msg).toMatchObject({ type: 'error', code: 'limit' })
      expect(msg.type === 'error' && msg.message).toMatch(/3 blocks streams already open from this peer, across its connections: the limit is 3/)
      expect(exchange.stats.limited).toBe(1)

      // the peer's own open streams still work
      const lp = lpStream(held[2]!, { maxDataLength: MAX_BLOCKS_FRAME_BYTES })
      const leaf = scan.leaves.get('small.txt')![0]!
      await lp.write(encodeRequest([leaf]))
      expect(decodeBlocksServerMessage((await lp.read()).subarray())).toMatchObject({ type: 'block' })

      // another peer is not affected
      const other = await makeNode()
      const client = new PeerClient(other, { peer: addr })
      expect((await client.get(leaf)).status).toBe('ok')
      await client.close()

      // closing streams frees the peer's slots
      for (const s of held) s.abort(new Error('done'))
      await waitFor(() => exchange.stats.streams === 0, { what: 'the server to end the aborted streams' })
      const again = await two.dialProtocol(addr, BLOCKS_PROTOCOL)
      const lp2 = lpStream(again, { maxDataLength: MAX_BLOCKS_FRAME_BYTES })
      await lp2.write(encodeRequest([leaf]))
      expect(decodeBlocksServerMessage((await lp2.read()).subarray())).toMatchObject({ type: 'block' })
    } finally {
      await one.stop()
      await two.stop()
    }
  })

  it('caps scan streams per peer too', async () => {
    const { server, exchange } = await serve({ limits: { scanStreamsPerPeer: 1 } })
    const client = await makeNode()
    const addr = server.getMultiaddrs()[0]!
    await client.dialProtocol(addr, SCAN_PROTOCOL)
    await waitFor(() => exchange.stats.streams === 1, { what: 'the server to serve the first scan stream' })
    const extra = await client.dialProtocol(addr, SCAN_PROTOCOL)
    const msg = decodeScanServerMessage((await lpStream(extra).read()).subarray())
    expect(msg).toMatchObject({ type: 'error', code: 'limit' })
    expect(exchange.stats.limited).toBe(1)
  })

  it('slows a flood of requests to the peer\'s rate, answering every one', async () => {
    const { server, exchange, scan } = await serve({ limits: { requestRate: 200, requestBurst: 50 } })
    const client = await makeNode()
    const peer = new PeerClient(client, { peer: server.getMultiaddrs()[0]!, streams: 4 })
    const leaf = scan.leaves.get('small.txt')![0]!
    // 250 distinct CIDs (a get of a CID already in flight would share its request): one real, the rest absent
    const cids = [leaf, ...await Promise.all(Array.from({ length: 249 }, async (_, i) => CID.createV1(0x55, await sha256.digest(Uint8Array.from([i, i >> 8, 7])))))]
    const started = performance.now()
    const results = await Promise.all(cids.map(async (cid) => await peer.get(cid)))
    const seconds = (performance.now() - started) / 1000
    expect(results[0]?.status).toBe('ok')
    expect(results.slice(1).every((r) => r.status === 'missing')).toBe(true)
    // the first 50 come from the burst, the other 200 at 200/s: about 1 s
    expect(seconds).toBeGreaterThan(0.7)
    expect(exchange.stats.throttled).toBeGreaterThan(0)
    expect(exchange.stats.limited).toBe(0)
    await peer.close()
  })

  it('ends a stream that sends no complete first frame in time with ERROR TIMEOUT', async () => {
    const { server, exchange } = await serve({ firstFrameTimeoutMs: 500 })
    const client = await makeNode()
    const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, BLOCKS_PROTOCOL)
    stream.send(Uint8Array.from([0x20, 0x01])) // a length prefix and one byte of the 32 promised, then silence
    const started = performance.now()
    const msg = decodeBlocksServerMessage((await lpStream(stream, { maxDataLength: MAX_BLOCKS_FRAME_BYTES }).read()).subarray())
    expect(msg).toMatchObject({ type: 'error', code: 'timeout' })
    expect(performance.now() - started).toBeLessThan(5000)
    expect(exchange.stats.timedOut).toBe(1)
  })
})
