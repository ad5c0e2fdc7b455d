/**
 * A strict decoder for the UnixFS `Data` protobuf of a dag-pb node. ipfs-unixfs's own unmarshal drops
 * `hashType` and turns unknown types into 'file', so the reader decodes the message itself.
 *
 *   message Data { required DataType Type = 1; optional bytes Data = 2; optional uint64 filesize = 3;
 *     repeated uint64 blocksizes = 4; optional uint64 hashType = 5; optional uint64 fanout = 6;
 *     optional uint32 mode = 7; optional UnixTime mtime = 8; }
 */

/** UnixFS node types, by their protobuf number. */
export const UNIXFS_TYPES = ['raw', 'directory', 'file', 'metadata', 'symlink', 'hamt-sharded-directory'] as const
export type UnixFSType = typeof UNIXFS_TYPES[number]

/** The fields of a UnixFS Data message that the reader uses. */
export interface UnixFSData {
  type: UnixFSType
  data?: Uint8Array
  fileSize?: number
  blockSizes: number[]
  hashType?: number
  fanout?: number
  mode?: number
  hasMtime: boolean
}

/** Thrown for malformed messages; the reader wraps it into ERR_BAD_BLOCK. */
export class UnixFSDecodeError extends Error {}

function readVarint (bytes: Uint8Array, pos: number): [number, number] {
  let value = 0
  let scale = 1
  for (let i = 0; i < 10; i++) {
    if (pos >= bytes.byteLength) throw new UnixFSDecodeError('truncated varint')
    const b = bytes[pos++] as number
    value += (b & 0x7f) * scale
    if (b < 0x80) {
      if (!Number.isSafeInteger(value)) throw new UnixFSDecodeError('integer too large')
      return [value, pos]
    }
    scale *= 128
  }
  throw new UnixFSDecodeError('varint too long')
}

/** Decodes a UnixFS Data message; throws UnixFSDecodeError on anything malformed or duplicated. */
export function decodeUnixFS (bytes: Uint8Array): UnixFSData {
  let pos = 0
  let type: number | undefined
  const out: UnixFSData = { type: 'file', blockSizes: [], hasMtime: false }
  const seen = new Set<number>()
  while (pos < bytes.byteLength) {
    let key: number
    ;[key, pos] = readVarint(bytes, pos)
    const field = Math.floor(key / 8)
    const wire = key & 7
    if (field === 0) throw new UnixFSDecodeError('field number 0')
    if (field !== 4) {
      if (seen.has(field)) throw new UnixFSDecodeError(`duplicate field ${field}`)
      seen.add(field)
    }
    const expectBytes = field === 2 || field === 8
    if (field >= 1 && field <= 8 && wire !== (expectBytes ? 2 : 0)) {
      throw new UnixFSDecodeError(`field ${field} has wire type ${wire}`)
    }
    if (wire === 0) {
      let value: number
      ;[value, pos] = readVarint(bytes, pos)
      switch (field) {
        case 1: type = value; break
        case 3: out.fileSize = value; break
        case 4: out.blockSizes.push(value); break
        case 5: out.hashType = value; break
        case 6: out.fanout = value; break
        case 7: out.mode = value; break
        default: break // unknown varint field: skipped, as protobuf requires
      }
    } else if (wire === 2) {
      let length: number
      ;[length, pos] = readVarint(bytes, pos)
      if (pos + length > bytes.byteLength) throw new UnixFSDecodeError('truncated bytes field')
      const value = bytes.subarray(pos, pos + length)
      pos += length
      if (field === 2) out.data = value
      else if (field === 8) out.hasMtime = true
    } else if (wire === 1) {
      pos += 8
    } else if (wire === 5) {
      pos += 4
    } else {
      throw new UnixFSDecodeError(`unsupported wire type ${wire}`)
    }
    if (pos > bytes.byteLength) throw new UnixFSDecodeError('truncated field')
  }
  if (type === undefined) throw new UnixFSDecodeError('missing Type')
  const name = UNIXFS_TYPES[type]
  if (name === undefined) throw new UnixFSDecodeError(`unknown UnixFS type ${type}`)
  out.type = name
  return out
}
