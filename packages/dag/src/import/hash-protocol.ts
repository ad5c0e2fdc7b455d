/** Messages between the hash pool and its workers (the pool adds the ids). */
export interface HashRequest {
  path: string
  offset: number
  length: number
  chunkSize: number
  /** Send the bytes read back too (in a new buffer, transferred): the caller keeps them to serve. */
  keep?: boolean
}

export interface HashReply {
  /** 32 bytes per chunk, in order. */
  digests?: Uint8Array
  /** With `keep`: the slice's bytes, `length` of them, as hashed. */
  bytes?: Uint8Array
  /** errno code (EACCES, EIO, ...) or ERR_CHANGED, with the system message. */
  error?: { code: string, message: string }
}
