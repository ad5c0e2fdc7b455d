/**
 * Signed scan records: the canonical encoding (docs/format.md, "Signed scan records"), a golden vector another
 * implementation can check against, and what must make verification fail.
 */
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import {
  EntriesDigest, SCAN_SIGNATURE_DOMAIN, digestEntries, encodeSignedEntry, initHome, scanSigningBytes, signScanRecord, verifyScanSignature,
  type SignedEntry, type SignedRecordFields
} from '@ferry/store'
import { block, tempDir } from './helpers.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
// the CIDs of the exchange's golden fixtures: raw sha2-256("hello"), dag-pb sha2-256("node")
const LEAF = CID.parse('bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq')
const NODE = CID.parse('bafybeicul2stqrqqapx5zdebyjcfggyah5xsnt6m63aaoozshh6635euiy')
const LEAF_HEX = '015512202cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'
const NODE_HEX = '01701220545ea538461003efdc8c81c244531b003f6f26cfccf6c0073b3239fdedf49446'

/** A fixed Ed25519 key: seed bytes 0x00..0x1f. */
const key = await generateKeyPairFromSeed('Ed25519', Uint8Array.from({ length: 32 }, (_, i) => i))
const origin = peerIdFromPrivateKey(key).toString()

const ENTRIES: SignedEntry[] = [
  { path: '', type: 'directory', size: 0, mode: 0o40755, mtimeMs: 1_700_000_000_000, cid: NODE },
  { path: 'a', type: 'file', size: 5, mode: 0o100644, mtimeMs: 1.5, cid: LEAF },
  { path: 'l', type: 'symlink', size: 0, mode: 0o120777, mtimeMs: 0, cid: LEAF, target: 'a' }
]
const RECORD: SignedRecordFields = {
  root: NODE,
  collection: 'c1',
  name: 'scan',
  origin,
  files: 1,
  directories: 1,
  symlinks: 1,
  bytes: 5,
  created: 1_700_000_000_000,
  skipped: [{ path: 'x', code: 'EACCES' }],
  signedAt: 1_700_000_000_001
}

describe('canonical encoding (format 1)', () => {
  it('encodes an entry as documented, byte for byte', () => {
    // string = u32 BE length · UTF-8; u8 type; u64 BE size; u32 BE mode; f64 BE mtime; u32-length-prefixed CID; [target]
    expect(hex(encodeSignedEntry(ENTRIES[1]!))).toBe('00000001' + '61' + '00' + '0000000000000005' + '000081a4' + '3ff8000000000000' + '00000024' + LEAF_HEX)
    expect(hex(encodeSignedEntry(ENTRIES[2]!))).toBe('00000001' + '6c' + '02' + '0000000000000000' + '0000a1ff' + '0000000000000000' + '00000024' + LEAF_HEX + '00000001' + '61')
    // -0 is written as +0; a CIDv0 as its CIDv1 bytes
    expect(encodeSignedEntry({ ...ENTRIES[1]!, mtimeMs: -0 })).toEqual(encodeSignedEntry({ ...ENTRIES[1]!, mtimeMs: 0 }))
    expect(encodeSignedEntry({ ...ENTRIES[0]!, cid: NODE.toV0() })).toEqual(encodeSignedEntry(ENTRIES[0]!))
    expect(encodeSignedEntry({ ...ENTRIES[0]!, cid: NODE.toV0().bytes })).toEqual(encodeSignedEntry(ENTRIES[0]!))
    expect(encodeSignedEntry({ ...ENTRIES[0]!, cid: NODE.bytes })).toEqual(encodeSignedEntry(ENTRIES[0]!))
  })

  it('encodes the record as documented, byte for byte', async () => {
    const d = await digestEntries(ENTRIES)
    const expected = Buffer.from(SCAN_SIGNATURE_DOMAIN).toString('hex') +
      '00000024' + NODE_HEX + '01' + '00000002' + '6331' + '00000004' + '7363616e' +
      hex(new Uint8Array(Buffer.concat([Buffer.from('00000034', 'hex'), Buffer.from(origin)]))) +
      '0000000000000001' + '0000000000000001' + '0000000000000001' + '0000000000000005' +
      '0000018bcfe56800' + '0000018bcfe56801' +
      '00000001' + '00000001' + '78' + '00000006' + '454143434553' +
      '0000000000000003' + hex(d.digest)
    expect(hex(scanSigningBytes(RECORD, d))).toBe(expected)
    expect(hex(d.digest)).toBe(createHash('sha256').update(Buffer.concat(ENTRIES.map(encodeSignedEntry))).digest('hex'))
  })

  it('golden vector: fixed key, record and entries give this digest and this signature', async () => {
    expect(origin).toBe('12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB')
    const d = await digestEntries(ENTRIES)
    expect(hex(d.digest)).toBe('c141dca0f7a55c6a54591b43acda467c4f5225c4fd8f9cc97c93b51925eb78c0')
    const sig = await signScanRecord(key, RECORD, d)
    expect(sig.format).toBe(1)
    expect(hex(sig.bytes)).toBe('8c016cf2236a980c1e645f96897c464206fdf68f6c2916c2744ea4de3eda2ef75cee26ffb9ab12f76c66dd25fed79bea282d2a5afa01ea88644e2fd2f379be0f') // Ed25519 signatures are deterministic
    expect(await verifyScanSignature(RECORD, d, sig)).toEqual({ ok: true })
    // checked independently of libp2p: plain Ed25519 (RFC 8032) over the signing bytes with Node's crypto
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), key.publicKey.raw])
    expect(cryptoVerify(null, scanSigningBytes(RECORD, d), createPublicKey({ key: spki, format: 'der', type: 'spki' }), sig.bytes)).toBe(true)
  })

  it('refuses entries out of path order (UTF-8 byte order) or repeated', () => {
    const d = new EntriesDigest()
    d.add(ENTRIES[0]!)
    d.add({ ...ENTRIES[1]!, path: 'a' })
    d.add({ ...ENTRIES[1]!, path: 'a/b' }) // '/' (0x2f) sorts before '0' (0x30) and 'é'
    d.add({ ...ENTRIES[1]!, path: 'a0' })
    d.add({ ...ENTRIES[1]!, path: 'é' })
    expect(() => { d.add({ ...ENTRIES[1]!, path: 'z' }) }).toThrow(expect.objectContaining({ code: 'ERR_BAD_SIGNATURE' }))
    const again = new EntriesDigest()
    again.add(ENTRIES[1]!)
    expect(() => { again.add(ENTRIES[1]!) }).toThrow(expect.objectContaining({ code: 'ERR_BAD_SIGNATURE' }))
  })
})

describe('verification fails on any change', () => {
  const changes: Array<[string, (r: SignedRecordFields, e: SignedEntry[]) => [SignedRecordFields, SignedEntry[]]]> = [
    ['root', (r, e) => [{ ...r, root: LEAF }, e]],
    ['collection', (r, e) => [{ ...r, collection: null }, e]],
    ['name', (r, e) => [{ ...r, name: 'scan2' }, e]],
    ['files', (r, e) => [{ ...r, files: 2 }, e]],
    ['bytes', (r, e) => [{ ...r, bytes: 6 }, e]],
    ['created', (r, e) => [{ ...r, created: r.created + 1 }, e]],
    ['skipped code', (r, e) => [{ ...r, skipped: [{ path: 'x', code: 'ENOENT' }] }, e]],
    ['skipped list emptied', (r, e) => [{ ...r, skipped: [] }, e]],
    ['an entry mode', (r, e) => [r, e.map((x) => x.path === 'a' ? { ...x, mode: 0o100600 } : x)]],
    ['an entry mtime by a microsecond', (r, e) => [r, e.map((x) => x.path === 'a' ? { ...x, mtimeMs: 1.501 } : x)]],
    ['an entry size', (r, e) => [r, e.map((x) => x.path === 'a' ? { ...x, size: 4 } : x)]],
    ['an entry CID', (r, e) => [r, e.map((x) => x.path === 'a' ? { ...x, cid: NODE } : x)]],
    ['a symlink target', (r, e) => [r, e.map((x) => x.path === 'l' ? { ...x, target: 'b' } : x)]],
    ['an entry renamed', (r, e) => [r, e.map((x) => x.path === 'l' ? { ...x, path: 'm' } : x)]],
    ['an entry removed', (r, e) => [r, e.filter((x) => x.path !== 'l')]],
    ['an entry added', (r, e) => [r, [...e, { ...e[1]!, path: 'z' }]]]
  ]
  it.each(changes)('%s', async (_name, change) => {
    const sig = await signScanRecord(key, RECORD, await digestEntries(ENTRIES))
    const [r, e] = change(RECORD, ENTRIES)
    const check = await verifyScanSignature(r, await digestEntries(e), sig)
    expect(check.ok).toBe(false)
  })

  it('a signature is bound to its signedAt, its signer and its format', async () => {
    const d = await digestEntries(ENTRIES)
    const sig = await signScanRecord(key, RECORD, d)
    expect((await verifyScanSignature(RECORD, d, { ...sig, signedAt: sig.signedAt + 1 })).ok).toBe(false)
    expect((await verifyScanSignature(RECORD, d, { ...sig, format: 2 })).ok).toBe(false)
    expect((await verifyScanSignature(RECORD, d, undefined))).toEqual({ ok: false, reason: 'the record is not signed' })
    // another node claiming to be the origin: its key does not match the signature
    const other = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(7))
    const otherId = peerIdFromPrivateKey(other).toString()
    expect((await verifyScanSignature({ ...RECORD, origin: otherId }, d, sig)).ok).toBe(false)
    // the right record checked against another signer
    const check = await verifyScanSignature(RECORD, d, sig, otherId)
    expect(check.ok === false && check.reason).toContain('names')
    // a record re-signed by another key does not verify as the origin's
    const forged = await signScanRecord(other, RECORD, d)
    expect((await verifyScanSignature(RECORD, d, forged)).ok).toBe(false)
  })
})

describe('signed scans in the catalog', () => {
  it('commitSigned signs what is stored; a change in catalog.db breaks it; provenance is kept', async () => {
    const home = await initHome(await tempDir())
    const w = home.catalog.createScanWriter({ collection: 'visit', name: 'scan', sourcePath: '/data/scan', origin: home.peerId.toString() })
    // added out of path order, as an importer may: the signature covers them in path order
    for (const p of ['b', 'a/x', '', 'a']) {
      w.addEntry({ path: p, type: p === '' || p === 'a' ? 'directory' : 'file', size: p === 'b' || p === 'a/x' ? 3 : 0, mode: 0o644, mtimeMs: 1_700_000_000_123.25, cid: (await block(p)).cid })
    }
    const root = (await block('')).cid
    const rec = await w.commitSigned({ root, files: 2, directories: 2, symlinks: 0, bytes: 6, skipped: [] }, home.privateKey, 1_700_000_000_999)
    expect(rec.signature).toMatchObject({ format: 1, signedAt: 1_700_000_000_999 })
    expect(rec.signature?.bytes.byteLength).toBe(64)
    expect(await home.catalog.checkSignature(rec)).toEqual({ ok: true })
    expect(await home.catalog.checkSignature(rec, '12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB')).toMatchObject({ ok: false })

    // a replica committed with the origin's signature and where it came from
    const w2 = home.catalog.createScanWriter({ collection: 'visit', name: 'scan', sourcePath: '/copy', origin: rec.origin, created: rec.created })
    for (const e of home.catalog.entries(rec.id)) w2.addEntry(e)
    const copy = w2.commit({ root, files: 2, directories: 2, symlinks: 0, bytes: 6, skipped: [], signature: rec.signature, provenance: [{ peer: 'P1', bytes: 3, fetched: 5 }, { peer: 'P2', bytes: 4, fetched: 5 }] })
    expect(await home.catalog.checkSignature(copy)).toEqual({ ok: true })
    expect(home.catalog.provenance(copy.id)).toEqual([{ peer: 'P2', bytes: 4, fetched: 5 }, { peer: 'P1', bytes: 3, fetched: 5 }])
    expect(home.catalog.provenance(rec.id)).toEqual([])

    // someone edits catalog.db behind Ferry's back
    const file = home.catalog.file
    const db = new Database(file)
    db.prepare('UPDATE entries SET mode = 420 | 2 WHERE scan_id = ? AND path = ?').run(copy.id, 'a/x')
    db.close()
    expect((await home.catalog.checkSignature(home.catalog.getScan(copy.id)!)).ok).toBe(false)
    expect(await home.catalog.checkSignature(home.catalog.getScan(rec.id)!)).toEqual({ ok: true })
    await home.close()
  })
})
