/**
 * What a follower checks before acting on anything a source says about an open scan (docs/protocol.md,
 * "Following an open scan"): the key is the identity's, each entry is signed by the origin and is exactly
 * the next one, and the seal is the origin's, over as many entries as were received.
 */
import { FerryError } from '@ferry/errors'
import { openScanId, verifyOpenEntry, verifyOpenSeal, type OpenScanIdentity } from '@ferry/store'
import type { OpenEntryRow, OpenSeal } from '@ferry/exchange'
import type { OpenScanRow } from './types.js'

/** The open scan's identity, once its key is checked to be the one the four fields give. */
export function identityOf (row: OpenScanRow): OpenScanIdentity {
  const id = { origin: row.origin, collection: row.collection, name: row.name, created: row.created }
  if (openScanId(id).toString() !== row.root) {
    throw new FerryError('ERR_BAD_SIGNATURE', `Open scan ${row.root} (${row.name}) does not have the key its origin, collection, name and creation time give: refused`, { details: { key: row.root, name: row.name } })
  }
  if (row.name === '' || row.name === '.' || row.name === '..' || row.name.includes('/') || row.name.includes('\\') || row.name.includes('\0')) {
    throw new FerryError('ERR_PROTOCOL', `Refusing the scan name "${row.name}": it is not a plain directory name`)
  }
  return id
}

/** ERR_BAD_SIGNATURE unless `e` is signed by the origin and is entry `expectedSeq`. */
export async function checkEntry (id: OpenScanIdentity, e: OpenEntryRow, expectedSeq: number): Promise<void> {
  const check = await verifyOpenEntry(id, e, e.signature, expectedSeq)
  if (!check.ok) {
    throw new FerryError('ERR_BAD_SIGNATURE', `Refusing entry ${e.seq} ("${e.path}") of ${id.name}: ${check.reason}`, { details: { name: id.name, seq: e.seq, path: e.path } })
  }
}

/** ERR_BAD_SIGNATURE unless the seal is the origin's and covers exactly the `held` entries received. */
export async function checkSeal (id: OpenScanIdentity, seal: OpenSeal, held: number): Promise<void> {
  const check = await verifyOpenSeal(id, { entries: seal.entries, root: seal.root, sealedAt: seal.sealedAt }, seal.signature)
  if (!check.ok) throw new FerryError('ERR_BAD_SIGNATURE', `Refusing the seal of ${id.name}: ${check.reason}`, { details: { name: id.name } })
  if (seal.entries !== held) {
    throw new FerryError('ERR_BAD_SIGNATURE', `The seal of ${id.name} covers ${seal.entries} entries, ${held} were received: refused`, { details: { name: id.name, sealed: seal.entries, held } })
  }
}
