/**
 * The leaves of files just published, kept in memory to serve them without reading and hashing the file
 * again. A watch's import reads each closed file once, on its hash workers, and hands every leaf's bytes
 * here with the SHA-256 they hashed to; a peer following the open scan asks for those leaves a moment later.
 * Each kept leaf is exactly the bytes that hashed to its CID, so "never served with bytes that do not match
 * what was announced" holds as with a read that is hashed again. Bounded by bytes (the oldest leaves go
 * first) and by age; a miss falls through to the leaf index.
 */
import type { CID } from 'multiformats/cid'
import { DEFAULT_LEAF_CACHE_BYTES, DEFAULT_LEAF_CACHE_TTL_MS } from './constants.js'
import type { LeafReader } from './sources.js'

const RAW = 0x55
const SHA2_256 = 0x12

/** Options of a LeafCache. */
export interface LeafCacheOptions {
  /** Bytes of leaves kept at most; default DEFAULT_LEAF_CACHE_BYTES; 0 keeps none. */
  maxBytes?: number
  /** A leaf older than this is dropped; default DEFAULT_LEAF_CACHE_TTL_MS. */
  ttlMs?: number
  /** The clock (tests). */
  now?: () => number
}

/** What a LeafCache did: leaves served from it, asked for and not in it, kept, dropped. */
export interface LeafCacheStats { hits: number, misses: number, kept: number, dropped: number }

interface Kept { bytes: Uint8Array, at: number }

/** Leaves by the SHA-256 they hashed to, oldest first (see the module comment). */
export class LeafCache {
  readonly stats: LeafCacheStats = { hits: 0, misses: 0, kept: 0, dropped: 0 }
  private readonly leaves = new Map<string, Kept>()
  private readonly maxBytes: number
  private readonly ttlMs: number
  private readonly now: () => number
  private bytes = 0

  constructor (options: LeafCacheOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_LEAF_CACHE_BYTES
    this.ttlMs = options.ttlMs ?? DEFAULT_LEAF_CACHE_TTL_MS
    this.now = options.now ?? Date.now
  }

  /** Bytes held now. */
  get size (): number {
    return this.bytes
  }

  /** Keeps `bytes`, which hashed to the SHA-256 `digest` (32 bytes); the caller must not change them after. */
  put (digest: Uint8Array, bytes: Uint8Array): void {
    if (bytes.byteLength > this.maxBytes) return
    const key = Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('base64')
    if (this.leaves.has(key)) return
    this.leaves.set(key, { bytes, at: this.now() })
    this.bytes += bytes.byteLength
    this.stats.kept++
    this.trim()
  }

  /** The kept bytes of a raw sha2-256 leaf, or undefined. */
  get (cid: CID): Uint8Array | undefined {
    if (this.leaves.size === 0) return undefined
    this.trim()
    if (cid.code !== RAW || cid.multihash.code !== SHA2_256) return undefined
    const { digest } = cid.multihash
    const kept = this.leaves.get(Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('base64'))
    if (kept === undefined) this.stats.misses++
    else this.stats.hits++
    return kept?.bytes
  }

  /** Drops every leaf. */
  clear (): void {
    this.leaves.clear()
    this.bytes = 0
  }

  /** Drops the oldest leaves while over the byte budget or past their age. */
  private trim (): void {
    const oldest = this.now() - this.ttlMs
    for (const [key, kept] of this.leaves) {
      if (this.bytes <= this.maxBytes && kept.at >= oldest) break
      this.leaves.delete(key)
      this.bytes -= kept.bytes.byteLength
      this.stats.dropped++
    }
  }
}

/** `reader`, answering from `cache` first. */
export function cachedLeaves (reader: LeafReader, cache: LeafCache): LeafReader {
  return async (home, cid, signal) => {
    const bytes = cache.get(cid)
    return bytes !== undefined ? { status: 'ok', bytes } : await reader(home, cid, signal)
  }
}
