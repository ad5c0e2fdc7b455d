/**
 * The leaves of files just published, kept in memory to serve them without reading and hashing the file
 * again. A watch's import has its hash workers read each closed file into a ring of shared memory reserved
 * here (`LeafKeeper` of @ferry/dag) and learns each chunk's SHA-256 there; a peer following the open scan
 * asks for those leaves a moment later and gets a copy of the bytes that hashed to the CID, so "never
 * served with bytes that do not match what was announced" holds as with a read that is hashed again.
 *
 * One SharedArrayBuffer of `maxBytes`, made at the first reservation and reused: holding the leaves as
 * buffers of their own made V8 count them as external memory that only a full collection frees, and the
 * collections it started cost what the second hash saved (docs/benchmarks.md). Rooms are reserved one
 * after the other around the ring; a new one drops the oldest rooms it overlaps, and a room the workers
 * are still reading into is never dropped (the slice is then not kept). A leaf older than `ttlMs` is a miss.
 */
import type { LeafKeeper, LeafRoom } from '@ferry/dag'
import type { CID } from 'multiformats/cid'
import { DEFAULT_LEAF_CACHE_BYTES, DEFAULT_LEAF_CACHE_TTL_MS } from './constants.js'
import type { LeafReader } from './sources.js'

const RAW = 0x55
const SHA2_256 = 0x12

/** Options of a LeafCache. */
export interface LeafCacheOptions {
  /** Bytes of shared memory for leaves; default DEFAULT_LEAF_CACHE_BYTES; 0 keeps none. */
  maxBytes?: number
  /** A leaf kept longer than this is not served; default DEFAULT_LEAF_CACHE_TTL_MS. */
  ttlMs?: number
  /** The clock (tests). */
  now?: () => number
}

/** What a LeafCache did: leaves served from it, asked for (while it held some) and not in it, kept, slices not kept. */
export interface LeafCacheStats { hits: number, misses: number, kept: number, refused: number }

interface Room extends LeafRoom {
  busy: boolean
  at: number
  keys: string[]
}

interface Kept { room: Room, offset: number, length: number }

const keyOf = (digest: Uint8Array): string => Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('base64')

/** Leaves by the SHA-256 they hashed to, in a ring of shared memory (see the module comment). */
export class LeafCache implements LeafKeeper {
  readonly stats: LeafCacheStats = { hits: 0, misses: 0, kept: 0, refused: 0 }
  private readonly leaves = new Map<string, Kept>()
  /** Reserved rooms, oldest first: the order they lie in around the ring from `head` on. */
  private readonly rooms: Room[] = []
  private readonly maxBytes: number
  private readonly ttlMs: number
  private readonly now: () => number
  private ring: SharedArrayBuffer | undefined
  private head = 0

  constructor (options: LeafCacheOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_LEAF_CACHE_BYTES
    this.ttlMs = options.ttlMs ?? DEFAULT_LEAF_CACHE_TTL_MS
    this.now = options.now ?? Date.now
  }

  /** Leaves held now. */
  get size (): number {
    return this.leaves.size
  }

  /** Room for `length` bytes at the ring's head, dropping the oldest rooms in the way; undefined if one is busy. */
  reserve (length: number): LeafRoom | undefined {
    if (length <= 0 || length > this.maxBytes) return undefined
    this.ring ??= new SharedArrayBuffer(this.maxBytes)
    const wraps = this.head + length > this.maxBytes
    const start = wraps ? 0 : this.head
    // the rooms ahead of the head come first; on a wrap the ones in the tail skipped go too
    for (let front = this.rooms[0]; front !== undefined; front = this.rooms[0]) {
      const inTail = wraps && front.offset >= this.head
      if (!inTail && !(front.offset < start + length && start < front.offset + front.length)) break
      if (front.busy) {
        this.stats.refused++
        return undefined
      }
      this.drop(this.rooms.shift()!)
    }
    const room: Room = { buffer: this.ring, offset: start, length, busy: true, at: 0, keys: [] }
    this.rooms.push(room)
    this.head = start + length
    return room
  }

  /** The workers are done with `room`: index its chunks by digest (none if it failed). */
  settle (leafRoom: LeafRoom, chunkSize: number, digests?: Uint8Array): void {
    const room = leafRoom as Room
    room.busy = false
    room.at = this.now()
    if (digests === undefined) return
    for (let i = 0; i * 32 < digests.length; i++) {
      const key = keyOf(digests.subarray(i * 32, i * 32 + 32))
      const offset = room.offset + i * chunkSize
      this.leaves.set(key, { room, offset, length: Math.min(chunkSize, room.offset + room.length - offset) })
      room.keys.push(key)
      this.stats.kept++
    }
  }

  /** A copy of the kept bytes of a raw sha2-256 leaf, or undefined. */
  get (cid: CID): Uint8Array | undefined {
    if (this.leaves.size === 0 || this.ring === undefined) return undefined
    if (cid.code !== RAW || cid.multihash.code !== SHA2_256) return undefined
    const kept = this.leaves.get(keyOf(cid.multihash.digest))
    if (kept === undefined || kept.room.at < this.now() - this.ttlMs) {
      this.stats.misses++
      return undefined
    }
    this.stats.hits++
    return Buffer.from(new Uint8Array(this.ring, kept.offset, kept.length)) // a copy: the room is reused later
  }

  private drop (room: Room): void {
    for (const key of room.keys) if (this.leaves.get(key)?.room === room) this.leaves.delete(key)
  }
}

/** `reader`, answering from `cache` first. */
export function cachedLeaves (reader: LeafReader, cache: LeafCache): LeafReader {
  return async (home, cid, signal) => {
    const bytes = cache.get(cid)
    return bytes !== undefined ? { status: 'ok', bytes } : await reader(home, cid, signal)
  }
}
