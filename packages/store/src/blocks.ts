/**
 * `InnerBlocks`: the inner dag-pb nodes (file and directory nodes) of every scan, kept in `blocks/` in the
 * blockstore-fs v4 layout (one file per block, `<base32upper multihash>.data`, sharded by the next-to-last
 * two characters). File content (raw leaves) is never stored here: it is served from the source files.
 *
 * Why not call blockstore-fs's put/get/has: in v4 they turn every error into NotFoundError/PutFailedError
 * with the original only as text (so ENOSPC or EIO would read as "not found" and lose their errno), `has`
 * answers false on EACCES, and its writer uses one fixed temporary name per block, so two processes writing
 * the same block race on it. This class reads and writes the same files with plain fs calls instead: the
 * directory stays a valid blockstore-fs store (FsBlockstore can open it), errors keep their cause, and
 * temporary names are unique per process.
 *
 * Integrity: blocks are hashed on put and on get (sha2-256, a few µs for these small nodes), so a block torn
 * by a crash (writes are not fsynced, for speed) is reported as ERR_BAD_BLOCK and removed, never returned.
 * A put over a block whose file has the wrong size rewrites it.
 */
import { createHash } from 'node:crypto'
import { readFile as readFileCb, rename as renameCb, stat as statCb, writeFile as writeFileCb } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { FsBlockstore } from 'blockstore-fs'
import { NextToLast } from 'blockstore-fs/sharding'
import { FerryError, fromSystemError, throwIfAborted } from '@ferry/errors'
import type { CID } from 'multiformats/cid'

/** Multicodec of dag-pb, the only codec this store accepts. */
export const DAG_PB_CODE = 0x70

/** Multihash code of sha2-256, the only hash this store accepts. */
export const SHA2_256_CODE = 0x12

/** How many block writes `putMany` keeps in flight. */
export const DEFAULT_PUT_CONCURRENCY = 32

// The callback forms of these calls are measurably cheaper than fs/promises (no FileHandle) per small block.
const readWhole = promisify(readFileCb)
const statFile = promisify(statCb)
const writeNew = promisify(writeFileCb)
const renameFile = promisify(renameCb)

/** Name of the block directory inside a home. */
export const BLOCKS_DIR = 'blocks'

/** A block: its CID and its bytes. */
export interface Block {
  cid: CID
  bytes: Uint8Array
}

/** What `putMany` did. */
export interface PutManyResult {
  /** Blocks written. */
  written: number
  /** Blocks already present (and of the right size), not rewritten. */
  skipped: number
}

/** Options of `openInnerBlocks`. */
export interface InnerBlocksOptions {
  /** Refuse puts (ERR_PERMISSION). */
  readonly?: boolean
  /** Writes in flight in `putMany` (default DEFAULT_PUT_CONCURRENCY). */
  putConcurrency?: number
}

/** The narrow block store of a home: inner dag-pb nodes only. */
export interface InnerBlocks {
  /** Absolute path of the block directory. */
  readonly dir: string
  /** Stores a block unless it is already there. Resolves true if it was written. */
  put: (block: Block) => Promise<boolean>
  /** Stores many blocks with bounded concurrency, skipping those already present. */
  putMany: (blocks: Iterable<Block> | AsyncIterable<Block>, options?: { signal?: AbortSignal }) => Promise<PutManyResult>
  /** The bytes of a block, verified against its CID. ERR_BLOCK_NOT_FOUND if absent, ERR_BAD_BLOCK if corrupt. */
  get: (cid: CID, options?: { signal?: AbortSignal }) => Promise<Uint8Array>
  /** Whether the block is present (I/O errors other than "absent" throw). */
  has: (cid: CID) => Promise<boolean>
}

function checkCid (cid: CID): void {
  if (cid.code !== DAG_PB_CODE) {
    throw new FerryError('ERR_INVALID_CID', `Block ${cid.toString()} is not a dag-pb node (codec 0x${cid.code.toString(16)}): only inner nodes are stored`,
      { details: { cid: cid.toString() } })
  }
  if (cid.multihash.code !== SHA2_256_CODE) {
    throw new FerryError('ERR_INVALID_CID', `Block ${cid.toString()} does not use sha2-256`, { details: { cid: cid.toString() } })
  }
}

function matches (cid: CID, bytes: Uint8Array): boolean {
  const digest = createHash('sha256').update(bytes).digest()
  return Buffer.compare(digest, cid.multihash.digest) === 0
}

/** Where the blocks of one store live, and how a CID maps to its file. */
interface BlockDir {
  root: string
  readonly: boolean
  locate: (cid: CID) => { dir: string, file: string }
}

/** Creates the block directory (or, read-only, checks that it exists) and returns its layout. */
async function openBlockDir (dir: string, readonly: boolean): Promise<BlockDir> {
  const root = path.resolve(dir)
  const sharding = new NextToLast()
  try {
    if (readonly) {
      // FsBlockstore.open() insists on write access; a read-only home may sit on a read-only disk.
      if (!(await fs.stat(root)).isDirectory()) throw new FerryError('ERR_NOT_A_DIRECTORY', `Not a directory: ${root}`)
    } else {
      await new FsBlockstore(root, { shardingStrategy: sharding }).open()
    }
  } catch (err) {
    throw fromSystemError(err, root)
  }
  const locate = (cid: CID): { dir: string, file: string } => {
    const { dir: shard, file } = sharding.encode(cid)
    const shardDir = path.join(root, shard)
    return { dir: shardDir, file: path.join(shardDir, file) }
  }
  return { root, readonly, locate }
}

/** True if `file` already holds a block of `size` bytes (a torn block of another size is rewritten). */
async function present (file: string, size: number): Promise<boolean> {
  try {
    const stat = await statFile(file)
    return stat.isFile() && stat.size === size
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fromSystemError(err, file)
    return false
  }
}

/** `put`: writes a block to a per-process temporary name, then renames it into place. */
function blockWriter (store: BlockDir): InnerBlocks['put'] {
  const madeDirs = new Set<string>()
  let tmpCounter = 0
  return async (block) => {
    checkCid(block.cid)
    if (store.readonly) throw new FerryError('ERR_PERMISSION', `Cannot store block ${block.cid.toString()}: the home is open read-only`)
    if (!matches(block.cid, block.bytes)) {
      throw new FerryError('ERR_HASH_MISMATCH', `Block bytes do not hash to ${block.cid.toString()}`, { details: { cid: block.cid.toString() } })
    }
    const where = store.locate(block.cid)
    if (await present(where.file, block.bytes.byteLength)) return false
    if (!madeDirs.has(where.dir)) {
      try {
        await fs.mkdir(where.dir, { recursive: true })
      } catch (err) {
        throw fromSystemError(err, where.dir)
      }
      madeDirs.add(where.dir)
    }
    // Not ending in ".data", so blockstore-fs's getAll never lists a temporary file.
    const tmp = `${where.file}.${process.pid}-${++tmpCounter}.tmp`
    try {
      await writeNew(tmp, block.bytes, { flag: 'wx' })
      await renameFile(tmp, where.file)
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => {})
      throw fromSystemError(err, `block ${block.cid.toString()} (${where.file})`)
    }
    return true
  }
}

/** `putMany` over `put`: at most `concurrency` writes in flight, and two puts of one CID never at once. */
function manyWriter (put: InnerBlocks['put'], concurrency: number): InnerBlocks['putMany'] {
  return async (blocks, opts = {}) => {
    const result: PutManyResult = { written: 0, skipped: 0 }
    const inFlight = new Set<Promise<void>>()
    // Two puts of one CID at once would both write; the second waits for the first instead.
    const pending = new Map<string, Promise<void>>()
    let failure: unknown
    const start = (block: Block): void => {
      const key = block.cid.multihash.bytes.toString()
      const before = pending.get(key)
      const p: Promise<void> = (async () => {
        if (before !== undefined) await before
        if (await put(block)) result.written++
        else result.skipped++
      })().catch(err => { failure ??= err }).finally(() => {
        inFlight.delete(p)
        if (pending.get(key) === p) pending.delete(key)
      })
      pending.set(key, p)
      inFlight.add(p)
    }
    try {
      for await (const block of blocks) {
        throwIfAborted(opts.signal)
        if (failure !== undefined) break
        start(block)
        if (inFlight.size >= concurrency) await Promise.race(inFlight)
      }
    } finally {
      await Promise.all(inFlight)
    }
    if (failure !== undefined) throw failure
    throwIfAborted(opts.signal)
    return result
  }
}

/** `get`: reads a block and checks it against its CID; a corrupt block is removed (unless read-only). */
function blockReader (store: BlockDir): InnerBlocks['get'] {
  const { root, readonly } = store
  return async (cid, opts = {}) => {
    checkCid(cid)
    throwIfAborted(opts.signal)
    const where = store.locate(cid)
    let bytes: Uint8Array
    try {
      bytes = await readWhole(where.file) // small: checking the signal before and after is enough
    } catch (err) {
      throwIfAborted(opts.signal)
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new FerryError('ERR_BLOCK_NOT_FOUND', `Block ${cid.toString()} is not in ${root}`, { cause: err, details: { cid: cid.toString() } })
      }
      throw fromSystemError(err, `block ${cid.toString()} (${where.file})`)
    }
    throwIfAborted(opts.signal)
    if (!matches(cid, bytes)) {
      if (!readonly) await fs.rm(where.file, { force: true }).catch(() => {})
      throw new FerryError('ERR_BAD_BLOCK', `Block ${cid.toString()} in ${root} was corrupt (hash mismatch)${readonly ? '' : ' and has been removed'}: fetch or rebuild it again`,
        { details: { cid: cid.toString(), path: where.file } })
    }
    return bytes
  }
}

/** Opens (creating if needed) the block directory `dir`. */
export async function openInnerBlocks (dir: string, options: InnerBlocksOptions = {}): Promise<InnerBlocks> {
  const store = await openBlockDir(dir, options.readonly === true)
  const concurrency = Number.isInteger(options.putConcurrency) && options.putConcurrency! > 0 ? options.putConcurrency! : DEFAULT_PUT_CONCURRENCY
  const put = blockWriter(store)

  const has = async (cid: CID): Promise<boolean> => {
    checkCid(cid)
    const where = store.locate(cid)
    try {
      return (await statFile(where.file)).isFile()
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw fromSystemError(err, `block ${cid.toString()} (${where.file})`)
    }
  }

  return { dir: store.root, put, putMany: manyWriter(put, concurrency), get: blockReader(store), has }
}
