/**
 * Worker thread of LeafReaderPool: reads each leaf of a batch from the first source file that still holds
 * it and re-hashes it. The bytes go back by transfer (read into memory of their own, never copied again).
 */
import { closeSync, openSync, readSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { serveRequests } from '@ferry/workers'
import type { LeafItem, LeafItemReply, LeafReply, LeafRequest } from './leaf-pool.js'
import { errorMessage } from '@ferry/errors'

/** As sourceUnreadable in @ferry/store (not imported here: it would load SQLite into every worker). */
function sourceUnreadable (path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null | undefined)?.code
  if (code === 'ENOENT' || code === 'ENOTDIR') return `${path} was deleted or moved since it was imported`
  return `${path} cannot be read any more (${code ?? errorMessage(err)})`
}

function read (req: LeafItem): LeafItemReply {
  const reasons: string[] = []
  for (const loc of req.locations) {
    let fd: number | undefined
    try {
      fd = openSync(loc.path, 'r')
      const bytes = Buffer.allocUnsafeSlow(loc.length)
      let got = 0
      while (got < loc.length) {
        const n = readSync(fd, bytes, got, loc.length - got, loc.offset + got)
        if (n === 0) break
        got += n
      }
      if (got !== loc.length) {
        reasons.push(`${loc.path} is shorter than when it was imported`)
        continue
      }
      if (!createHash('sha256').update(bytes).digest().equals(req.digest)) {
        reasons.push(`${loc.path} changed since it was imported`)
        continue
      }
      return { buffer: bytes.buffer as ArrayBuffer }
    } catch (err) {
      reasons.push(sourceUnreadable(loc.path, err))
    } finally {
      if (fd !== undefined) closeSync(fd)
    }
  }
  return { reason: reasons.join('; ') }
}

serveRequests<LeafRequest, LeafReply>((req) => {
  const items = req.items.map(read)
  const transfer: ArrayBuffer[] = []
  for (const r of items) if (r.buffer !== undefined) transfer.push(r.buffer)
  return { reply: { items }, transfer }
})
