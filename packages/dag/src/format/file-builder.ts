import { FerryError } from '@ferry/errors'
import { UnixFS } from 'ipfs-unixfs'
import { checkCid, EMPTY_FILE_CID, encodeNode, leafRef, sha256, sumTsize, type Block, type NodeRef } from './cid.js'
import { DEFAULT_CHUNK_SIZE, DEFAULT_MAX_CHILDREN, RAW_CODE } from './constants.js'
import type { PBLink } from '@ipld/dag-pb'

/** Options of FileBuilder and buildFile. */
export interface FileLayoutOptions {
  /** Most links per file node (default DEFAULT_MAX_CHILDREN = 1024, the `unixfs-v1-2025` profile's); at least 2. */
  maxChildren?: number
  /**
   * The scan's chunk size. When given, FileBuilder checks that every leaf but the last is exactly this long
   * and none is longer: any other cut gives a root that `ipfs add --chunker size-N` cannot reproduce.
   * buildFile cuts with it (default DEFAULT_CHUNK_SIZE).
   */
  chunkSize?: number
}

/** The root of a file, directory or symlink and the dag-pb blocks built for it (raw leaves excluded). */
export interface BuildResult {
  root: NodeRef
  blocks: Block[]
}

function positiveInteger (value: number | undefined, fallback: number, min: number, what: string): number {
  const v = value ?? fallback
  if (!Number.isSafeInteger(v) || v < min) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `${what} must be an integer >= ${min}, got ${String(v)}`)
  }
  return v
}

/**
 * Streaming balanced file layout, identical to the importer's `balanced({ maxChildrenPerNode })` with
 * `reduceSingleLeafToSelf`. The caller hashes the chunks and pushes one raw-leaf NodeRef per chunk, in file
 * order; push() returns the file nodes completed so far, which the caller stores. Memory stays bounded: at
 * most `maxChildren` refs are held per tree level (see `buffered`).
 */
export class FileBuilder {
  /** Most links per file node. */
  readonly maxChildren: number
  /** Expected length of every leaf but the last, if checked. */
  readonly chunkSize: number | undefined
  /** levels[0] holds leaves not yet linked, levels[i] the level-i nodes not yet linked. */
  private readonly levels: NodeRef[][] = []
  /** Refs ever added to each level, to know which level ends with a single node (the root). */
  private readonly counts: number[] = []
  private leaves = 0
  private sawLastLeaf = false
  private zeroLeaf = false
  private done = false

  constructor (options: FileLayoutOptions = {}) {
    this.maxChildren = positiveInteger(options.maxChildren, DEFAULT_MAX_CHILDREN, 2, 'maxChildren')
    this.chunkSize = options.chunkSize === undefined ? undefined : positiveInteger(options.chunkSize, 1, 1, 'chunkSize')
  }

  /** Number of refs currently held (at most maxChildren per level). */
  get buffered (): number {
    let n = 0
    for (const level of this.levels) n += level.length
    return n
  }

  /** Adds the next raw leaf of the file; returns the file nodes this completed. */
  push (leaf: NodeRef): Block[] {
    if (this.done) throw new FerryError('ERR_INTERNAL', 'FileBuilder.push() after finish()')
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a JavaScript caller may pass anything
    if (leaf?.cid?.code !== RAW_CODE) {
      throw new FerryError('ERR_INVALID_ARGUMENT', 'FileBuilder takes raw leaves only', { details: { cid: String(leaf.cid) } })
    }
    checkCid(leaf.cid, 'Leaf')
    if (!Number.isSafeInteger(leaf.size) || leaf.size < 0 || leaf.tsize !== leaf.size) {
      throw new FerryError('ERR_INVALID_ARGUMENT', 'A raw leaf needs size === tsize >= 0', { details: { size: leaf.size, tsize: leaf.tsize } })
    }
    if ((leaf.size === 0) !== leaf.cid.equals(EMPTY_FILE_CID)) {
      throw new FerryError('ERR_INVALID_ARGUMENT', `Leaf ${leaf.cid.toString()} cannot be ${leaf.size} bytes long`)
    }
    if (leaf.size === 0 && this.leaves > 0) {
      // the importer would leave it out of the links; a fixed-size chunker never makes one
      throw new FerryError('ERR_INVALID_ARGUMENT', 'An empty leaf can only stand for an empty file')
    }
    if (this.zeroLeaf) throw new FerryError('ERR_INVALID_ARGUMENT', 'An empty leaf can only stand for an empty file')
    if (this.chunkSize !== undefined) {
      if (leaf.size > this.chunkSize) {
        throw new FerryError('ERR_INVALID_ARGUMENT', `Leaf of ${leaf.size} bytes is longer than the chunk size ${this.chunkSize}`)
      }
      if (this.sawLastLeaf) {
        throw new FerryError('ERR_INVALID_ARGUMENT', `Only the last leaf may be shorter than the chunk size ${this.chunkSize}`)
      }
      if (leaf.size < this.chunkSize) this.sawLastLeaf = true
    }
    if (leaf.size === 0) this.zeroLeaf = true
    this.leaves++
    const out: Block[] = []
    this.add(0, { cid: leaf.cid, size: leaf.size, tsize: leaf.tsize, type: 'file' }, out)
    return out
  }

  /** Links what is left and returns the file's root. No leaves pushed gives the empty file (EMPTY_FILE_CID). */
  finish (): BuildResult {
    if (this.done) throw new FerryError('ERR_INTERNAL', 'FileBuilder.finish() called twice')
    this.done = true
    if (this.leaves === 0) return { root: { cid: EMPTY_FILE_CID, size: 0, tsize: 0, type: 'file' }, blocks: [] }
    const blocks: Block[] = []
    for (let i = 0; ; i++) {
      const pending = this.levels[i] ?? []
      // The importer links level after level until one node is left; a lone leaf is its own root.
      if (this.counts[i] === 1) {
        const root = pending[0] as NodeRef
        this.levels.length = 0
        return { root, blocks }
      }
      if (pending.length > 0) {
        this.levels[i] = []
        this.link(i, pending, blocks)
      }
    }
  }

  private add (level: number, ref: NodeRef, out: Block[]): void {
    let pending = this.levels[level]
    if (pending === undefined) {
      pending = []
      this.levels[level] = pending
      this.counts[level] = 0
    }
    pending.push(ref)
    this.counts[level] = (this.counts[level] ?? 0) + 1
    if (pending.length === this.maxChildren) {
      this.levels[level] = []
      this.link(level, pending, out)
    }
  }

  /** Makes one file node over `children` and adds it to the level above. */
  private link (level: number, children: NodeRef[], out: Block[]): void {
    const { ref, block } = fileNode(children)
    out.push(block)
    this.add(level + 1, ref, out)
  }
}

/** One UnixFS file node linking `children` in order, like the importer's reducer. */
function fileNode (children: NodeRef[]): { ref: NodeRef, block: Block } {
  const unixfs = new UnixFS({ type: 'file' })
  const links: PBLink[] = []
  let size = 0
  for (const child of children) {
    unixfs.addBlockSize(BigInt(child.size))
    links.push({ Name: '', Tsize: child.tsize, Hash: child.cid })
    size += child.size
  }
  const block = encodeNode(unixfs.marshal(), links)
  return { ref: { cid: block.cid, size, tsize: block.bytes.byteLength + sumTsize(links), type: 'file' }, block }
}

/** The DAG of a whole in-memory file: its root, its file nodes and its raw leaves (tests, small files). */
export function buildFile (content: Uint8Array, options: FileLayoutOptions = {}): BuildResult & { leaves: Block[] } {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
  const builder = new FileBuilder({ ...options, chunkSize })
  const blocks: Block[] = []
  const leaves: Block[] = []
  for (let offset = 0; offset < content.byteLength; offset += chunkSize) {
    const bytes = content.subarray(offset, Math.min(offset + chunkSize, content.byteLength))
    const ref = leafRef(sha256(bytes), bytes.byteLength)
    leaves.push({ cid: ref.cid, bytes })
    blocks.push(...builder.push(ref))
  }
  const result = builder.finish()
  blocks.push(...result.blocks)
  return { root: result.root, blocks, leaves }
}
