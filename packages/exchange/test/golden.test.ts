/**
 * Golden wire fixtures: known messages and their exact bytes. If one of these fails, the wire format changed:
 * that needs a new protocol version (and docs/protocol.md), not a new fixture.
 */
import { describe, expect, it } from 'vitest'
import {
  decodeAnnounceClientMessage, decodeAnnounceServerMessage, decodeBlocksClientMessage, decodeBlocksServerMessage, decodeCatalogClientMessage,
  decodeCatalogCursor, decodeCatalogServerMessage, decodeScanClientMessage, decodeScanServerMessage
} from '@ferry/exchange'
import { ENTRIES, GOLDEN, GOLDEN_EXTRA, LEAF, NODE, ROW, SIGNATURE, SKIPPED, hex, unframe } from './fixtures.js'

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
