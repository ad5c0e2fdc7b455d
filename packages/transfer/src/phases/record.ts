import { FerryError } from '@ferry/errors'
import { pathProblem } from '@ferry/dag'
import { EntriesDigest, verifyScanSignature } from '@ferry/store'
import type { CID } from 'multiformats/cid'
import type { PullContext } from '../context.js'
import { fromAnyPeer } from '../remote.js'
import type { ScanEntryInfo, ScanInfo } from '../types.js'

/** Output of the record phase: the scan record, verified as its origin's, and its signed entries by path. */
export interface RecordOutput {
  record: ScanInfo
  /** The peer that sent the record; undefined when it came from this node's catalog. */
  recordFrom?: string
  meta: Map<string, ScanEntryInfo>
}

/**
 * Phase 1, record: the scan record and its signed entry list, from this node's catalog if it holds the scan
 * (signed), else from the first peer that answers. The origin's signature over both must verify before
 * anything is written (ERR_UNSIGNED / ERR_BAD_SIGNATURE).
 */
export async function recordPhase (ctx: PullContext): Promise<RecordOutput> {
  const { catalog, root, signal } = ctx
  const meta = new Map<string, ScanEntryInfo>()
  const digest = new EntriesDigest()
  const local = catalog.getScan(root)
  let record: ScanInfo
  let recordFrom: string | undefined
  // an unsigned local record (imported before signing existed) is not used: a peer's signed one is asked for
  if (local?.state === 'complete' && local.signature !== undefined) {
    record = { root: root.toString(), collection: local.collection, name: local.name, origin: local.origin, files: local.files, directories: local.directories, symlinks: local.symlinks, bytes: local.bytes, skipped: local.skipped, created: local.created, signature: local.signature }
    for (const e of catalog.entries(local.id)) {
      digest.add(e)
      meta.set(e.path, e)
    }
  } else {
    const scan = await fromAnyPeer(ctx, `the scan ${root.toString()}`, async (peer) => {
      const s = await peer.getScan(root, { signal })
      recordFrom = peer.id
      return s
    })
    record = scan.record
    for await (const e of scan.entries) {
      // a peer's entry list is metadata only (the verified DAG decides what is written), but check it anyway
      const problem = pathProblem(e.path)
      if (problem !== undefined) throw new FerryError('ERR_PROTOCOL', `The peer sent the scan entry ${JSON.stringify(e.path.slice(0, 200))}: ${problem}`)
      if (meta.has(e.path)) throw new FerryError('ERR_PROTOCOL', `The peer sent the scan entry ${JSON.stringify(e.path)} twice`)
      digest.add(e)
      meta.set(e.path, e)
    }
  }
  await checkRecordSignature(record, root, { count: digest.count, digest: digest.digest() }, recordFrom)
  return { record, ...(recordFrom !== undefined ? { recordFrom } : {}), meta }
}

/**
 * Refuses a scan record whose origin signature is missing or does not verify over the record and its
 * entries (`entries`: their count and digest, as received). ERR_UNSIGNED / ERR_BAD_SIGNATURE.
 */
async function checkRecordSignature (record: ScanInfo, root: CID, entries: { count: number, digest: Uint8Array }, from: string | undefined): Promise<void> {
  const source = from !== undefined ? `peer ${from}` : 'this node\'s catalog'
  const details = { root: root.toString(), origin: record.origin, from: from ?? null }
  if (record.signature === undefined) {
    throw new FerryError('ERR_UNSIGNED', `The record of ${root.toString()} from ${source} is not signed (imported by a Ferry without signed records): refused. Its origin ${record.origin} should run \`ferry add\` on the scan again, which signs it`, { details })
  }
  const check = await verifyScanSignature({ ...record, root }, entries, record.signature)
  if (!check.ok) {
    throw new FerryError('ERR_BAD_SIGNATURE', `The record of ${root.toString()} from ${source} does not verify as signed by its origin ${record.origin}: ${check.reason}. Nothing was written; pull from another peer or ask the origin`, { details })
  }
}
