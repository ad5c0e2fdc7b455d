/** Messages between the hash pool and its workers (the pool adds the ids). */
export interface HashRequest {
  path: string
  offset: number
  length: number
  chunkSize: number
  /** Read the slice into this shared memory at `intoOffset` (the caller keeps the leaves there to serve). */
  into?: SharedArrayBuffer
  intoOffset?: number
}

export interface HashReply {
  /** 32 bytes per chunk, in order. */
  digests?: Uint8Array
  /** errno code (EACCES, EIO, ...) or ERR_CHANGED, with the system message. */
  error?: { code: string, message: string }
}
