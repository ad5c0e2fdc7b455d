/**
 * A hostile peer against a real `ferry daemon` (its own process, real sockets), while a well-behaved
 * `ferry pull` (its own process) replicates a 160 MiB scan from the same daemon. The hostile peer is a
 * libp2p node in this process, trusted by the daemon (the worst case: it passes the access check), that
 * speaks raw frames: garbage, an oversize length prefix, a truncated varint then silence, a valid frame
 * trickled at 1 byte/s, more streams than its share, and a flood of REQUEST frames on many streams. Each
 * abuse must be answered with the right ERROR frame (or throttled), the pull must arrive byte for byte while
 * the flood is still running, and the daemon must still be up and serving afterwards. The limits are proved
 * by counts (streams refused, answers against the token bucket), never by speeds: the flood runs in this
 * process, on the same cores as the daemon and the pull, so a speed here would measure the machine.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import {
  BLOCKS_PROTOCOL, MAX_BLOCKS_FRAME_BYTES, MAX_BLOCK_STREAMS_PER_PEER, REQUEST_BURST_PER_PEER, REQUEST_RATE_PER_PEER, decodeBlocksServerMessage, encodeFrame, encodeRequest,
  type BlocksServerMessage
} from '@ferry/exchange'
import type { Stream } from '@libp2p/interface'
import { ferry, json } from '../support/ferry.js'
import { startDaemon, type Daemon } from '../support/daemon.js'
import { MiB, cleanup, hashTree, tempDir, writeTree } from '../support/tree.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

describe('a hostile peer does not hurt the daemon or a well-behaved peer', () => {
  let tmp: string
  let scan: string
  let root: string
  let daemon: Daemon
  let puller: string
  let hostile: Libp2p
  /** The same hostile identity over a second connection (libp2p caps streams per connection, not per peer). */
  let hostile2: Libp2p
  let addr: ReturnType<typeof multiaddr>

  beforeAll(async () => {
    tmp = tempDir('ferry-hostile-e2e-')
    scan = join(tmp, 'scan')
    const spec: Record<string, number> = { 'recon/vol.h5': 40 * MiB + 17 }
    for (let i = 0; i < 120; i++) spec[`raw/p${String(i).padStart(3, '0')}.tif`] = MiB + 100 + i
    writeTree(scan, spec)
    const server = join(tmp, 'server')
    puller = join(tmp, 'puller')
    await ferry(['init', '--home', server])
    const pullerId = json(await ferry(['init', '--home', puller, '--json'])).peerId as string
    root = json(await ferry(['add', scan, '--json', '--home', server])).root as string
    const key = await generateKeyPair('Ed25519')
    await ferry(['trust', pullerId, '--home', server])
    await ferry(['trust', peerIdFromPrivateKey(key).toString(), '--home', server]) // trusted, and hostile
    daemon = await startDaemon(server)
    addr = multiaddr(daemon.addr)
    hostile = await createLibp2p({ privateKey: key, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionMonitor: { enabled: false } })
    hostile2 = await createLibp2p({ privateKey: key, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionMonitor: { enabled: false } })
  })

  afterAll(async () => {
    await hostile?.stop()
    await hostile2?.stop()
    await daemon?.stop()
    cleanup(tmp)
  })

  /** Runs `ferry pull` into a fresh dest; returns its seconds and checks every byte. */
  async function goodPull (name: string): Promise<number> {
    const dest = join(tmp, name)
    const r = await ferry(['pull', root, dest, '--from', daemon.addr, '--json', '--home', puller], { timeoutMs: 110_000 })
    const out = json(r)
    expect({ code: r.code, complete: out.complete, problems: out.problems }).toEqual({ code: 0, complete: true, problems: [] })
    expect(hashTree(dest)).toEqual(hashTree(scan))
    return out.seconds as number
  }

  async function open (node = hostile): Promise<{ stream: Stream, lp: ReturnType<typeof lpStream> }> {
    const stream = await node.dialProtocol(addr, BLOCKS_PROTOCOL)
    return { stream, lp: lpStream(stream, { maxDataLength: MAX_BLOCKS_FRAME_BYTES }) }
  }

  /** The next frame from the daemon on `lp`, decoded, or what ended the stream. */
  async function answer (lp: ReturnType<typeof lpStream>, timeoutMs = 20_000): Promise<BlocksServerMessage | string> {
    try {
      const frame = await lp.read({ signal: AbortSignal.timeout(timeoutMs) })
      return decodeBlocksServerMessage(frame.subarray())
    } catch (err) {
      return `stream ended: ${(err as Error).name}`
    }
  }

  /** Sends unless the daemon has already ended the stream (which is the point of most of these). */
  const send = (stream: Stream, bytes: Uint8Array): void => {
    if (stream.status === 'open' && stream.writeStatus === 'writable') stream.send(bytes)
  }

  const randomCids = async (n: number, seed: number): Promise<CID[]> =>
    await Promise.all(Array.from({ length: n }, async (_, i) => CID.createV1(0x55, await sha256.digest(Uint8Array.from([seed, seed >> 8, seed >> 16, i, i >> 8])))))

  it('refuses an identity or non-sha2-256 root on the command line', async () => {
    const smuggled = CID.createV1(0x70, identity.digest(new TextEncoder().encode('not hashed at all'))).toString()
    const r = await ferry(['pull', smuggled, join(tmp, 'never'), '--from', daemon.addr, '--home', puller])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/multihash 0x0: Ferry only accepts sha2-256 roots/)
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/) // no stack trace
  })

  it('answers each abuse with the right ERROR while a well-behaved pull completes', async () => {
    let stop = false
    const outcomes: Record<string, unknown> = {}

    // 1. garbage: an unknown message type
    const garbage = (async () => {
      const { stream, lp } = await open()
      send(stream, encodeFrame(Uint8Array.from([0x42, 1, 2, 3])))
      outcomes.garbage = await answer(lp)
    })()
    // 2. a length prefix announcing 100 MiB
    const oversize = (async () => {
      const { stream, lp } = await open()
      send(stream, Uint8Array.from([0x80, 0x80, 0x80, 0x32, 0x01, 0x02, 0x03]))
      outcomes.oversize = await answer(lp)
    })()
    // 3. half a varint, then silence
    const truncated = (async () => {
      const { stream, lp } = await open()
      send(stream, Uint8Array.from([0x80]))
      const started = Date.now()
      outcomes.truncated = await answer(lp, 30_000)
      outcomes.truncatedAfterMs = Date.now() - started
    })()
    // 4. a valid REQUEST trickled at one byte per second
    const trickle = (async () => {
      const { stream, lp } = await open()
      const frame = encodeFrame(encodeRequest(await randomCids(1, 1)))
      const reply = answer(lp, 40_000)
      let sent = 0
      const timer = setInterval(() => { if (sent < frame.byteLength) send(stream, frame.subarray(sent, ++sent)) }, 1000)
      outcomes.trickle = await reply
      outcomes.trickleBytesSent = sent
      clearInterval(timer)
    })()
    // 5. a flood: streams up to the per-peer cap and beyond, each keeping the most requests outstanding and
    //    asking for more as fast as answers come back (absent CIDs: the cheapest answers to provoke)
    let floodAnswers = 0
    /** Flood streams still asking for more: counted when the good pull ends, to show it ended under attack. */
    let floodLive = 0
    const floodLimited: unknown[] = []
    let floodStarted = 0
    let floodEnded = 0
    const flood = (async () => {
      floodStarted = performance.now()
      // over two connections, so that libp2p's per-connection cap (16) is not what stops it
      const streams = await Promise.all(Array.from({ length: MAX_BLOCK_STREAMS_PER_PEER + 2 }, async (_, i) => await open(i % 2 === 0 ? hostile : hostile2).catch(() => undefined)))
      await Promise.all(streams.map(async (s, k) => {
        if (s == null) return
        let seed = k * 100_000
        let outstanding = 0
        floodLive++
        try {
          while (!stop && s.stream.status === 'open') {
            while (outstanding <= 32) {
              send(s.stream, encodeFrame(encodeRequest(await randomCids(32, seed++))))
              outstanding += 32
            }
            const msg = await answer(s.lp, 5000)
            if (typeof msg === 'string') break
            if (msg.type === 'error') {
              floodLimited.push(msg)
              break
            }
            floodAnswers++
            outstanding--
          }
        } finally {
          floodLive--
        }
      }))
      floodEnded = performance.now()
    })()

    await sleep(500)
    const answersBefore = floodAnswers
    const seconds = await goodPull('loaded')
    const answersDuring = floodAnswers - answersBefore
    const liveAtEnd = floodLive
    await Promise.all([garbage, oversize, truncated, trickle])
    stop = true
    await flood

    expect(outcomes.garbage).toMatchObject({ type: 'error', code: 'protocol' })
    expect(outcomes.oversize).toMatchObject({ type: 'error', code: 'protocol', message: expect.stringMatching(/too long|exceeds|length/i) })
    expect(outcomes.truncated).toMatchObject({ type: 'error', code: 'timeout', message: expect.stringMatching(/no first frame/) })
    expect(outcomes.truncatedAfterMs as number).toBeLessThan(25_000)
    expect(outcomes.trickle).toMatchObject({ type: 'error', code: 'timeout' })
    expect(outcomes.trickleBytesSent as number).toBeLessThan(40)
    // the streams beyond the peer's share were refused with ERROR LIMIT
    expect(floodLimited.length).toBeGreaterThanOrEqual(2)
    for (const m of floodLimited) expect(m).toMatchObject({ type: 'error', code: 'limit', message: expect.stringMatching(/across its connections/) })
    expect(floodAnswers).toBeGreaterThan(1000) // the flood really ran...
    expect(answersDuring).toBeGreaterThan(100) // ...while the good pull ran...
    expect(liveAtEnd).toBeGreaterThan(0) // ...and was still running when the pull had arrived byte for byte
    // it was held to the peer's request rate (plus one burst): the token bucket works across connections. The
    // bound can only be broken by a server that answers too much; a slow machine makes the flood smaller. (On
    // 2 shared cores this flood reaches a few thousand answers/s, below the default 10 000/s, so here the
    // bound holds trivially: limits.test.ts proves the bucket itself over real nodes at a rate of 200/s.)
    const floodSeconds = (floodEnded - floodStarted) / 1000
    expect(floodAnswers).toBeLessThanOrEqual(REQUEST_BURST_PER_PEER + REQUEST_RATE_PER_PEER * floodSeconds * 1.05)
    console.log(`under attack: ${floodAnswers} flood answers in ${floodSeconds.toFixed(1)} s (${answersDuring} during the pull, ${liveAtEnd} flood streams still asking when it ended), ${floodLimited.length} streams refused; the pull took ${seconds.toFixed(2)} s (speeds: see the benchmarks)`)

    // still up, and serving
    expect(daemon.child.exitCode).toBeNull()
    expect(daemon.output()).not.toMatch(/internal error|uncaught|unhandled/i)
    await goodPull('after')
  }, 240_000)
})
