/**
 * Worker thread that reads file slices and hashes them chunk by chunk with SHA-256.
 *
 * It reads with blocking `readSync` into one reusable buffer: in a worker that is the fastest path (no
 * event-loop round trip per read) and keeps memory at one chunk per worker. Only 32-byte digests cross back
 * to the main thread, so file content is never copied between threads; with `into` the slice is read into
 * the caller's shared memory instead, where the main thread finds the bytes that were hashed.
 */
import { closeSync, openSync, readSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { serveRequests } from '@ferry/workers'
import type { HashReply, HashRequest } from './hash-protocol.js'

let buffer = Buffer.allocUnsafe(0)

function hashSlice (req: HashRequest): HashReply {
  const kept = req.into !== undefined ? Buffer.from(req.into, req.intoOffset ?? 0, req.length) : undefined
  if (kept === undefined && buffer.byteLength < req.chunkSize) buffer = Buffer.allocUnsafe(req.chunkSize)
  const chunks = Math.ceil(req.length / req.chunkSize)
  const digests = new Uint8Array(32 * chunks)
  const fd = openSync(req.path, 'r')
  try {
    for (let i = 0; i < chunks; i++) {
      const start = req.offset + i * req.chunkSize
      const want = Math.min(req.chunkSize, req.length - i * req.chunkSize)
      const into = kept?.subarray(i * req.chunkSize) ?? buffer
      let got = 0
      while (got < want) {
        const n = readSync(fd, into, got, want - got, start + got)
        if (n === 0) {
          return { error: { code: 'ERR_CHANGED', message: `file shrank while being read (expected ${req.offset + req.length} bytes, ended at ${start + got})` } }
        }
        got += n
      }
      digests.set(createHash('sha256').update(into.subarray(0, want)).digest(), i * 32)
    }
  } finally {
    closeSync(fd)
  }
  return { digests }
}

serveRequests<HashRequest, HashReply>((req) => {
  let reply: HashReply
  try {
    reply = hashSlice(req)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    reply = { error: { code: e.code ?? 'ERR_IO', message: e.message } }
  }
  return reply.digests != null ? { reply, transfer: [reply.digests.buffer as ArrayBuffer] } : { reply }
})
