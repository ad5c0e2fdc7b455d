/**
 * Property tests (fast-check) of the frame decoders, the code every byte from a peer goes through first:
 * arbitrary bytes, and valid frames with bytes flipped, inserted, cut or spliced, either decode to a message
 * that is valid by construction (CIDs sha2-256 over raw or dag-pb, counts within their limits) or throw a
 * FerryError ERR_PROTOCOL with a `details.problem`, and never anything else; every decode returns promptly.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { FerryError } from '@ferry/errors'
import {
  CatalogPageBuilder, MAX_ANNOUNCE_KEEPALIVE_MS, MAX_CATALOG_CURSOR_BYTES, decodeAnnounceClientMessage, decodeAnnounceServerMessage, decodeCatalogClientMessage,
  decodeCatalogServerMessage, encodeAnnounceAccepted, encodeAnnounceKeepAlive, encodeAnnounceScan, encodeAnnounceSubscribe, encodeCatalogRequest,
  type CatalogRow, MAX_BLOCK_BYTES, MAX_CIDS_PER_REQUEST, MAX_MESSAGE_BYTES, MAX_SCAN_CREDIT, MAX_STRING_BYTES, ScanBatcher, decodeBlocksClientMessage,
  decodeBlocksServerFrame, decodeBlocksServerMessage, decodeScanClientMessage, decodeScanServerMessage, encodeBlock, encodeError, encodeRequest,
  encodeScanMore, encodeScanRequest, encodeStatus, type ScanEntry
} from '@ferry/exchange'
import { Uint8ArrayList } from 'uint8arraylist'
import { LEAF, NODE } from './fixtures.js'

const DECODERS: Array<[string, (b: Uint8Array) => unknown]> = [
  ['blocks client', decodeBlocksClientMessage],
  ['blocks server', decodeBlocksServerMessage],
  ['blocks server frame', (b) => decodeBlocksServerFrame(new Uint8ArrayList(b))],
  ['scan client', decodeScanClientMessage],
  ['scan server', decodeScanServerMessage],
  ['catalog client', decodeCatalogClientMessage],
  ['catalog server', decodeCatalogServerMessage],
  ['announce client', decodeAnnounceClientMessage],
  ['announce server', decodeAnnounceServerMessage]
]

/** Every CID in a decoded message must be one Ferry can verify. */
function checkCids (value: unknown, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return
  seen.add(value)
  const cid = CID.asCID(value)
  if (cid != null) {
    expect(cid.version).toBe(1)
    expect(cid.multihash.code).toBe(0x12)
    expect(cid.multihash.digest.byteLength).toBe(32)
    expect([0x55, 0x70]).toContain(cid.code)
    return
  }
  if (value instanceof Uint8Array || value instanceof Uint8ArrayList) return
  for (const v of Object.values(value)) checkCids(v, seen)
}

/** Decodes `bytes` with `decode`: a valid message or ERR_PROTOCOL, nothing else, quickly. */
function decodesOrRejects (decode: (b: Uint8Array) => unknown, bytes: Uint8Array): void {
  const started = performance.now()
  let msg: unknown
  try {
    msg = decode(bytes)
  } catch (err) {
    if (!(err instanceof FerryError) || err.code !== 'ERR_PROTOCOL') throw new Error(`decoder threw ${String(err)} for ${Buffer.from(bytes).toString('hex').slice(0, 200)}`)
    expect(['too-large', 'truncated', 'malformed', 'unexpected']).toContain(err.details.problem)
    return
  } finally {
    expect(performance.now() - started).toBeLessThan(1000)
  }
  expect(typeof (msg as { type: unknown }).type).toBe('string')
  checkCids(msg)
  const m = msg as Record<string, unknown>
  if (m.type === 'request') expect((m.cids as unknown[]).length).toBeGreaterThan(0)
  if (m.type === 'request') expect((m.cids as unknown[]).length).toBeLessThanOrEqual(MAX_CIDS_PER_REQUEST)
  if (m.type === 'scan-request' || m.type === 'scan-more') expect(m.credit).toBeLessThanOrEqual(MAX_SCAN_CREDIT)
  if (m.type === 'error' || m.type === 'status') expect(Buffer.byteLength(m.message as string)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES)
  if (m.type === 'block') expect((m.bytes as Uint8Array).byteLength).toBeLessThanOrEqual(MAX_BLOCK_BYTES)
}

const entry = (path: string, type: ScanEntry['type'], cid: CID): ScanEntry =>
  ({ path, type, size: 5, mode: 0o644, mtimeMs: 1_700_000_000_123.5, cid, ...(type === 'symlink' ? { target: '../x' } : {}) })

function entriesFrame (): Uint8Array {
  const b = new ScanBatcher<ScanEntry>('entries')
  b.add(entry('a/b.txt', 'file', LEAF))
  b.add(entry('a', 'directory', NODE))
  b.add(entry('a/l', 'symlink', NODE))
  return b.take()
}

function rowOf (i: number): CatalogRow {
  return { root: i % 2 === 0 ? NODE : LEAF, collection: `visit-${i}`, name: `scan ${i} é`, origin: '12D3KooW', files: i, directories: 1, symlinks: 0, bytes: i * 1e9, created: 1_700_000_000_000 + i, skipped: i % 3, state: i % 2 === 0 ? 'sealed' : 'open' }
}

/** Valid payloads of every message type, to mutate. */
const VALID: Uint8Array[] = [
  encodeRequest([LEAF, NODE]),
  encodeBlock(LEAF, new TextEncoder().encode('hello')).subarray(),
  encodeStatus(NODE, 'changed', 'edited'),
  encodeError('limit', 'too many'),
  encodeScanRequest(NODE, 4),
  encodeScanMore(1),
  entriesFrame(),
  encodeCatalogRequest({ collection: 'c1', prefix: 'scan-', cursor: Uint8Array.of(0x81, 0x01), pageSize: 100 }),
  (() => { const b = new CatalogPageBuilder(); b.add({ ...rowOf(0), collection: null }); b.add(rowOf(1)); return b.take(Uint8Array.of(5)) })(),
  encodeAnnounceSubscribe('c1'),
  encodeAnnounceAccepted(15_000),
  encodeAnnounceScan(rowOf(2)),
  encodeAnnounceKeepAlive()
]

/** A valid payload with a few edits: flips, insertions, deletions, truncation, splices of two frames. */
const mutated = fc.tuple(
  fc.constantFrom(...VALID),
  fc.constantFrom(...VALID),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'set', 'insert', 'delete', 'cut', 'splice')), { minLength: 1, maxLength: 6 })
).map(([base, other, edits]) => {
  let b = Array.from(base)
  for (const [at, value, kind] of edits) {
    const i = b.length === 0 ? 0 : at % b.length
    if (kind === 'flip') b[i] = (b[i] ?? 0) ^ (1 << (value % 8))
    else if (kind === 'set') b[i] = value
    else if (kind === 'insert') b.splice(i, 0, value)
    else if (kind === 'delete') b.splice(i, 1)
    else if (kind === 'cut') b = b.slice(0, i)
    else b = [...b.slice(0, i), ...Array.from(other).slice(at % Math.max(1, other.length))]
  }
  return Uint8Array.from(b)
})

describe('frame decoders under arbitrary and mutated input (fast-check)', () => {
  it.each(DECODERS)('%s: arbitrary bytes decode or fail with ERR_PROTOCOL', (_, decode) => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 4096 }), (bytes) => { decodesOrRejects(decode, bytes) }), { numRuns: 3000 })
  })

  it.each(DECODERS)('%s: arbitrary bytes after every valid type byte decode or fail with ERR_PROTOCOL', (_, decode) => {
    const types = [0x01, 0x02, 0x03, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x20, 0x21, 0x30, 0x31, 0x32, 0x33, 0x7f]
    fc.assert(fc.property(fc.constantFrom(...types), fc.uint8Array({ maxLength: 600 }), (type, rest) => {
      decodesOrRejects(decode, Uint8Array.from([type, ...rest]))
    }), { numRuns: 3000 })
  })

  it.each(DECODERS)('%s: mutated valid frames decode or fail with ERR_PROTOCOL', (_, decode) => {
    fc.assert(fc.property(mutated, (bytes) => { decodesOrRejects(decode, bytes) }), { numRuns: 5000 })
  })

  it('huge declared counts and lengths are refused without allocating or looping on them', () => {
    // varint of 2^53-1 as an entry count, a string length and a CID length
    const big = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]
    for (const [, decode] of DECODERS) {
      for (const type of [0x01, 0x13, 0x14, 0x7f, 0x10]) decodesOrRejects(decode, Uint8Array.from([type, ...big, 0, 0, 0]))
    }
    fc.assert(fc.property(fc.array(fc.integer({ min: 0x80, max: 0xff }), { minLength: 1, maxLength: 12 }), (varint) => {
      for (const [, decode] of DECODERS) decodesOrRejects(decode, Uint8Array.from([0x14, ...varint])) // a varint cut short or too long
    }))
  })

  it('identity and non-sha2-256 CIDs are refused wherever a CID arrives', async () => {
    const weak = [
      CID.createV1(0x55, identity.digest(new TextEncoder().encode('smuggled'))),
      CID.createV1(0x55, { code: 0x11, size: 20, digest: new Uint8Array(20), bytes: Uint8Array.from([0x11, 20, ...new Uint8Array(20)]) } as any), // sha1
      CID.createV1(0x71, await sha256.digest(new Uint8Array([1]))) // dag-cbor: not a Ferry block
    ]
    for (const cid of weak) {
      const frames = [
        [decodeBlocksClientMessage, encodeRequest([LEAF, cid])],
        [decodeBlocksServerMessage, encodeBlock(cid, new Uint8Array(3)).subarray()],
        [decodeBlocksServerMessage, encodeStatus(cid, 'not-found', 'no')],
        [decodeScanClientMessage, encodeScanRequest(cid, 1)],
        [decodeScanServerMessage, (() => { const b = new ScanBatcher<ScanEntry>('entries'); b.add(entry('x', 'file', cid)); return b.take() })()]
      ] as const
      for (const [decode, bytes] of frames) {
        let err: unknown
        try { decode(bytes) } catch (e) { err = e }
        expect(err).toBeInstanceOf(FerryError)
        expect((err as FerryError).code).toBe('ERR_PROTOCOL')
        expect((err as FerryError).message).toMatch(/sha2-256|raw and dag-pb/)
      }
    }
  })

  it('catalog and announce messages round-trip for arbitrary rows, requests and cursors', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 40 })
    const nat = fc.maxSafeNat()
    const row = fc.record({
      root: fc.constantFrom(LEAF, NODE),
      collection: fc.option(text, { nil: null }),
      name: text,
      origin: text,
      files: nat,
      directories: nat,
      symlinks: nat,
      bytes: nat,
      created: nat,
      skipped: nat,
      state: fc.constantFrom<CatalogRow['state']>('sealed', 'open')
    })
    const cursor = fc.uint8Array({ maxLength: MAX_CATALOG_CURSOR_BYTES })
    fc.assert(fc.property(fc.array(row, { maxLength: 20 }), cursor, (rows, next) => {
      const b = new CatalogPageBuilder()
      for (const r of rows) b.add(r)
      expect(decodeCatalogServerMessage(b.take(next))).toEqual({ type: 'catalog-page', next, rows })
      for (const r of rows) expect(decodeAnnounceServerMessage(encodeAnnounceScan(r))).toEqual({ type: 'announce-scan', row: r })
    }), { numRuns: 500 })
    fc.assert(fc.property(fc.option(text, { nil: null }), text, cursor, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (collection, prefix, c, pageSize) => {
      expect(decodeCatalogClientMessage(encodeCatalogRequest({ collection, prefix, cursor: c, pageSize }))).toEqual({ type: 'catalog-request', collection, prefix, cursor: c, pageSize })
      expect(decodeAnnounceClientMessage(encodeAnnounceSubscribe(collection))).toEqual({ type: 'announce-subscribe', collection })
    }), { numRuns: 500 })
    fc.assert(fc.property(fc.integer({ min: 1, max: MAX_ANNOUNCE_KEEPALIVE_MS }), (ms) => {
      expect(decodeAnnounceServerMessage(encodeAnnounceAccepted(ms))).toEqual({ type: 'announce-accepted', keepAliveMs: ms })
    }))
  })

  it('catalog fields out of range are refused: empty page size, long cursor, unknown state, keep-alive 0 or too long', () => {
    const reject = (decode: (b: Uint8Array) => unknown, bytes: Uint8Array): void => {
      let err: unknown
      try { decode(bytes) } catch (e) { err = e }
      expect(err).toBeInstanceOf(FerryError)
      expect((err as FerryError).details.problem).toBe('malformed')
    }
    reject(decodeCatalogClientMessage, encodeCatalogRequest({ collection: null, prefix: '', cursor: new Uint8Array(0), pageSize: 1 }).map((b, i, a) => i === a.length - 1 ? 0 : b))
    reject(decodeCatalogClientMessage, Uint8Array.from([0x20, 0, 0, MAX_CATALOG_CURSOR_BYTES + 1, ...new Uint8Array(MAX_CATALOG_CURSOR_BYTES + 1), 1]))
    const scan = encodeAnnounceScan(rowOf(0))
    reject(decodeAnnounceServerMessage, scan.map((b, i, a) => i === a.length - 1 ? 2 : b))
    reject(decodeAnnounceServerMessage, Uint8Array.from([0x31, 0]))
    reject(decodeAnnounceServerMessage, encodeAnnounceAccepted(MAX_ANNOUNCE_KEEPALIVE_MS + 1))
    reject(decodeCatalogServerMessage, encodeAnnounceScan(rowOf(0)).map((b, i) => i === 0 ? 0x21 : b)) // not a page
  })

  it('strings at and above MAX_STRING_BYTES in entries', () => {
    const b = new ScanBatcher<ScanEntry>('entries')
    b.add(entry('x'.repeat(MAX_STRING_BYTES), 'file', LEAF))
    const frame = b.take()
    const msg = decodeScanServerMessage(frame)
    expect(msg.type === 'scan-entries' && msg.entries[0]?.path.length).toBe(MAX_STRING_BYTES)
  })
})
