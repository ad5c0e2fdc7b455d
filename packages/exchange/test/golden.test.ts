/**
 * Golden wire fixtures: known messages and their exact bytes. If one of these fails, the wire format changed:
 * that needs a new protocol version (and docs/protocol.md), not a new fixture. The examples in
 * docs/protocol.md are read out of the document and must be these same bytes, so spec and code cannot drift.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  decodeAnnounceClientMessage, decodeAnnounceServerMessage, decodeBlocksClientMessage, decodeBlocksServerMessage, decodeCatalogClientMessage,
  decodeCatalogCursor, decodeCatalogServerMessage, decodeScanClientMessage, decodeScanServerMessage
} from '@ferry/exchange'
import { ENTRIES, GOLDEN, GOLDEN_EXTRA, LEAF, NODE, ROW, SIGNATURE, SKIPPED, hex, unframe } from './fixtures.js'

const PROTOCOL_MD = new URL('../../../docs/protocol.md', import.meta.url)

/** One example of docs/protocol.md: the message section it is under, its type byte there, and its bytes. */
interface DocVector { section: string, typeByte: number, hex: string }

/**
 * The examples of docs/protocol.md: in each `### NAME \`0xNN\`` section of its message types, every
 * backticked run of hex after a `→`, with `<LEAF>` and `<NODE>` replaced by the CIDs the document defines
 * (which must be the fixtures' LEAF and NODE). A section's second example gets `_SIGNED` (SCAN_RECORD's).
 */
function docVectors (md: string): { vectors: DocVector[], leafHex: string, nodeHex: string, leafText: string } {
  const leafHex = /`LEAF` is the raw-leaf CID of the bytes `hello`\s+\(`(\w+)`, 36 bytes:\s+`([0-9a-f]+)`\)/.exec(md)
  const nodeHex = /`NODE` the dag-pb CID of\s+`node` \(`([0-9a-f]+)`\)/.exec(md)
  if (leafHex === null || nodeHex === null) throw new Error('docs/protocol.md no longer defines LEAF and NODE as the examples use them')
  const vectors: DocVector[] = []
  const sections = md.split(/^(?=#{2,3} )/m)
  for (const sec of sections) {
    const head = /^### (\w+) `0x([0-9a-f]{2})`/.exec(sec)
    if (head === null) continue
    const found = [...sec.matchAll(/→\s*`([^`]+)`/g)].map((m) => m[1] as string)
      .filter((v) => v.split(' ').every((t) => /^([0-9a-f]{2})+$|^[0-9a-f]{2}<(LEAF|NODE)>$/.test(t)))
    found.forEach((v, i) => {
      vectors.push({
        section: i === 0 ? head[1]! : `${head[1]!}_SIGNED`,
        typeByte: parseInt(head[2]!, 16),
        hex: v.replaceAll('<LEAF>', leafHex[2]!).replaceAll('<NODE>', nodeHex[1]!).replaceAll(' ', '')
      })
    })
  }
  return { vectors, leafHex: leafHex[2]!, nodeHex: nodeHex[1]!, leafText: leafHex[1]! }
}

describe('golden wire fixtures', () => {
  it.each([...GOLDEN, ...GOLDEN_EXTRA])('%s encodes to the pinned bytes', (_name, bytes, expected) => {
    expect(hex(bytes)).toBe(expected)
  })

  it('decodes the pinned bytes back to the same messages', () => {
    const g = Object.fromEntries(GOLDEN.map(([n, , h]) => [n, unframe(h)]))
    expect(decodeBlocksClientMessage(g.REQUEST!)).toEqual({ type: 'request', cids: [LEAF, NODE] })
    const block = decodeBlocksServerMessage(g.BLOCK!)
    expect(block.type === 'block' && Buffer.from(block.bytes).toString()).toBe('hello')
    expect(decodeBlocksServerMessage(g.STATUS!)).toEqual({ type: 'status', cid: NODE, status: 'changed', message: 'edited' })
    expect(decodeBlocksServerMessage(g.ERROR!)).toEqual({ type: 'error', code: 'denied', message: 'no' })
    expect(decodeScanClientMessage(g.SCAN_REQUEST!)).toEqual({ type: 'scan-request', root: NODE, credit: 4 })
    expect(decodeScanClientMessage(g.SCAN_MORE!)).toEqual({ type: 'scan-more', credit: 1 })
    expect(decodeScanServerMessage(g.SCAN_RECORD!)).toEqual({
      type: 'scan-record',
      record: { root: NODE, collection: 'c1', name: 'scan', origin: 'P', files: 2, directories: 1, symlinks: 0, bytes: 300, created: 1_700_000_000_000, skipped: 1 }
    })
    expect(decodeScanServerMessage(g.SCAN_RECORD_SIGNED!)).toEqual({
      type: 'scan-record',
      record: { root: NODE, collection: 'c1', name: 'scan', origin: 'P', files: 2, directories: 1, symlinks: 0, bytes: 300, created: 1_700_000_000_000, skipped: 1, signature: SIGNATURE }
    })
    expect(decodeScanServerMessage(g.SCAN_SKIPPED!)).toEqual({ type: 'scan-skipped', skipped: SKIPPED })
    expect(decodeScanServerMessage(g.SCAN_ENTRIES!)).toEqual({ type: 'scan-entries', entries: ENTRIES })
    expect(decodeScanServerMessage(g.SCAN_END!)).toEqual({ type: 'scan-end', entries: 2, skipped: 1 })
  })

  it('decodes the pinned catalog and announce bytes back to the same messages', () => {
    const g = Object.fromEntries(GOLDEN.map(([n, , h]) => [n, unframe(h)]))
    expect(decodeCatalogClientMessage(g.CATALOG_REQUEST!)).toEqual({ type: 'catalog-request', collection: 'c1', prefix: 's', cursor: new Uint8Array(0), pageSize: 100 })
    const page = decodeCatalogServerMessage(g.CATALOG_PAGE!)
    expect(page).toEqual({ type: 'catalog-page', next: Uint8Array.of(7), rows: [ROW] })
    expect(page.type === 'catalog-page' && decodeCatalogCursor(page.next)).toBe(7)
    const x = Object.fromEntries(GOLDEN_EXTRA.map(([n, , h]) => [n, unframe(h)]))
    expect(decodeCatalogServerMessage(x['CATALOG_PAGE (last, empty)']!)).toEqual({ type: 'catalog-page', next: new Uint8Array(0), rows: [] })
    expect(decodeAnnounceClientMessage(g.ANNOUNCE_SUBSCRIBE!)).toEqual({ type: 'announce-subscribe', collection: 'c1' })
    expect(decodeAnnounceClientMessage(x['ANNOUNCE_SUBSCRIBE (every collection)']!)).toEqual({ type: 'announce-subscribe', collection: null })
    expect(decodeAnnounceServerMessage(g.ANNOUNCE_ACCEPTED!)).toEqual({ type: 'announce-accepted', keepAliveMs: 15_000 })
    expect(decodeAnnounceServerMessage(g.ANNOUNCE_SCAN!)).toEqual({ type: 'announce-scan', row: { ...ROW, collection: null } })
    expect(decodeAnnounceServerMessage(g.ANNOUNCE_KEEPALIVE!)).toEqual({ type: 'announce-keepalive' })
    expect(decodeCatalogServerMessage(g.ERROR!)).toEqual({ type: 'error', code: 'denied', message: 'no' }) // the same ERROR as every protocol
  })
})

describe('docs/protocol.md', () => {
  const doc = docVectors(readFileSync(PROTOCOL_MD, 'utf8'))

  it('defines LEAF and NODE as the fixtures do', () => {
    expect(doc.leafText).toBe(LEAF.toString())
    expect(doc.leafHex).toBe(hex(LEAF.bytes))
    expect(doc.nodeHex).toBe(hex(NODE.bytes))
  })

  it('shows one example of every golden message, and no other', () => {
    expect(doc.vectors.map((v) => v.section).sort()).toEqual(GOLDEN.map(([name]) => name).sort())
  })

  it.each(GOLDEN)('its %s example is the bytes the encoder produces', (name, bytes) => {
    const v = doc.vectors.find((d) => d.section === name)
    expect(v?.hex).toBe(hex(bytes))
    // and the type byte after the length prefix is the one its section heading gives
    expect(unframe(v!.hex)[0]).toBe(v!.typeByte)
  })
})
