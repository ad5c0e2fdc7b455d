/**
 * Noise's transport messages, as Ferry runs them: `ferryNoiseCrypto` (seals without joining ciphertext and
 * tag) and the patched decrypt path (patches/@chainsafe+libp2p-noise+17.0.0.patch: no joined `dst` for a
 * message that spans two socket reads). Unit checks of the crypto functions, then real libp2p nodes over
 * real TCP with a proxy between them that flips, truncates or replays one Noise message on the wire.
 */
import nodeCrypto, { KeyObject, randomBytes } from 'node:crypto'
import net from 'node:net'
import { noise, type ICryptoInterface } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { Uint8ArrayList } from 'uint8arraylist'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ferryNoiseCrypto as makeFerryNoiseCrypto, slabReadOptions } from '@ferry/node'
import { cleanup, onCleanup } from './helpers.js'

afterEach(cleanup)

const ferryNoiseCrypto = makeFerryNoiseCrypto()

const PROTOCOL = '/ferry-test/blob/1.0.0'
const TOTAL = 8 * 1024 * 1024
const key = randomBytes(32)
const ad = randomBytes(32)

/** Noise's nonce encoding: 4 zero bytes, then the counter as a little-endian uint64. */
function nonce (n: number): Uint8Array {
  const b = Buffer.alloc(12)
  b.writeBigUInt64LE(BigInt(n), 4)
  return b
}

function joined (b: Uint8Array | { subarray: () => Uint8Array }): Buffer {
  return Buffer.from(b instanceof Uint8Array ? b : b.subarray())
}

/** `b` split into a list of two buffers at `at` (as a message spanning two socket reads arrives). */
function split (b: Uint8Array, at: number): Uint8ArrayList {
  return new Uint8ArrayList(Buffer.from(b.subarray(0, at)), Buffer.from(b.subarray(at)))
}

type Cipher = ICryptoInterface['chaCha20Poly1305Decrypt']
const decrypt = defaultCrypto.chaCha20Poly1305Decrypt as unknown as (...a: Parameters<Cipher>) => Uint8Array | Uint8ArrayList
const ferryDecrypt = ferryNoiseCrypto.chaCha20Poly1305Decrypt as unknown as (...a: Parameters<Cipher>) => Uint8Array | Uint8ArrayList
const realCipheriv = nodeCrypto.createCipheriv.bind(nodeCrypto)
const realDecipheriv = nodeCrypto.createDecipheriv.bind(nodeCrypto)

describe('ferryNoiseCrypto', () => {
  it('seals exactly what defaultCrypto seals, below and above the native threshold, from arrays and lists', () => {
    for (const size of [0, 1, 1199, 1200, 4096, 65519]) {
      const plain = randomBytes(size)
      const theirs = joined(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce(size), ad, key))
      expect(joined(ferryNoiseCrypto.chaCha20Poly1305Encrypt(plain, nonce(size), ad, key))).toEqual(theirs)
      const list = split(plain, size >> 1) as unknown as Parameters<Cipher>[0]
      expect(joined(ferryNoiseCrypto.chaCha20Poly1305Encrypt(list, nonce(size), ad, key))).toEqual(theirs)
      expect(joined(decrypt(theirs, nonce(size), ad, key))).toEqual(plain)
      expect(joined(ferryDecrypt(theirs, nonce(size), ad, key))).toEqual(plain)
      expect(joined(ferryDecrypt(split(theirs, size >> 1) as unknown as Parameters<Cipher>[0], nonce(size), ad, key))).toEqual(plain)
    }
  })

  it('keys Node\'s cipher with one KeyObject per session key, not its bytes, each direction', () => {
    const ours = makeFerryNoiseCrypto()
    const keysSeen: unknown[] = []
    const record = (k: unknown): void => { keysSeen.push(k) }
    // Node's own ciphers, called through: the spies only record the key each is given
    const enc = vi.spyOn(nodeCrypto, 'createCipheriv').mockImplementation(((...a: Parameters<typeof realCipheriv>) => { record(a[1]); return realCipheriv(...a) }) as typeof nodeCrypto.createCipheriv)
    const dec = vi.spyOn(nodeCrypto, 'createDecipheriv').mockImplementation(((...a: Parameters<typeof realDecipheriv>) => { record(a[1]); return realDecipheriv(...a) }) as typeof nodeCrypto.createDecipheriv)
    try {
      const k1 = Buffer.from(key)
      const k2 = randomBytes(32)
      const plain = randomBytes(65519)
      for (let n = 0; n < 3; n++) {
        const sealed = joined(ours.chaCha20Poly1305Encrypt(plain, nonce(n), ad, k1))
        expect(joined(ours.chaCha20Poly1305Decrypt(sealed, nonce(n), ad, k1))).toEqual(plain)
      }
      const other = joined(ours.chaCha20Poly1305Encrypt(plain, nonce(0), ad, k2))
      expect(keysSeen).toHaveLength(7)
      expect(keysSeen.every((k) => k instanceof KeyObject)).toBe(true)
      expect(new Set(keysSeen).size).toBe(2)
      expect(keysSeen[6]).not.toBe(keysSeen[0])
      // the same array with other bytes gets a key of its own
      k1.set(k2)
      expect(joined(ours.chaCha20Poly1305Encrypt(plain, nonce(0), ad, k1))).toEqual(other)
    } finally {
      enc.mockRestore()
      dec.mockRestore()
    }
  })

  it('opens a sealed message whole or in two pieces, and rejects a flipped byte, a truncation and another nonce', () => {
    const plain = randomBytes(65519)
    const sealed = joined(ferryNoiseCrypto.chaCha20Poly1305Encrypt(plain, nonce(7), ad, key))
    const asList = (b: Uint8Array, at: number): Parameters<Cipher>[0] => split(b, at) as unknown as Parameters<Cipher>[0]
    for (const at of [1, 32768, sealed.byteLength - 8]) {
      expect(joined(decrypt(asList(sealed, at), nonce(7), ad, key))).toEqual(plain)
    }
    for (const where of [0, 30000, sealed.byteLength - 17, sealed.byteLength - 1]) {
      const bad = Buffer.from(sealed)
      bad[where] = (bad[where] as number) ^ 1
      expect(() => decrypt(bad, nonce(7), ad, key)).toThrow()
      expect(() => decrypt(asList(bad, 32768), nonce(7), ad, key)).toThrow()
      expect(() => ferryDecrypt(bad, nonce(7), ad, key)).toThrow()
      expect(() => ferryDecrypt(asList(bad, 32768), nonce(7), ad, key)).toThrow()
    }
    for (const at of [1, 32768, sealed.byteLength - 8]) {
      expect(joined(ferryDecrypt(asList(sealed, at), nonce(7), ad, key))).toEqual(plain)
    }
    expect(() => ferryDecrypt(sealed, nonce(8), ad, key)).toThrow()
    expect(() => ferryDecrypt(sealed.subarray(0, sealed.byteLength - 1), nonce(7), ad, key)).toThrow()
    expect(() => decrypt(sealed.subarray(0, sealed.byteLength - 1), nonce(7), ad, key)).toThrow()
    expect(() => decrypt(asList(sealed.subarray(0, sealed.byteLength - 1), 32768), nonce(7), ad, key)).toThrow()
    // a replayed message is opened under the next nonce
    expect(() => decrypt(sealed, nonce(8), ad, key)).toThrow()
    expect(() => decrypt(asList(sealed, 32768), nonce(8), ad, key)).toThrow()
    const small = joined(ferryNoiseCrypto.chaCha20Poly1305Encrypt(plain.subarray(0, 100), nonce(1), ad, key))
    expect(() => decrypt(small, nonce(2), ad, key)).toThrow()
  })
})

/** How the proxy alters the server's Noise messages to the client. */
type Tamper = 'none' | 'flip' | 'flip-tag' | 'truncate' | 'replay'

interface Proxy { port: number, tampered: () => boolean }

/**
 * A TCP proxy in front of `target`. From server to client it parses the stream (multistream-select's
 * varint-prefixed lines up to "/noise", then Noise's 2-byte-length messages, the first the handshake) and
 * alters transport message number `at` as `mode` says.
 */
async function proxy (target: number, mode: Tamper, at: number): Promise<Proxy> {
  let done = false
  const sockets = new Set<net.Socket>()
  const server = net.createServer((down) => {
    const up = net.connect(target, '127.0.0.1')
    for (const s of [up, down]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
    }
    down.pipe(up)
    up.on('error', () => down.destroy())
    down.on('error', () => up.destroy())
    up.on('close', () => down.destroy())
    let pending = Buffer.alloc(0)
    let noiseStarted = false
    let index = -1
    let previous: Buffer | undefined
    up.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      for (;;) {
        if (!noiseStarted) {
          if (pending.byteLength < 1) return
          const len = pending[0] as number // the protocol lines are under 128 bytes: a one-byte varint
          if (pending.byteLength < 1 + len) return
          const line = pending.subarray(0, 1 + len)
          pending = pending.subarray(1 + len)
          if (line.subarray(1).toString() === '/noise\n') noiseStarted = true
          down.write(line)
          continue
        }
        if (pending.byteLength < 2) return
        const len = pending.readUInt16BE(0)
        if (pending.byteLength < 2 + len) return
        const msg = Buffer.from(pending.subarray(0, 2 + len))
        pending = pending.subarray(2 + len)
        index++ // 0 is the handshake's second message
        if (index === at && mode !== 'none') {
          done = true
          if (mode === 'flip') msg[2 + (len >> 1)] = (msg[2 + (len >> 1)] as number) ^ 0x40
          if (mode === 'flip-tag') msg[1 + len] = (msg[1 + len] as number) ^ 1
          if (mode === 'truncate') {
            down.end(msg.subarray(0, 2 + (len >> 1)))
            up.destroy()
            return
          }
          if (mode === 'replay' && previous !== undefined) down.write(previous)
        }
        previous = msg
        down.write(msg)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onCleanup(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { port: (server.address() as net.AddressInfo).port, tampered: () => done }
}

async function node (crypto: ICryptoInterface, listen: string[], slabs = false): Promise<Libp2p> {
  const n = await createLibp2p({
    addresses: { listen },
    transports: [tcp(slabs ? { dialOpts: slabReadOptions() } : {})],
    connectionEncrypters: [noise({ crypto })],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false }
  })
  onCleanup(async () => { await n.stop() })
  return n
}

/** A server that sends `data` on every stream of PROTOCOL, in 256 KiB writes. */
async function blobServer (data: Uint8Array): Promise<Libp2p> {
  const server = await node(ferryNoiseCrypto, ['/ip4/127.0.0.1/tcp/0'])
  await server.handle(PROTOCOL, async (stream) => {
    try {
      for (let i = 0; i < data.byteLength; i += 256 * 1024) {
        if (!stream.send(data.subarray(i, i + 256 * 1024))) await stream.onDrain()
      }
      await stream.close()
    } catch {
      // the client's connection was cut by the test
    }
  })
  return server
}

/** Reads one blob through a proxy with `mode`: the bytes received, and the error that ended it if any. */
async function fetchBlob (server: Libp2p, client: Libp2p, mode: Tamper, at = 40, slow = false): Promise<{ got: Buffer, error?: unknown, tampered: boolean }> {
  const port = Number(/\/tcp\/(\d+)/.exec(server.getMultiaddrs()[0]?.toString() ?? '')?.[1])
  const p = await proxy(port, mode, at)
  const parts: Uint8Array[] = []
  let error: unknown
  try {
    const stream = await client.dialProtocol(multiaddr(`/ip4/127.0.0.1/tcp/${p.port}/p2p/${server.peerId.toString()}`), PROTOCOL)
    for await (const buf of stream) {
      parts.push(buf.subarray())
      // a slow reader: the socket is paused and resumed by backpressure
      if (slow && parts.length % 16 === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    }
  } catch (err) {
    error = err
  }
  return { got: Buffer.concat(parts), error, tampered: p.tampered() }
}

describe('Noise transport messages over TCP', () => {
  it('delivers every byte through the patched decrypt, which is never handed a joined dst', async () => {
    const data = randomBytes(TOTAL)
    const server = await blobServer(data)
    const seen = { split: 0, whole: 0, joinedDst: 0, copiedDst: 0 }
    const spy: ICryptoInterface = {
      ...ferryNoiseCrypto,
      chaCha20Poly1305Decrypt (ciphertext, n, a, k, dst) {
        if (ciphertext.byteLength >= 1200) {
          if (ciphertext instanceof Uint8Array) {
            seen.whole++
            // a view of the ciphertext's own memory, as the comment in Noise's decrypt intends
            if (dst !== undefined && (dst.buffer !== ciphertext.buffer || dst.byteOffset !== ciphertext.byteOffset)) seen.copiedDst++
          } else {
            seen.split++
            if (dst !== undefined) seen.joinedDst++
          }
        }
        return ferryNoiseCrypto.chaCha20Poly1305Decrypt(ciphertext, n, a, k, dst)
      }
    }
    const client = await node(spy, [])
    const { got, error } = await fetchBlob(server, client, 'none')
    expect(error).toBeUndefined()
    expect(got.equals(data)).toBe(true)
    // 64 KiB socket reads and 65,539-byte messages: most messages span two reads
    expect(seen.split).toBeGreaterThan(0)
    expect(seen.joinedDst).toBe(0)
    expect(seen.copiedDst).toBe(0)
  })

  for (const mode of ['flip', 'flip-tag', 'replay', 'truncate'] as const) {
    const what = mode === 'replay' ? 'a replayed' : mode === 'truncate' ? 'a truncated' : 'a tampered'
    it(`closes the connection on ${what} message and delivers only bytes sent (${mode})`, async () => {
      const data = randomBytes(TOTAL)
      const server = await blobServer(data)
      let rejected = 0
      const counting: ICryptoInterface = {
        ...ferryNoiseCrypto,
        chaCha20Poly1305Decrypt (...args) {
          try {
            return ferryNoiseCrypto.chaCha20Poly1305Decrypt(...args)
          } catch (err) {
            rejected++
            throw err
          }
        }
      }
      const client = await node(counting, [])
      const { got, tampered } = await fetchBlob(server, client, mode)
      expect(tampered).toBe(true)
      // as before the patch: the stream ends short (libp2p ends it without an error), the connection is gone
      expect(got.byteLength).toBeLessThan(data.byteLength)
      expect(got.equals(data.subarray(0, got.byteLength))).toBe(true)
      expect(rejected).toBe(mode === 'truncate' ? 0 : 1)
      expect(client.getConnections().length).toBe(0)
    })
  }

  it('delivers every byte, and fails tampered messages, with the dialled socket reading into slabs', async () => {
    const data = randomBytes(TOTAL)
    const server = await blobServer(data)
    const fast = await fetchBlob(server, await node(ferryNoiseCrypto, [], true), 'none')
    expect(fast.error).toBeUndefined()
    expect(fast.got.equals(data)).toBe(true)
    const slow = await fetchBlob(server, await node(ferryNoiseCrypto, [], true), 'none', 40, true)
    expect(slow.error).toBeUndefined()
    expect(slow.got.equals(data)).toBe(true)
    const client = await node(ferryNoiseCrypto, [], true)
    const bad = await fetchBlob(server, client, 'flip')
    expect(bad.tampered).toBe(true)
    expect(bad.got.byteLength).toBeLessThan(data.byteLength)
    expect(bad.got.equals(data.subarray(0, bad.got.byteLength))).toBe(true)
    expect(client.getConnections().length).toBe(0)
  })
})

describe('small messages over TCP (patches/@libp2p+tcp+11.0.28.patch)', () => {
  it('go out in one socket write each, not one per piece (length prefix, ciphertext, tag)', async () => {
    const server = await node(ferryNoiseCrypto, ['/ip4/127.0.0.1/tcp/0'])
    await server.handle(PROTOCOL, async (stream) => {
      for await (const buf of stream) if (!stream.send(buf)) await stream.onDrain()
      await stream.close()
    })
    const client = await node(ferryNoiseCrypto, [])
    const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, PROTOCOL)
    const sizes: number[] = []
    const write = net.Socket.prototype.write
    net.Socket.prototype.write = function (this: net.Socket, ...args: Parameters<typeof write>) {
      sizes.push((args[0] as Uint8Array).byteLength)
      return write.apply(this, args)
    } as typeof write
    const sent = [100, 3000, 9000].map((n) => randomBytes(n)) // below and above the native cipher's 1,200 bytes
    const echoed: Buffer[] = []
    try {
      const reader = stream[Symbol.asyncIterator]()
      for (const msg of sent) {
        stream.send(msg)
        let got = Buffer.alloc(0)
        while (got.byteLength < msg.byteLength) got = Buffer.concat([got, Buffer.from((await reader.next()).value!.subarray())])
        echoed.push(got)
      }
    } finally {
      net.Socket.prototype.write = write
    }
    expect(Buffer.concat(echoed).equals(Buffer.concat(sent))).toBe(true)
    // each message once each way, in one write of its bytes and 30 more (Noise's 2-byte length prefix and
    // 16-byte tag, yamux's 12-byte header), not a write per piece; the other writes are yamux window
    // updates, 30 bytes each
    expect(sizes.filter((s) => s !== 30)).toEqual(sent.flatMap((m) => [m.byteLength + 30, m.byteLength + 30]))
  })
})
