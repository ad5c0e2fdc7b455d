import { FerryError, throwIfAborted } from '@ferry/errors'
import { decode as decodePb, type PBLink } from '@ipld/dag-pb'
import { checkCid, EMPTY_FILE_CID, verifyBlock } from './cid.js'
import { DAG_PB_CODE, MAX_FILE_DEPTH, MAX_SHARD_DEPTH, MURMUR3_X64_64_CODE, RAW_CODE } from './constants.js'
import { bitfieldSlots, labelLength, NameHash, slotLabel } from './hamt.js'
import { compareNames, MAX_PATH_BYTES, peerNameProblem } from './names.js'
import { decodeUnixFS, type UnixFSData } from './unixfs-data.js'
import type { EntryType } from './directory.js'
import type { CID } from 'multiformats/cid'

/**
 * Returns the bytes of a dag-pb block (file, directory, shard or symlink node). Raw leaves are never
 * asked for. The reader verifies every block it gets against its CID.
 */
export type GetBlock = (cid: CID, options?: { signal?: AbortSignal }) => Promise<Uint8Array>

/** Options of the reader functions. */
export interface ReadOptions {
  signal?: AbortSignal
  /**
   * The file's size, needed only when the CID is a raw leaf (a single-chunk file), which carries no
   * metadata: take it from the parent's DagEntry.size. Checked against the root when the root is dag-pb.
   */
  size?: number
}

/** One entry of a scan's tree, as walkDag yields it. */
export interface DagEntry {
  /** '' for the root, 'a/b.txt' below it. */
  path: string
  type: EntryType
  /** The entry's root CID (a raw leaf for single-chunk files). */
  cid: CID
  /** File bytes; 0 for directories and symlinks. */
  size: number
  /** The symlink's target (symlinks only). */
  target?: string
}

/** One entry of a directory, as listDirectory returns it (HAMT labels already stripped). */
export interface DirectoryLink {
  name: string
  cid: CID
  /** The link's dag-pb Tsize (a raw leaf's Tsize is the file's size). */
  tsize: number
}

/** A leaf of a file, with its place in the file. */
export interface FileLeaf {
  cid: CID
  offset: number
  length: number
}

/** How many dag-pb children of a directory walkDag fetches ahead. */
const PREFETCH = 16

interface DagNode {
  cid: CID
  links: PBLink[]
  unixfs: UnixFSData
}

function bad (message: string, cid?: CID, details: Record<string, unknown> = {}, cause?: unknown): FerryError {
  return new FerryError('ERR_BAD_BLOCK', message, {
    cause,
    details: cid === undefined ? details : { cid: cid.toString(), ...details }
  })
}

/** Fetches, verifies and decodes a dag-pb UnixFS node. */
async function loadNode (cid: CID, get: GetBlock, signal?: AbortSignal): Promise<DagNode> {
  throwIfAborted(signal)
  checkCid(cid, 'Block')
  if (cid.code !== DAG_PB_CODE) throw bad(`Expected a dag-pb block, got codec 0x${cid.code.toString(16)}`, cid)
  const bytes = await get(cid, { signal })
  throwIfAborted(signal)
  if (!(bytes instanceof Uint8Array)) throw bad('Block store returned no bytes', cid)
  verifyBlock(cid, bytes)
  let links: PBLink[]
  let data: Uint8Array | undefined
  try {
    const node = decodePb(bytes)
    links = node.Links
    data = node.Data
  } catch (err) {
    throw bad(`Block ${cid.toString()} is not valid dag-pb: ${(err as Error).message}`, cid, {}, err)
  }
  if (data === undefined) throw bad(`Block ${cid.toString()} has no UnixFS data`, cid)
  let unixfs: UnixFSData
  try {
    unixfs = decodeUnixFS(data)
  } catch (err) {
    throw bad(`Block ${cid.toString()} has invalid UnixFS data: ${(err as Error).message}`, cid, {}, err)
  }
  for (const link of links) checkCid(link.Hash, `A link of ${cid.toString()}`)
  return { cid, links, unixfs }
}

/** Checks a file node; returns its file size. */
function checkFileNode (node: DagNode): number {
  const { unixfs, links, cid } = node
  if (unixfs.type !== 'file') throw bad(`Expected a file node, got ${unixfs.type}`, cid)
  if (unixfs.data !== undefined && unixfs.data.byteLength > 0) {
    throw bad('File nodes with inline data are not supported (Ferry uses raw leaves)', cid)
  }
  if (unixfs.blockSizes.length !== links.length) {
    throw bad(`File node has ${links.length} links but ${unixfs.blockSizes.length} blocksizes`, cid)
  }
  let sum = 0
  for (const s of unixfs.blockSizes) sum += s
  if (unixfs.fileSize !== sum) {
    throw bad(`File node blocksizes add up to ${sum}, its filesize says ${String(unixfs.fileSize)}`, cid)
  }
  for (let i = 0; i < links.length; i++) {
    const link = links[i] as PBLink
    if (link.Name !== undefined && link.Name !== '') throw bad('File node links must have empty names', cid)
    if (link.Hash.code === RAW_CODE) checkRawLeaf(link.Hash, link.Tsize, unixfs.blockSizes[i] as number, cid)
  }
  return sum
}

/** A raw leaf's Tsize is its length and must equal the size its parent declares. */
function checkRawLeaf (leaf: CID, tsize: number | undefined, size: number, parent: CID): void {
  if (tsize !== size) {
    throw bad(`Raw leaf ${leaf.toString()} has Tsize ${String(tsize)} but ${size} bytes are declared for it`, parent)
  }
  if ((size === 0) !== leaf.equals(EMPTY_FILE_CID)) {
    throw bad(`Raw leaf ${leaf.toString()} cannot be ${size} bytes long`, parent)
  }
}

function checkName (name: string | undefined, cid: CID): string {
  const problem = peerNameProblem(name as string)
  if (problem !== undefined) throw bad(`Directory ${cid.toString()} has an invalid entry name ${JSON.stringify(name)}: ${problem}`, cid)
  return name as string
}

function linkTsize (link: PBLink, cid: CID): number {
  if (link.Tsize === undefined) {
    if (link.Hash.code === RAW_CODE) throw bad(`Link to raw leaf ${link.Hash.toString()} has no Tsize`, cid)
    return 0
  }
  return link.Tsize
}

/** The entries of a directory node (flat or shard root), in no particular order. */
async function directoryLinks (node: DagNode, get: GetBlock, signal?: AbortSignal): Promise<DirectoryLink[]> {
  const out: DirectoryLink[] = []
  if (node.unixfs.type === 'directory') {
    if (node.unixfs.data !== undefined && node.unixfs.data.byteLength > 0) throw bad('Directory node carries data', node.cid)
    for (const link of node.links) {
      out.push({ name: checkName(link.Name, node.cid), cid: link.Hash, tsize: linkTsize(link, node.cid) })
    }
  } else if (node.unixfs.type === 'hamt-sharded-directory') {
    const fanout = node.unixfs.fanout
    if (fanout === undefined || fanout < 2 || fanout > 65536 || (fanout & (fanout - 1)) !== 0) {
      throw bad(`Shard fanout ${String(fanout)} is not a power of 2 from 2 to 65536`, node.cid)
    }
    await shardLinks(node, Math.log2(fanout), [], get, signal, out)
  } else {
    throw new FerryError('ERR_NOT_A_DIRECTORY', `${node.cid.toString()} is a ${node.unixfs.type}, not a directory`, {
      details: { cid: node.cid.toString() }
    })
  }
  const seen = new Set<string>()
  for (const { name } of out) {
    if (seen.has(name)) throw bad(`Directory ${node.cid.toString()} has the name ${JSON.stringify(name)} twice`, node.cid)
    seen.add(name)
  }
  return out
}

/** Collects the entries of one shard node and its sub-shards, checking each name sits in its hash's slot. */
async function shardLinks (node: DagNode, bits: number, slotPath: number[], get: GetBlock, signal: AbortSignal | undefined, out: DirectoryLink[]): Promise<void> {
  const { unixfs, cid } = node
  if (unixfs.type !== 'hamt-sharded-directory') throw bad(`Expected a shard node, got ${unixfs.type}`, cid)
  if (unixfs.hashType !== MURMUR3_X64_64_CODE) throw bad(`Shard hash type ${String(unixfs.hashType)} is not murmur3-x64-64 (0x22)`, cid)
  if (unixfs.fanout !== 2 ** bits) throw bad(`Sub-shard fanout ${String(unixfs.fanout)} differs from its root's ${2 ** bits}`, cid)
  if (slotPath.length >= MAX_SHARD_DEPTH) throw bad(`Shard deeper than ${MAX_SHARD_DEPTH} levels`, cid)
  const declared = bitfieldSlots(unixfs.data ?? new Uint8Array(0))
  const used = new Set<number>()
  const width = labelLength(bits)
  const depth = slotPath.length
  for (const link of node.links) {
    const label = link.Name ?? ''
    const slot = Number.parseInt(label.slice(0, width), 16)
    if (label.length < width || !Number.isInteger(slot) || slot >= 2 ** bits || slotLabel(slot, bits) !== label.slice(0, width)) {
      throw bad(`Shard link label ${JSON.stringify(label)} is not ${width} upper-case hex digits`, cid)
    }
    if (used.has(slot)) throw bad(`Shard slot ${label.slice(0, width)} is linked twice`, cid)
    used.add(slot)
    if (label.length === width) {
      const sub = await loadNode(link.Hash, get, signal)
      await shardLinks(sub, bits, [...slotPath, slot], get, signal, out)
      continue
    }
    const name = checkName(label.slice(width), cid)
    const hash = new NameHash(name)
    for (let d = 0; d <= depth; d++) {
      if (hash.index(d, bits) !== (d < depth ? slotPath[d] : slot)) {
        throw bad(`Shard entry ${JSON.stringify(name)} is not in the slot its hash gives`, cid)
      }
    }
    out.push({ name, cid: link.Hash, tsize: linkTsize(link, cid) })
  }
  if (declared.length !== used.size || declared.some(s => !used.has(s))) {
    throw bad('Shard bitfield does not match its links', cid)
  }
}

/**
 * The entries of one directory (flat or HAMT-sharded, shards resolved), sorted by the UTF-8 bytes of
 * their names. Throws ERR_NOT_A_DIRECTORY if `cid` is not a directory.
 */
export async function listDirectory (cid: CID, get: GetBlock, options: ReadOptions = {}): Promise<DirectoryLink[]> {
  checkCid(cid, 'Directory')
  if (cid.code === RAW_CODE) throw new FerryError('ERR_NOT_A_DIRECTORY', `${cid.toString()} is a file, not a directory`, { details: { cid: cid.toString() } })
  const node = await loadNode(cid, get, options.signal)
  const links = await directoryLinks(node, get, options.signal)
  return links.sort((a, b) => compareNames(a.name, b.name))
}

function rawFileSize (cid: CID, size: number | undefined): number {
  if (size === undefined) {
    if (cid.equals(EMPTY_FILE_CID)) return 0
    throw new FerryError('ERR_INVALID_ARGUMENT', `${cid.toString()} is a single-chunk file: pass its size`, { details: { cid: cid.toString() } })
  }
  if (!Number.isSafeInteger(size) || size < 0 || (size === 0) !== cid.equals(EMPTY_FILE_CID)) {
    throw bad(`Raw leaf ${cid.toString()} cannot be a ${String(size)}-byte file`, cid)
  }
  return size
}

/**
 * The raw leaves of a file in file order, with their offsets and lengths, checking every file node on the
 * way (types, blocksizes against filesize and against each child). Zero-length leaves are skipped, so an
 * empty file yields nothing. Holds one path of nodes (at most MAX_FILE_DEPTH) in memory.
 */
export async function * fileLeaves (cid: CID, get: GetBlock, options: ReadOptions = {}): AsyncGenerator<FileLeaf> {
  const { signal } = options
  checkCid(cid, 'File')
  if (cid.code === RAW_CODE) {
    const length = rawFileSize(cid, options.size)
    if (length > 0) yield { cid, offset: 0, length }
    return
  }
  const root = await loadNode(cid, get, signal)
  const total = checkFileNode(root)
  if (options.size !== undefined && options.size !== total) {
    throw bad(`File ${cid.toString()} is ${total} bytes, ${options.size} were expected`, cid)
  }
  const stack: Array<{ node: DagNode, next: number }> = [{ node: root, next: 0 }]
  let offset = 0
  while (stack.length > 0) {
    throwIfAborted(signal)
    const frame = stack[stack.length - 1] as { node: DagNode, next: number }
    if (frame.next >= frame.node.links.length) {
      stack.pop()
      continue
    }
    const i = frame.next++
    const link = frame.node.links[i] as PBLink
    const length = frame.node.unixfs.blockSizes[i] as number
    if (link.Hash.code === RAW_CODE) {
      if (length > 0) yield { cid: link.Hash, offset, length }
      offset += length
      continue
    }
    if (stack.length >= MAX_FILE_DEPTH) throw bad(`File tree deeper than ${MAX_FILE_DEPTH} levels`, cid)
    const child = await loadNode(link.Hash, get, signal)
    const childSize = checkFileNode(child)
    if (childSize !== length) {
      throw bad(`File node ${child.cid.toString()} holds ${childSize} bytes, its parent declares ${length}`, frame.node.cid)
    }
    stack.push({ node: child, next: 0 })
  }
  throwIfAborted(signal)
}

interface DirFrame {
  path: string
  links: DirectoryLink[]
  next: number
  ahead: Map<number, Promise<DagNode>>
}

/** The entry a dag-pb node stands for, checking what can be checked without going deeper. */
function describe (node: DagNode, path: string): DagEntry {
  const { unixfs, cid } = node
  switch (unixfs.type) {
    case 'file':
      return { path, type: 'file', cid, size: checkFileNode(node) }
    case 'directory':
    case 'hamt-sharded-directory':
      return { path, type: 'directory', cid, size: 0 }
    case 'symlink': {
      if (node.links.length > 0) throw bad('Symlink node has links', cid)
      let target: string
      try {
        target = new TextDecoder('utf-8', { fatal: true }).decode(unixfs.data ?? new Uint8Array(0))
      } catch (err) {
        throw bad('Symlink target is not UTF-8', cid, {}, err)
      }
      if (target.length === 0) throw bad('Symlink has an empty target', cid)
      return { path, type: 'symlink', cid, size: 0, target }
    }
    default:
      throw bad(`Unsupported UnixFS node type ${unixfs.type}`, cid)
  }
}

function prefetch (frame: DirFrame, get: GetBlock, signal?: AbortSignal): void {
  for (let i = frame.next; i < Math.min(frame.links.length, frame.next + PREFETCH); i++) {
    const link = frame.links[i] as DirectoryLink
    if (link.cid.code === DAG_PB_CODE && !frame.ahead.has(i)) {
      const p = loadNode(link.cid, get, signal)
      p.catch(() => {}) // awaited in order below; keeps an abandoned walk from reporting unhandled rejections
      frame.ahead.set(i, p)
    }
  }
}

/**
 * Every entry of a scan's tree, pre-order, each directory's children sorted by the UTF-8 bytes of their
 * names, HAMT shards resolved transparently. Every block is verified and checked on the way; a file's
 * inner nodes are left to fileLeaves. A raw root is a single-chunk file: pass options.size.
 */
export async function * walkDag (root: CID, get: GetBlock, options: ReadOptions = {}): AsyncGenerator<DagEntry> {
  const { signal } = options
  checkCid(root, 'Root')
  if (root.code === RAW_CODE) {
    yield { path: '', type: 'file', cid: root, size: rawFileSize(root, options.size) }
    return
  }
  const rootNode = await loadNode(root, get, signal)
  const rootEntry = describe(rootNode, '')
  if (options.size !== undefined && rootEntry.type === 'file' && rootEntry.size !== options.size) {
    throw bad(`File ${root.toString()} is ${rootEntry.size} bytes, ${options.size} were expected`, root)
  }
  yield rootEntry
  if (rootEntry.type !== 'directory') return

  const open = async (node: DagNode, path: string): Promise<DirFrame> => {
    const links = await directoryLinks(node, get, signal)
    links.sort((a, b) => compareNames(a.name, b.name))
    return { path, links, next: 0, ahead: new Map() }
  }
  const stack: DirFrame[] = [await open(rootNode, '')]
  while (stack.length > 0) {
    throwIfAborted(signal)
    const frame = stack[stack.length - 1] as DirFrame
    if (frame.next >= frame.links.length) {
      stack.pop()
      continue
    }
    prefetch(frame, get, signal)
    const i = frame.next++
    const link = frame.links[i] as DirectoryLink
    const path = frame.path === '' ? link.name : `${frame.path}/${link.name}`
    if (Buffer.byteLength(path) > MAX_PATH_BYTES) throw bad(`Path ${JSON.stringify(path.slice(0, 64))}... is longer than ${MAX_PATH_BYTES} bytes`, link.cid, { path })
    if (link.cid.code === RAW_CODE) {
      if ((link.tsize === 0) !== link.cid.equals(EMPTY_FILE_CID)) {
        throw bad(`Raw leaf ${link.cid.toString()} cannot be a ${link.tsize}-byte file`, link.cid, { path })
      }
      yield { path, type: 'file', cid: link.cid, size: link.tsize }
      continue
    }
    const pending = frame.ahead.get(i) as Promise<DagNode>
    frame.ahead.delete(i)
    const node = await pending
    const entry = describe(node, path)
    yield entry
    if (entry.type === 'directory') stack.push(await open(node, path))
  }
  throwIfAborted(signal)
}
