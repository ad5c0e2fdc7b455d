import { dirname } from 'node:path'
import { FerryError } from '@ferry/errors'
import { pathProblem } from '@ferry/dag'
import { EntriesDigest, PullPlan, verifyScanSignature } from '@ferry/store'
import type { CID } from 'multiformats/cid'
import { DEFAULT_QUEUE_WINDOW } from '../constants.js'
import type { PullContext } from '../context.js'
import { fromAnyPeer } from '../remote.js'
import type { ScanInfo } from '../types.js'

/** Output of the record phase: the scan record, verified as its origin's, and its signed entries (on disk). */
export interface RecordOutput {
  record: ScanInfo
  /** The peer that sent the record; undefined when it came from this node's catalog. */
  recordFrom?: string
  /** The pull's plan on disk, holding the signed entries in their order (and, after the DAG phase, its files). */
  table: PullPlan
}

/**
 * Phase 1, record: the scan record and its signed entry list, from this node's catalog if it holds the scan
 * (signed), else from the first peer that answers. The origin's signature over both must verify before
 * anything is written (ERR_UNSIGNED / ERR_BAD_SIGNATURE). The entries go to the pull's plan on disk
 * (`PullPlan`, in windows of `planWindow`), not to memory; a peer's list with a path twice is refused.
 */
export async function recordPhase (ctx: PullContext): Promise<RecordOutput> {
  const { catalog, root, signal } = ctx
  const table = ctx.table = new PullPlan(dirname(catalog.file), Math.max(1, ctx.options.planWindow ?? DEFAULT_QUEUE_WINDOW))
  const twice = (path: string | undefined): void => {
    if (path !== undefined) throw new FerryError('ERR_PROTOCOL', `The peer sent the scan entry ${JSON.stringify(path)} twice`)
  }
  const digest = new EntriesDigest()
  const local = catalog.getScan(root)
  let record: ScanInfo
  let recordFrom: string | undefined
  // an unsigned local record (imported before signing existed) is not used: a peer's signed one is asked for
  if (local?.state === 'complete' && local.signature !== undefined) {
    record = { root: root.toString(), collection: local.collection, name: local.name, origin: local.origin, files: local.files, directories: local.directories, symlinks: local.symlinks, bytes: local.bytes, skipped: local.skipped, created: local.created, signature: local.signature }
    for (const e of catalog.entries(local.id)) {
      digest.add(e)
      table.addEntry(e) // the catalog's entries of one scan have distinct paths
    }
  } else {
    const scan = await fromAnyPeer(ctx, `the scan ${root.toString()}`, async (peer) => {
      const s = await peer.getScan(root, { signal })
      recordFrom = peer.id
      return s
    })
    record = scan.record
    let last: string | undefined
    for await (const e of scan.entries) {
      // a peer's entry list is metadata only (the verified DAG decides what is written), but check it anyway
      const problem = pathProblem(e.path)
      if (problem !== undefined) throw new FerryError('ERR_PROTOCOL', `The peer sent the scan entry ${JSON.stringify(e.path.slice(0, 200))}: ${problem}`)
      // the digest refuses a list out of strict path order, so a path repeated is the one just before
      if (e.path === last) twice(e.path)
      last = e.path
      digest.add(e)
      twice(table.addEntry(e))
    }
  }
  twice(table.flushEntries())
  await checkRecordSignature(record, root, { count: digest.count, digest: digest.digest() }, recordFrom)
  return { record, ...(recordFrom !== undefined ? { recordFrom } : {}), table }
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
