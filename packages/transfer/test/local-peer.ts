/**
 * A BlockPeer served straight from another real home in this process: the same catalog, leaf index and
 * block store a daemon serves from, without the network. Knobs make it slow, mortal or a relay that edits
 * the record. (A peer that sends wrong bytes is a real exchange server: see the lying-peer test.)
 */
import { FerryError } from '@ferry/errors'
import { digestEntries, readLeaf, signScanRecord, type Home, type Signer } from '@ferry/store'
import type { CID } from 'multiformats/cid'
import type { BlockPeer, BlockResult, ScanEntryInfo, ScanInfo } from '@ferry/transfer'

export interface LocalPeerOptions {
  id: string
  /** Throw ERR_NETWORK after serving this many leaves. */
  dieAfter?: number
  delayMs?: number
  onServe?: (cid: CID, bytes: number) => void
  /** Serve each scan entry through this (a relay editing the record). */
  tamperEntry?: (e: ScanEntryInfo) => ScanEntryInfo
  /** Re-sign the (tampered) record with this key, as if its origin had signed it. */
  resignWith?: Signer
}

export function localPeer (home: Home, opts: LocalPeerOptions): BlockPeer {
  let served = 0
  let dead = false
  return {
    id: opts.id,
    async get (cid: CID): Promise<BlockResult> {
      if (dead) throw new FerryError('ERR_NETWORK', `${opts.id}: connection closed`)
      if (opts.delayMs != null) await new Promise((resolve) => setTimeout(resolve, opts.delayMs))
      if (cid.code === 0x70) {
        if (!(await home.blocks.has(cid))) return { status: 'missing' }
        return { status: 'ok', bytes: await home.blocks.get(cid) }
      }
      if (opts.dieAfter != null && served >= opts.dieAfter) {
        dead = true
        throw new FerryError('ERR_NETWORK', `${opts.id}: connection reset`)
      }
      const r = await readLeaf(home.catalog, cid)
      if (r.status === 'missing') return { status: 'missing' }
      if (r.status === 'changed') return { status: 'changed', message: r.reason }
      served++
      opts.onServe?.(cid, r.bytes.byteLength)
      return { status: 'ok', bytes: r.bytes }
    },
    async getScan (root: CID) {
      const scan = home.catalog.getScan(root)
      if (scan == null) throw new FerryError('ERR_ROOT_NOT_FOUND', `${opts.id} does not have ${root.toString()}`)
      const record: ScanInfo = { root: root.toString(), collection: scan.collection, name: scan.name, origin: scan.origin, files: scan.files, directories: scan.directories, symlinks: scan.symlinks, bytes: scan.bytes, skipped: scan.skipped, created: scan.created, ...(scan.signature !== undefined ? { signature: scan.signature } : {}) }
      const tamper = opts.tamperEntry ?? ((e: ScanEntryInfo) => e)
      if (opts.resignWith !== undefined && record.signature !== undefined) {
        const digest = await digestEntries([...home.catalog.entries(scan.id)].map(tamper))
        record.signature = await signScanRecord(opts.resignWith, { ...record, root, signedAt: record.signature.signedAt }, digest)
      }
      const entries = (async function * (): AsyncGenerator<ScanEntryInfo> {
        for (const e of home.catalog.entries(scan.id)) yield tamper(e)
      })()
      return { record, entries }
    },
    async close () {}
  }
}
