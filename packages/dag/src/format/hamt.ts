import { FerryError } from '@ferry/errors'
import { murmur364 } from '@multiformats/murmur3'
import { UnixFS } from 'ipfs-unixfs'
import { encodeNode, sumTsize, type Block, type NodeRef } from './cid.js'
import { MURMUR3_X64_64_CODE } from './constants.js'
import { utf8 } from './names.js'
import type { PBLink } from '@ipld/dag-pb'

/** murmur3-x64-64 of some bytes: the first 8 bytes of murmur3-x64-128, in the hash's own byte order. */
function murmur64 (bytes: Uint8Array): Uint8Array {
  const out = murmur364.encode(bytes)
  if (!(out instanceof Uint8Array)) throw new FerryError('ERR_INTERNAL', 'murmur3 is expected to hash synchronously')
  return out
}

/**
 * The endless bit string a HAMT indexes a name by: murmur3-x64-64(name) read most significant bit first,
 * then murmur3-x64-64(name ‖ [1]), murmur3-x64-64(name ‖ [2]), ... (the extra byte is the round, mod 256),
 * as hamt-sharding's InfiniteHash consumes it. Level d of a shard with `bits` fanout bits uses bits
 * [d·bits, (d+1)·bits) of this string as the slot index.
 */
export class NameHash {
  private readonly key: Uint8Array
  private readonly rounds: Uint8Array[] = []

  constructor (name: string) {
    this.key = utf8(name)
  }

  /** Slot index of the name at shard depth `depth` (0 = shard root). */
  index (depth: number, bits: number): number {
    let result = 0
    let pos = depth * bits
    for (let k = 0; k < bits; k++, pos++) {
      const round = this.round(Math.floor(pos / 64))
      const bit = pos % 64
      result = result * 2 + (((round[bit >> 3] as number) >> (7 - (bit & 7))) & 1)
    }
    return result
  }

  private round (n: number): Uint8Array {
    while (this.rounds.length <= n) {
      const r = this.rounds.length
      if (r === 0) {
        this.rounds.push(murmur64(this.key))
      } else {
        const input = new Uint8Array(this.key.byteLength + 1)
        input.set(this.key)
        input[this.key.byteLength] = r & 0xff
        this.rounds.push(murmur64(input))
      }
    }
    return this.rounds[n] as Uint8Array
  }
}

/** The slot `name` falls in at HAMT depth `depth` (0 = shard root) of a shard with `fanoutBits` bits. */
export function hamtSlot (name: string, depth: number, fanoutBits: number): number {
  return new NameHash(name).index(depth, fanoutBits)
}

/** Hex digits in every link label of a shard with this many fanout bits (2 for 256 slots). */
export function labelLength (bits: number): number {
  return (2 ** bits - 1).toString(16).length
}

/** A link label's slot prefix: upper-case hex, zero-padded to labelLength(bits). */
export function slotLabel (index: number, bits: number): string {
  return index.toString(16).toUpperCase().padStart(labelLength(bits), '0')
}

/**
 * The shard node's `Data` bitfield: bit i set when slot i is used, as the big-endian bytes of that number
 * with leading zero bytes dropped (what the importer writes: sparse-array's little-endian field, reversed).
 */
export function bitfieldBytes (slots: number[], bits: number): Uint8Array {
  const little = new Uint8Array(Math.max(1, Math.ceil(2 ** bits / 8)))
  for (const slot of slots) little[slot >> 3] = (little[slot >> 3] as number) | (1 << (slot & 7))
  let length = little.length
  while (length > 1 && little[length - 1] === 0) length--
  return little.subarray(0, length).reverse()
}

/** The slots set in a shard's bitfield (the inverse of bitfieldBytes). */
export function bitfieldSlots (data: Uint8Array): number[] {
  const slots: number[] = []
  for (let i = 0; i < data.byteLength; i++) {
    const byte = data[data.byteLength - 1 - i] as number
    for (let b = 0; b < 8; b++) if ((byte & (1 << b)) !== 0) slots.push(i * 8 + b)
  }
  return slots
}

interface ShardItem {
  name: string
  ref: NodeRef
  hash: NameHash
}

/**
 * A HAMT-sharded directory over `entries` (unique, valid names), laid out as hamt-sharding lays it out
 * whatever the insertion order: a slot holding one name links it as `LABEL + name`, a slot shared by several
 * names links a sub-shard as `LABEL`, which splits them by the next `bits` bits of their hashes.
 * Blocks come children first, the shard root last.
 */
export function buildShard (entries: Array<{ name: string, ref: NodeRef }>, bits: number): { root: NodeRef, blocks: Block[] } {
  const blocks: Block[] = []
  const items = entries.map(e => ({ name: e.name, ref: e.ref, hash: new NameHash(e.name) }))
  const root = shardNode(items, 0, bits, blocks)
  return { root, blocks }
}

function shardNode (items: ShardItem[], depth: number, bits: number, blocks: Block[]): NodeRef {
  const slots = new Map<number, ShardItem[]>()
  for (const item of items) {
    const index = item.hash.index(depth, bits)
    const group = slots.get(index)
    if (group === undefined) slots.set(index, [item])
    else group.push(item)
  }
  const used = [...slots.keys()].sort((a, b) => a - b)
  const links: PBLink[] = []
  for (const index of used) {
    const group = slots.get(index) as ShardItem[]
    const label = slotLabel(index, bits)
    if (group.length === 1) {
      const only = group[0] as ShardItem
      links.push({ Name: label + only.name, Tsize: only.ref.tsize, Hash: only.ref.cid })
    } else {
      const sub = shardNode(group, depth + 1, bits, blocks)
      links.push({ Name: label, Tsize: sub.tsize, Hash: sub.cid })
    }
  }
  const unixfs = new UnixFS({
    type: 'hamt-sharded-directory',
    data: bitfieldBytes(used, bits),
    fanout: BigInt(2 ** bits),
    hashType: BigInt(MURMUR3_X64_64_CODE)
  })
  const block = encodeNode(unixfs.marshal(), links)
  blocks.push(block)
  return { cid: block.cid, size: 0, tsize: block.bytes.byteLength + sumTsize(links) }
}
