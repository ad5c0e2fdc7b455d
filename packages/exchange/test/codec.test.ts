/**
 * Codec: round trips at boundary sizes, and rejection of oversize, truncated and garbage frames with typed
 * errors (FerryError ERR_PROTOCOL, `details.problem`). A hostile sweep flips and cuts every byte of every
 * golden frame: each must decode to some valid message or fail with ERR_PROTOCOL, never anything else.
 */
import { describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { FerryError } from '@ferry/errors'
import {
  MAX_BLOCK_BYTES, MAX_BLOCKS_FRAME_BYTES, MAX_CIDS_PER_REQUEST, MAX_MESSAGE_BYTES, MAX_SCAN_CREDIT, MAX_SCAN_FRAME_BYTES, MessageType,
  ScanBatcher, decodeAnnounceClientMessage, decodeAnnounceServerMessage, decodeCatalogClientMessage, decodeCatalogServerMessage, decodeBlocksClientMessage, decodeBlocksServerMessage, decodeScanClientMessage, decodeScanServerMessage, encodeBlock,
  encodeError, encodeRequest, encodeScanMore, encodeScanRequest, encodeStatus, type ScanEntry
} from '@ferry/exchange'
import { GOLDEN, LEAF, NODE, unframe } from './fixtures.js'

/** Boundary sizes worth trying for block payloads. */
const INTERESTING_SIZES = [0, 1, 1023, 1024, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 65_535, 65_536, 1_048_575, 1_048_576, 1_048_577, MAX_BLOCK_BYTES]

function problemOf (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError)
    expect((err as FerryError).code).toBe('ERR_PROTOCOL')
    return (err as FerryError).details.problem as string
  }
  throw new Error('expected the decoder to reject the frame')
}

const payload = (b: Uint8Array | { subarray: () => Uint8Array }): Uint8Array => b instanceof Uint8Array ? b : b.subarray()

describe('codec round trips', () => {
  it.each(INTERESTING_SIZES)('BLOCK of %i bytes', (size) => {
    const bytes = new Uint8Array(size).map((_, i) => i * 7)
    const msg = decodeBlocksServerMessage(encodeBlock(LEAF, bytes))
    expect(msg.type).toBe('block')
    if (msg.type !== 'block') return
    expect(msg.cid.equals(LEAF)).toBe(true)
    expect(Buffer.compare(msg.bytes, bytes)).toBe(0)
  })

  it('REQUEST with 1 and MAX_CIDS_PER_REQUEST CIDs', async () => {
    const cids = await Promise.all(Array.from({ length: MAX_CIDS_PER_REQUEST }, async (_, i) => CID.createV1(0x55, await sha256.digest(new Uint8Array([i, i >> 8])))))
    for (const list of [cids.slice(0, 1), cids]) {
      const msg = decodeBlocksClientMessage(encodeRequest(list))
      expect(msg.type === 'request' && msg.cids.map(String)).toEqual(list.map(String))
    }
    expect(() => encodeRequest([])).toThrow(RangeError)
    expect(() => encodeRequest([...cids, LEAF])).toThrow(RangeError)
  })

  it('STATUS and ERROR messages are cut to MAX_MESSAGE_BYTES on a character boundary', () => {
    const long = 'é'.repeat(MAX_MESSAGE_BYTES) // 2 bytes each
    const s = decodeBlocksServerMessage(encodeStatus(NODE, 'not-found', long))
    expect(s.type === 'status' && Buffer.byteLength(s.message)).toBe(MAX_MESSAGE_BYTES)
    const e = decodeBlocksServerMessage(encodeError('internal', long + 'x'))
    expect(e.type === 'error' && e.message).toBe('é'.repeat(MAX_MESSAGE_BYTES / 2))
  })

  it('entries with unicode paths, large sizes and odd mtimes; batches stay under the frame limit', () => {
    const entries: ScanEntry[] = []
    for (let i = 0; i < 5000; i++) {
      entries.push({ path: `dir ${i % 7}/fichier-é-${i}.tif`, type: i % 3 === 0 ? 'directory' : 'file', size: i * 1e9, mode: 0o100600, mtimeMs: -1e12 + i * 0.001, cid: i % 2 === 0 ? LEAF : NODE })
    }
    entries.push({ path: 'link', type: 'symlink', size: 0, mode: 0o120777, mtimeMs: 0, cid: LEAF, target: '../../outside/ü' })
    const batcher = new ScanBatcher<ScanEntry>('entries')
    const out: ScanEntry[] = []
    const take = (): void => {
      const frame = batcher.take()
      expect(frame.byteLength).toBeLessThanOrEqual(MAX_SCAN_FRAME_BYTES)
      const msg = decodeScanServerMessage(frame)
      if (msg.type === 'scan-entries') out.push(...msg.entries)
    }
    for (const e of entries) if (batcher.add(e)) take()
    if (batcher.size > 0) take()
    expect(out).toEqual(entries)
  })
})

describe('decoders reject bad frames with typed errors', () => {
  it('oversize frames', () => {
    expect(problemOf(() => decodeBlocksServerMessage(new Uint8Array(MAX_BLOCKS_FRAME_BYTES + 1)))).toBe('too-large')
    expect(problemOf(() => decodeScanServerMessage(new Uint8Array(MAX_SCAN_FRAME_BYTES + 1)))).toBe('too-large')
    // A block just over the block limit inside a frame that is still within the frame limit.
    const over = payload(encodeBlock(LEAF, new Uint8Array(MAX_BLOCK_BYTES)))
    const grown = new Uint8Array(over.byteLength + 1)
    grown.set(over)
    expect(problemOf(() => decodeBlocksServerMessage(grown))).toBe('too-large')
  })

  it('truncated frames', () => {
    const req = encodeRequest([LEAF, NODE])
    expect(problemOf(() => decodeBlocksClientMessage(req.subarray(0, req.byteLength - 1)))).toBe('truncated')
    expect(problemOf(() => decodeBlocksClientMessage(new Uint8Array(0)))).toBe('truncated')
    expect(problemOf(() => decodeBlocksServerMessage(payload(encodeBlock(LEAF, new Uint8Array(0))).subarray(0, 10)))).toBe('truncated')
    const st = encodeStatus(NODE, 'not-found', 'gone')
    expect(problemOf(() => decodeBlocksServerMessage(st.subarray(0, st.byteLength - 2)))).toBe('truncated')
  })

  it('garbage: unknown types, wrong direction, bad fields, trailing bytes', () => {
    expect(problemOf(() => decodeBlocksClientMessage(new Uint8Array([0x42])))).toBe('unexpected')
    expect(problemOf(() => decodeBlocksClientMessage(payload(encodeBlock(LEAF, new Uint8Array(3)))))).toBe('unexpected') // server-only message
    expect(problemOf(() => decodeBlocksServerMessage(encodeRequest([LEAF])))).toBe('unexpected') // client-only message
    expect(problemOf(() => decodeScanClientMessage(encodeRequest([LEAF])))).toBe('unexpected') // other protocol
    expect(problemOf(() => decodeBlocksClientMessage(new Uint8Array([MessageType.REQUEST, 0])))).toBe('malformed') // no CIDs
    expect(problemOf(() => decodeBlocksClientMessage(new Uint8Array([MessageType.REQUEST, 0x81, 0x02])))).toBe('malformed') // 257 CIDs
    expect(problemOf(() => decodeBlocksClientMessage(new Uint8Array([MessageType.REQUEST, 0x81, 0x00])))).toBe('malformed') // non-minimal varint
    expect(problemOf(() => decodeBlocksClientMessage(new Uint8Array([MessageType.REQUEST, 1, 4, 1, 2, 3, 4])))).toBe('malformed') // not a CID
    expect(problemOf(() => decodeBlocksClientMessage(new Uint8Array([MessageType.REQUEST, 1, 0])))).toBe('malformed') // empty CID
    const v0 = CID.createV0((NODE as CID).multihash as never)
    expect(problemOf(() => decodeBlocksClientMessage(new Uint8Array([MessageType.REQUEST, 1, v0.bytes.byteLength, ...v0.bytes])))).toBe('malformed')
    const req = encodeRequest([LEAF])
    expect(problemOf(() => decodeBlocksClientMessage(new Uint8Array([...req, 0])))).toBe('malformed') // trailing byte
    const st = encodeStatus(LEAF, 'changed', 'x')
    const badStatus = new Uint8Array(st)
    badStatus[1 + 1 + LEAF.bytes.byteLength] = 9
    expect(problemOf(() => decodeBlocksServerMessage(badStatus))).toBe('malformed')
    const badUtf8 = new Uint8Array(encodeError('internal', 'ab'))
    badUtf8[badUtf8.byteLength - 1] = 0xff
    expect(problemOf(() => decodeBlocksServerMessage(badUtf8))).toBe('malformed')
    expect(problemOf(() => decodeScanClientMessage(encodeScanRequest(NODE, MAX_SCAN_CREDIT + 1)))).toBe('malformed')
    expect(problemOf(() => decodeScanClientMessage(encodeScanMore(0)))).toBe('malformed')
    expect(problemOf(() => decodeBlocksClientMessage(new Uint8Array([MessageType.REQUEST, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])))).toBe('malformed')
  })

  it('unknown ERROR codes from a newer peer read as internal', () => {
    const e = new Uint8Array(encodeError('timeout', 'x'))
    e[1] = 200
    expect(decodeBlocksServerMessage(e)).toEqual({ type: 'error', code: 'internal', message: 'x' })
  })

  it('hostile sweep: every cut and every flipped byte of every golden frame decodes or fails with ERR_PROTOCOL', () => {
    const decoders = [
      decodeBlocksClientMessage, decodeBlocksServerMessage, decodeScanClientMessage, decodeScanServerMessage, decodeCatalogClientMessage,
      decodeCatalogServerMessage, decodeAnnounceClientMessage, decodeAnnounceServerMessage
    ]
    let rejected = 0
    for (const [, , h] of GOLDEN) {
      const good = unframe(h)
      const variants: Uint8Array[] = []
      for (let cut = 0; cut < good.byteLength; cut++) variants.push(good.subarray(0, cut))
      for (let i = 0; i < good.byteLength; i++) {
        for (const flip of [0x01, 0x80, 0xff]) {
          const v = new Uint8Array(good)
          v[i] = (v[i] as number) ^ flip
          variants.push(v)
        }
      }
      for (const v of variants) {
        for (const decode of decoders) {
          try {
            decode(v)
          } catch (err) {
            expect(err).toBeInstanceOf(FerryError)
            expect((err as FerryError).code).toBe('ERR_PROTOCOL')
            rejected++
          }
        }
      }
    }
    expect(rejected).toBeGreaterThan(1000)
  })
})
