import { open } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { FerryError, errorMessage } from '@ferry/errors'
import type { Catalog } from './catalog.js'

/** The outcome of reading a leaf from the files this node imported or pulled. */
export type LeafRead =
  | { status: 'ok', bytes: Uint8Array, path: string }
  /** No indexed file holds this leaf. */
  | { status: 'missing' }
  /** Files were indexed for it, but none holds those bytes any more (changed, truncated, removed, unreadable). */
  | { status: 'changed', paths: string[], reason: string }

const SHA2_256 = 0x12

/** Why an imported source file cannot be read any more, in the words the server sends and logs. */
export function sourceUnreadable (path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null | undefined)?.code
  if (code === 'ENOENT' || code === 'ENOTDIR') return `${path} was deleted or moved since it was imported`
  return `${path} cannot be read any more (${code ?? errorMessage(err)})`
}

/**
 * Reads the bytes of a raw leaf from a source file named in the leaf index and re-hashes them: bytes are
 * returned only if they still hash to `cid`. A changed source file is reported, never served. Tries every
 * indexed location in turn (the same chunk may sit in several files).
 */
export async function readLeaf (catalog: Pick<Catalog, 'findLeaf'>, cid: CID, options: { signal?: AbortSignal } = {}): Promise<LeafRead> {
  if (cid.multihash.code !== SHA2_256) throw new FerryError('ERR_INVALID_CID', `Unsupported hash in ${cid.toString()}`)
  const locations = catalog.findLeaf(cid)
  if (locations.length === 0) return { status: 'missing' }
  const reasons: string[] = []
  for (const loc of locations) {
    if (options.signal?.aborted === true) throw new FerryError('ERR_ABORTED', 'Operation aborted', { cause: options.signal.reason })
    let fh
    try {
      fh = await open(loc.path, 'r')
      const bytes = Buffer.allocUnsafe(loc.length)
      let got = 0
      while (got < loc.length) {
        const { bytesRead } = await fh.read(bytes, got, loc.length - got, loc.offset + got)
        if (bytesRead === 0) break
        got += bytesRead
      }
      if (got !== loc.length) {
        reasons.push(`${loc.path} is shorter than when it was imported`)
        continue
      }
      const digest = createHash('sha256').update(bytes).digest()
      if (!digest.equals(cid.multihash.digest)) {
        reasons.push(`${loc.path} changed since it was imported`)
        continue
      }
      return { status: 'ok', bytes, path: loc.path }
    } catch (err) {
      reasons.push(sourceUnreadable(loc.path, err))
    } finally {
      await fh?.close()
    }
  }
  return { status: 'changed', paths: locations.map((l) => l.path), reason: reasons.join('; ') }
}
