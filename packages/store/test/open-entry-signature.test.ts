/**
 * Signed open-scan entries (docs/format.md, "Signed open-scan entries"): the golden vector, and what a relay
 * cannot do: alter an entry, pass one off under another open scan, or drop or reorder entries unseen.
 */
import { describe, expect, it } from 'vitest'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { openEntrySigningBytes, openScanId, openSealSigningBytes, signOpenEntry, signOpenSeal, verifyOpenEntry, verifyOpenSeal, type OpenEntryFields, type OpenScanIdentity } from '@ferry/store'

/** The key of the scan-record golden vector: seed bytes 0x00..0x1f. */
const key = await generateKeyPairFromSeed('Ed25519', Uint8Array.from({ length: 32 }, (_, i) => i))
const origin = peerIdFromPrivateKey(key).toString()
const leaf = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode('hello')))
const id: OpenScanIdentity = { origin, collection: 'c1', name: 'scan', created: 1700000000000 }
const entry: OpenEntryFields = { seq: 0, path: 'raw/p0.tif', size: 5, mode: 0o100644, mtimeMs: 1.5, cid: leaf, published: 1700000000002 }

describe('open-scan entry signatures', () => {
  it('matches the golden vector of docs/format.md', async () => {
    expect(origin).toBe('12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB')
    expect(openScanId(id).toString()).toBe(GOLDEN.key)
    expect(Buffer.from(openEntrySigningBytes(id, entry)).toString('hex')).toBe(GOLDEN.bytes)
    const sig = await signOpenEntry(key, id, entry)
    expect(Buffer.from(sig).toString('hex')).toBe(GOLDEN.signature)
    expect(await verifyOpenEntry(id, entry, sig, 0)).toEqual({ ok: true })
  })

  it('a relayed entry altered in any field, or moved to another open scan, fails verification', async () => {
    const sig = await signOpenEntry(key, id, entry)
    const tampered: Array<[OpenScanIdentity, OpenEntryFields]> = [
      [id, { ...entry, size: 6 }],
      [id, { ...entry, path: 'raw/p1.tif' }],
      [id, { ...entry, mtimeMs: 2 }],
      [id, { ...entry, mode: 0o100600 }],
      [id, { ...entry, seq: 1 }],
      [id, { ...entry, published: entry.published + 1 }],
      [id, { ...entry, cid: CID.createV1(0x55, await sha256.digest(new TextEncoder().encode('hellp'))) }],
      [{ ...id, name: 'other' }, entry],
      [{ ...id, collection: null }, entry],
      [{ ...id, created: id.created + 1 }, entry]
    ]
    for (const [i, e] of tampered) {
      const check = await verifyOpenEntry(i, e, sig)
      expect(check.ok).toBe(false)
    }
    const flipped = Uint8Array.from(sig)
    flipped[10] = flipped[10]! ^ 1
    expect((await verifyOpenEntry(id, entry, flipped)).ok).toBe(false)
  })

  it('the seal statement matches its golden vector, and a relay cannot change the root or the count', async () => {
    const root = CID.parse('bafybeicul2stqrqqapx5zdebyjcfggyah5xsnt6m63aaoozshh6635euiy')
    const seal = { entries: 1, root, sealedAt: 1700000000003 }
    expect(Buffer.from(openSealSigningBytes(id, seal)).toString('hex')).toBe(GOLDEN_SEAL.bytes)
    const sig = await signOpenSeal(key, id, seal)
    expect(Buffer.from(sig).toString('hex')).toBe(GOLDEN_SEAL.signature)
    expect(await verifyOpenSeal(id, seal, sig)).toEqual({ ok: true })
    expect((await verifyOpenSeal(id, { ...seal, entries: 0 }, sig)).ok).toBe(false)
    expect((await verifyOpenSeal(id, { ...seal, root: leaf }, sig)).ok).toBe(false)
  })

  it('a dropped or reordered entry is seen by its sequence number', async () => {
    const second = { ...entry, seq: 1, path: 'raw/p1.tif' }
    const sig = await signOpenEntry(key, id, second)
    expect(await verifyOpenEntry(id, second, sig, 1)).toEqual({ ok: true })
    const check = await verifyOpenEntry(id, second, sig, 0) // entry 0 never arrived
    expect(check).toMatchObject({ ok: false, reason: expect.stringMatching(/dropped or reordered/) })
  })
})

/** Pinned in docs/format.md ("Signed open-scan entries"). */
const GOLDEN = {
  key: 'bafkreigqmekvgubznxcxqhfoysbqyfs2opzzjonyuqczhqldc6o5emhhde',
  bytes: '66657272792d6f70656e2d656e7472792f76310a00000034313244334b6f6f574134586f70314a6154334d487877594d6b436570597376346950566f704d5877437a3569485964426665534201000000026331000000047363616e0000018bcfe5680000000000000000000000000a7261772f70302e7469660000000000000005000081a43ff800000000000000000024015512202cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b98240000018bcfe56802',
  signature: '15142554f68812dc5a05bdffc03011090ebb73a6b9e7fcc6987ecd7b85de7d5a8dc94a66e7d03ddd5203f799c5c78ec3d05f4faea7c3e3c17eff91e887b52a00'
}

/** Pinned in docs/format.md ("Signed open-scan entries", sealing): root = the dag-pb sha2-256 CID of "node". */
const GOLDEN_SEAL = {
  bytes: '66657272792d6f70656e2d7365616c2f76310a00000034313244334b6f6f574134586f70314a6154334d487877594d6b436570597376346950566f704d5877437a3569485964426665534201000000026331000000047363616e0000018bcfe5680000000000000000010000002401701220545ea538461003efdc8c81c244531b003f6f26cfccf6c0073b3239fdedf494460000018bcfe56803',
  signature: '86da6cad1efd5edfe6458846b6656a19350782a4425cc3851a6f9870f2160090869bac7fa7b4af1ee9c56496b8dba1155223a1263d5bd3475b033dc299fd210d'
}
