/**
 * Worker thread of VerifyPool: hashes one block (sha2-256) and compares it with the expected digest. The
 * block's memory arrives and leaves by transfer, so it is never copied between threads.
 */
import { createHash } from 'node:crypto'
import { serveRequests } from '@ferry/workers'
import type { VerifyReply, VerifyRequest } from './verify-pool.js'

serveRequests<VerifyRequest, VerifyReply>((req) => {
  const digest = createHash('sha256').update(new Uint8Array(req.buffer, req.offset, req.length)).digest()
  return { reply: { ok: digest.equals(req.digest), buffer: req.buffer }, transfer: [req.buffer] }
})
