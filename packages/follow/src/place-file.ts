/**
 * One published file fetched by CID and placed: its blocks come from a peer (each verified against its CID
 * by the client), its leaves are written at their offsets under a temporary name beside the final one, the
 * size must be the entry's, then mode and mtime are set and the file is renamed over its final name (an
 * earlier version there is replaced only now, once the new bytes are complete and verified).
 */
import { createHash } from 'node:crypto'
import { promises as fsp } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileLeaves, type FileLeaf, type GetBlock } from '@ferry/dag'
import { FerryError } from '@ferry/errors'
import type { CID } from 'multiformats/cid'
import { DEFAULT_FILE_WINDOW, TEMP_PREFIX } from './constants.js'
import { tempNameFor } from './temps.js'
import type { FollowPeer } from './types.js'

/** What to place: the entry's CID, size, mode and mtime, at `path` under `dir`. */
export interface PlaceInit {
  peer: FollowPeer
  /** The scan's directory at the destination (absolute). */
  dir: string
  path: string
  cid: CID
  size: number
  mode: number
  mtimeMs: number
  signal: AbortSignal
  /** Leaves in flight at once; default DEFAULT_FILE_WINDOW. */
  window?: number
  /** Given each inner (dag-pb) node of the file as it arrives (verified), to keep it and serve it on. */
  keep?: (cid: CID, bytes: Uint8Array) => Promise<void>
}

/** A placed file: its absolute path, the bytes fetched, and its stat right after the rename. */
export interface Placed {
  file: string
  fetched: number
  /** Its leaves in file order and its inner nodes (a relay indexes them to serve the file on). */
  leaves: FileLeaf[]
  nodes: CID[]
  stat: { size: number, mtimeMs: number, ctimeMs: number, ino: number }
}

const DAG_PB = 0x70
const SHA2_256 = 0x12

/** Raised when the source no longer serves a block of this version (it changed or was republished). */
export class StaleVersion extends FerryError {}

/**
 * A relative path of a scan that is safe to create under its directory: no '..', no absolute, no empty part,
 * no part named as a follower's temporary file (a restart would sweep it).
 */
export function checkPath (path: string): void {
  const parts = path.split('/')
  if (path === '' || path.startsWith('/') || path.includes('\\') || path.includes('\0') || parts.some((p) => p === '' || p === '.' || p === '..' || p.startsWith(TEMP_PREFIX))) {
    throw new FerryError('ERR_PROTOCOL', `Refusing the published path "${path}": not a plain relative path`, { details: { path } })
  }
}

function peerGet (peer: FollowPeer, signal: AbortSignal): GetBlock {
  return async (cid) => {
    const r = await peer.get(cid, { signal })
    if (r.status === 'ok') return r.bytes
    if (r.status === 'missing' || r.status === 'changed') throw new StaleVersion('ERR_NOT_FOUND', `${peer.id} no longer serves block ${cid.toString()} (${r.status}${r.message !== undefined ? `: ${r.message}` : ''})`)
    throw new FerryError('ERR_NETWORK', `${peer.id} answered ${r.status} for block ${cid.toString()}${r.message !== undefined ? `: ${r.message}` : ''}`)
  }
}

/** Creates the parent directories of `final` under `dir`, refusing any that resolves outside it (a symlink). */
async function makeParents (dir: string, final: string): Promise<void> {
  await fsp.mkdir(dirname(final), { recursive: true })
  const [root, parent] = await Promise.all([fsp.realpath(dir), fsp.realpath(dirname(final))])
  const rel = relative(root, parent)
  if (rel.startsWith('..') || rel.split(sep).includes('..')) {
    throw new FerryError('ERR_CONFLICT', `${dirname(final)} leads outside ${dir} (a symlink?): not written through`)
  }
}

/** Writes every leaf at its offset, `window` at a time; returns the bytes written. */
async function writeLeaves (fh: fsp.FileHandle, leaves: FileLeaf[], get: GetBlock, window: number, signal: AbortSignal): Promise<number> {
  let next = 0
  let written = 0
  const lane = async (): Promise<void> => {
    while (next < leaves.length) {
      const leaf = leaves[next++]!
      const bytes = await get(leaf.cid, { signal })
      if (bytes.byteLength !== leaf.length) throw new FerryError('ERR_BAD_BLOCK', `Leaf ${leaf.cid.toString()} is ${bytes.byteLength} bytes, ${leaf.length} expected`)
      await fh.write(bytes, 0, bytes.byteLength, leaf.offset)
      written += bytes.byteLength
    }
  }
  await Promise.all(Array.from({ length: Math.min(window, Math.max(leaves.length, 1)) }, lane))
  return written
}

/**
 * The leaves of file `cid` from `peer` (each block verified against its CID by the peer's getter), the inner
 * nodes met on the way (each handed to `keep` too), and the getter, which fetches the leaves next.
 */
async function fileDag (peer: FollowPeer, cid: CID, size: number, signal: AbortSignal, keep?: (cid: CID, bytes: Uint8Array) => Promise<void>): Promise<{ leaves: FileLeaf[], nodes: CID[], get: GetBlock }> {
  const fetch = peerGet(peer, signal)
  const nodes: CID[] = []
  const get: GetBlock = async (c, options) => {
    const bytes = await fetch(c, options)
    if (c.code === DAG_PB) {
      nodes.push(c)
      await keep?.(c, bytes)
    }
    return bytes
  }
  const leaves: FileLeaf[] = []
  for await (const leaf of fileLeaves(cid, get, { signal, size })) leaves.push(leaf)
  return { leaves, nodes, get }
}

/** Fetches the file, verifies it and renames it into place (see the module comment). */
export async function placeFile (init: PlaceInit): Promise<Placed> {
  checkPath(init.path)
  const final = join(init.dir, ...init.path.split('/'))
  await makeParents(init.dir, final)
  const { leaves, nodes, get } = await fileDag(init.peer, init.cid, init.size, init.signal, init.keep)
  const temp = tempNameFor(final)
  const fh = await fsp.open(temp, 'wx', 0o600)
  let placed = false
  try {
    const fetched = await writeLeaves(fh, leaves, get, init.window ?? DEFAULT_FILE_WINDOW, init.signal)
    await fh.truncate(init.size)
    const st = await fh.stat()
    if (st.size !== init.size || fetched !== init.size) throw new FerryError('ERR_VERIFY_FAILED', `${init.path}: ${fetched} bytes arrived, the entry says ${init.size}`)
    await fh.close()
    await fsp.chmod(temp, init.mode & 0o777) // as a pull places files: permission bits only, never setuid
    await fsp.utimes(temp, init.mtimeMs / 1000, init.mtimeMs / 1000)
    await fsp.rename(temp, final)
    placed = true
    const after = await fsp.stat(final)
    return { file: final, fetched, leaves, nodes, stat: { size: after.size, mtimeMs: after.mtimeMs, ctimeMs: after.ctimeMs, ino: after.ino } }
  } finally {
    if (!placed) {
      await fh.close().catch(() => {})
      await fsp.rm(temp, { force: true })
    }
  }
}

/** What `matchesEntry` checks: the file at `file` (absolute) against the entry's CID, size and mtime. */
export interface MatchInit { peer: FollowPeer, file: string, cid: CID, size: number, mtimeMs: number, signal: AbortSignal }

/**
 * The file already at `file` checked against an entry, as a restart finds a file this follower renamed into
 * place but did not record (killed before its commit): same size and mtime, and every leaf's bytes hash to
 * the leaf's CID (the file's DAG from the peer, each node verified against its CID). The file as placed if
 * it matches and did not change while it was read, else undefined.
 */
export async function matchesEntry (init: MatchInit): Promise<Placed | undefined> {
  const before = await fsp.stat(init.file).catch(() => undefined)
  if (before === undefined || !before.isFile() || before.size !== init.size || before.mtimeMs !== init.mtimeMs) return undefined
  const { leaves, nodes } = await fileDag(init.peer, init.cid, init.size, init.signal)
  const fh = await fsp.open(init.file, 'r')
  try {
    for (const leaf of leaves) {
      init.signal.throwIfAborted()
      const buf = Buffer.allocUnsafe(leaf.length)
      const { bytesRead } = await fh.read(buf, 0, leaf.length, leaf.offset)
      if (bytesRead !== leaf.length || leaf.cid.multihash.code !== SHA2_256) return undefined
      if (!createHash('sha256').update(buf).digest().equals(leaf.cid.multihash.digest)) return undefined
    }
  } finally {
    await fh.close()
  }
  const after = await fsp.stat(init.file)
  if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || after.ctimeMs !== before.ctimeMs || after.ino !== before.ino) return undefined
  return { file: init.file, fetched: 0, leaves, nodes, stat: { size: after.size, mtimeMs: after.mtimeMs, ctimeMs: after.ctimeMs, ino: after.ino } }
}
