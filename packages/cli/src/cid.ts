import { CID } from 'multiformats/cid'
import { FerryError } from '@ferry/errors'

/**
 * Parses a root given on the command line, with a message that says what was wrong. Only CIDs Ferry can
 * verify are accepted: sha2-256 over raw or dag-pb (an identity CID would carry its "data" unverified).
 */
export function parseRoot (text: string): CID {
  let cid: CID
  try {
    cid = CID.parse(text.trim())
  } catch (err) {
    throw new FerryError('ERR_INVALID_CID', `Not a valid root CID: '${text}' (expected something like bafybei...)`, { cause: err })
  }
  if (cid.multihash.code !== 0x12 || cid.multihash.digest.byteLength !== 32) {
    throw new FerryError('ERR_INVALID_CID', `Root ${text} uses multihash 0x${cid.multihash.code.toString(16)}: Ferry only accepts sha2-256 roots`)
  }
  if (cid.code !== 0x55 && cid.code !== 0x70) {
    throw new FerryError('ERR_INVALID_CID', `Root ${text} has codec 0x${cid.code.toString(16)}: Ferry roots are dag-pb (or raw for a single chunk)`)
  }
  return cid
}
