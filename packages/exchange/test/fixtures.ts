/**
 * Wire fixtures shared by the codec tests: two CIDs, sample entries, and every message type with its exact
 * bytes (length prefix included), as docs/protocol.md shows them.
 */
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import {
  CatalogPageBuilder, encodeAnnounceAccepted, encodeAnnounceKeepAlive, encodeAnnounceScan, encodeAnnounceSubscribe, encodeCatalogCursor, encodeCatalogRequest,
  type CatalogRow, ScanBatcher, encodeBlock, encodeError, encodeFrame, encodeRequest, encodeScanEnd, encodeScanMore, encodeScanRecord, encodeScanRequest, encodeStatus,
  type ScanEntry, type SkippedEntry
} from '@ferry/exchange'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
export const unframe = (h: string): Uint8Array => {
  const b = Buffer.from(h, 'hex')
  let i = 0
  while ((b[i] as number) & 0x80) i++
  return new Uint8Array(b.subarray(i + 1))
}

export const LEAF = CID.createV1(0x55, await sha256.digest(text('hello')))
export const NODE = CID.createV1(0x70, await sha256.digest(text('node')))
const LEAF_HEX = '015512202cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'
const NODE_HEX = '01701220545ea538461003efdc8c81c244531b003f6f26cfccf6c0073b3239fdedf49446'

export const ENTRIES: ScanEntry[] = [
  { path: 'a', type: 'file', size: 5, mode: 0o100644, mtimeMs: 1.5, cid: LEAF },
  { path: 'l', type: 'symlink', size: 0, mode: 0o120777, mtimeMs: 0, cid: LEAF, target: 'a' }
]
/** A stand-in signature: the codec carries the bytes, it does not check them. */
export const SIGNATURE = { format: 1, signedAt: 1_700_000_000_001, bytes: text('sig') }
export const SKIPPED: SkippedEntry[] = [{ path: 'x', code: 'EACCES', message: 'denied' }]

/** The catalog row of the examples (announced without its collection). */
export const ROW: CatalogRow = { root: NODE, collection: 'c1', name: 'scan', origin: 'P', files: 2, directories: 1, symlinks: 0, bytes: 300, created: 1_700_000_000_000, skipped: 1, state: 'sealed' }
const ROW_HEX = '24' + NODE_HEX + '01' + '02' + '6331' + '04' + '7363616e' + '01' + '50' + '02' + '01' + '00' + 'ac02' + '80d095ffbc31' + '01' + '00'

function page (rows: CatalogRow[], next: Uint8Array): Uint8Array {
  const b = new CatalogPageBuilder()
  for (const r of rows) b.add(r)
  return b.take(next)
}

function batch<T extends ScanEntry | SkippedEntry> (kind: 'entries' | 'skipped', items: T[]): Uint8Array {
  const b = new ScanBatcher<T>(kind)
  for (const i of items) b.add(i)
  return b.take()
}

/** Examples that docs/protocol.md gives in passing (not as a section's `→` example): [name, frame, expected hex]. */
export const GOLDEN_EXTRA: Array<[string, Uint8Array, string]> = [
  ['CATALOG_PAGE (last, empty)', encodeFrame(page([], new Uint8Array(0))), '03' + '21' + '00' + '00'],
  ['ANNOUNCE_SUBSCRIBE (every collection)', encodeFrame(encodeAnnounceSubscribe(null)), '02' + '30' + '00']
]

/** [name, frame bytes as produced by the encoder, expected hex]. */
export const GOLDEN: Array<[string, Uint8Array, string]> = [
  ['REQUEST', encodeFrame(encodeRequest([LEAF, NODE])), '4c' + '01' + '02' + '24' + LEAF_HEX + '24' + NODE_HEX],
  ['BLOCK', encodeFrame(encodeBlock(LEAF, text('hello'))), '2b' + '02' + '24' + LEAF_HEX + '68656c6c6f'],
  ['STATUS', encodeFrame(encodeStatus(NODE, 'changed', 'edited')), '2e' + '03' + '24' + NODE_HEX + '02' + '06' + '656469746564'],
  ['ERROR', encodeFrame(encodeError('denied', 'no')), '05' + '7f' + '02' + '02' + '6e6f'],
  ['SCAN_REQUEST', encodeFrame(encodeScanRequest(NODE, 4)), '27' + '10' + '24' + NODE_HEX + '04'],
  ['SCAN_MORE', encodeFrame(encodeScanMore(1)), '02' + '11' + '01'],
  ['SCAN_RECORD', encodeFrame(encodeScanRecord({ root: NODE, collection: 'c1', name: 'scan', origin: 'P', files: 2, directories: 1, symlinks: 0, bytes: 300, created: 1_700_000_000_000, skipped: 1 })),
    '3e' + '12' + '24' + NODE_HEX + '01' + '02' + '6331' + '04' + '7363616e' + '01' + '50' + '02' + '01' + '00' + 'ac02' + '80d095ffbc31' + '01' + '00'],
  ['SCAN_RECORD_SIGNED', encodeFrame(encodeScanRecord({ root: NODE, collection: 'c1', name: 'scan', origin: 'P', files: 2, directories: 1, symlinks: 0, bytes: 300, created: 1_700_000_000_000, skipped: 1, signature: SIGNATURE })),
    '48' + '12' + '24' + NODE_HEX + '01' + '02' + '6331' + '04' + '7363616e' + '01' + '50' + '02' + '01' + '00' + 'ac02' + '80d095ffbc31' + '01' +
    '01' + '81d095ffbc31' + '03' + '736967'],
  ['SCAN_SKIPPED', encodeFrame(batch('skipped', SKIPPED)), '12' + '13' + '01' + '01' + '78' + '06' + '454143434553' + '06' + '64656e696564'],
  ['SCAN_ENTRIES', encodeFrame(batch('entries', ENTRIES)),
    '6c' + '14' + '02' +
    '01' + '61' + '00' + '05' + 'a48302' + '3ff8000000000000' + '24' + LEAF_HEX +
    '01' + '6c' + '02' + '00' + 'ffc302' + '0000000000000000' + '24' + LEAF_HEX + '01' + '61'],
  ['SCAN_END', encodeFrame(encodeScanEnd(2, 1)), '03' + '15' + '02' + '01'],
  ['CATALOG_REQUEST', encodeFrame(encodeCatalogRequest({ collection: 'c1', prefix: 's', cursor: new Uint8Array(0), pageSize: 100 })), '09' + '20' + '01' + '02' + '6331' + '01' + '73' + '00' + '64'],
  ['CATALOG_PAGE', encodeFrame(page([ROW], encodeCatalogCursor(7))), '41' + '21' + '01' + '07' + '01' + ROW_HEX],
  ['ANNOUNCE_SUBSCRIBE', encodeFrame(encodeAnnounceSubscribe('c1')), '05' + '30' + '01' + '02' + '6331'],
  ['ANNOUNCE_ACCEPTED', encodeFrame(encodeAnnounceAccepted(15_000)), '03' + '31' + '9875'],
  ['ANNOUNCE_SCAN', encodeFrame(encodeAnnounceScan({ ...ROW, collection: null })), '3b' + '32' + '24' + NODE_HEX + '00' + '04' + '7363616e' + '01' + '50' + '02' + '01' + '00' + 'ac02' + '80d095ffbc31' + '01' + '00'],
  ['ANNOUNCE_KEEPALIVE', encodeFrame(encodeAnnounceKeepAlive()), '01' + '33']
]
