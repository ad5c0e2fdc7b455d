/**
 * Worker thread of VerifyPool: hashes one block (sha2-256) and compares it with the expected digest. The
 * block's memory arrives and leaves by transfer, so it is never copied between threads.
 */
import { createHash } from 'node:crypto'
import { parentPort } from 'node:worker_threads'
import type { VerifyReply, VerifyRequest } from './verify-pool.js'

if (parentPort == null) throw new Error('verify-worker must run in a worker thread')
const port = parentPort

port.on('message', (req: VerifyRequest) => {
  const digest = createHash('sha256').update(new Uint8Array(req.buffer, req.offset, req.length)).digest()
  const reply: VerifyReply = { id: req.id, ok: digest.equals(req.digest), buffer: req.buffer }
  port.postMessage(reply, [req.buffer])
})
