/**
 * Worker thread of LeafReaderPool: reads one leaf from the first source file that still holds it and
 * re-hashes it. The bytes go back by transfer (read into memory of their own, never copied again).
 */
import { closeSync, openSync, readSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { serveRequests } from '@ferry/workers'
import type { LeafReply, LeafRequest } from './leaf-pool.js'

function read (req: LeafRequest): LeafReply {
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
        reasons.push(`${loc.path}: file is shorter than when it was imported`)
        continue
      }
      if (!createHash('sha256').update(bytes).digest().equals(req.digest)) {
        reasons.push(`${loc.path}: bytes at offset ${loc.offset} changed since import`)
        continue
      }
      return { buffer: bytes.buffer as ArrayBuffer }
    } catch (err) {
      reasons.push(`${loc.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    } finally {
      if (fd !== undefined) closeSync(fd)
    }
  }
  return { reason: reasons.join('; ') }
}

serveRequests<LeafRequest, LeafReply>((req) => {
  const reply = read(req)
  return reply.buffer !== undefined ? { reply, transfer: [reply.buffer] } : { reply }
})
