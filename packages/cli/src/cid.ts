import { CID } from 'multiformats/cid'
import { FerryError } from '@ferry/errors'

/** Parses a root given on the command line, with a message that says what was wrong. */
export function parseRoot (text: string): CID {
  try {
    return CID.parse(text.trim())
  } catch (err) {
    throw new FerryError('ERR_INVALID_CID', `Not a valid root CID: '${text}' (expected something like bafybei...)`, { cause: err })
  }
}
