/** How a client turns what goes wrong on a stream into the FerryError its caller sees. */
import { FerryError, UNSUPPORTED_PROTOCOL, errorMessage, errorName } from '@ferry/errors'
import type { ErrorMessage } from './messages.js'

/** Maps an ERROR frame from a peer to the FerryError a caller sees. */
export function errorFromWire (msg: ErrorMessage, peer: string): FerryError {
  const details = { peer, wireCode: msg.code }
  switch (msg.code) {
    case 'denied': return new FerryError('ERR_PEER_REFUSED', msg.message, { details })
    case 'timeout': return new FerryError('ERR_TIMEOUT', `Peer ${peer} ended the stream: ${msg.message}`, { details })
    case 'protocol':
    case 'limit': return new FerryError('ERR_PROTOCOL', `Peer ${peer} rejected our request: ${msg.message}`, { details })
    default: return new FerryError('ERR_NETWORK', `Peer ${peer} failed: ${msg.message}`, { details })
  }
}

/** Maps what opening a stream threw to a FerryError (ERR_NETWORK with `details.problem` UNSUPPORTED_PROTOCOL for a refused protocol). */
export function dialError (err: unknown, peer: string, protocol: string): FerryError {
  if (err instanceof FerryError) return err
  const name = errorName(err)
  const reason = errorMessage(err)
  if (name === 'UnsupportedProtocolError') {
    return new FerryError('ERR_NETWORK', `Peer ${peer} does not serve ${protocol} (not a Ferry daemon, or another version)`, { cause: err, details: { peer, protocol, problem: UNSUPPORTED_PROTOCOL } })
  }
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new FerryError('ERR_TIMEOUT', `Timed out connecting to peer ${peer}`, { cause: err, details: { peer } })
  }
  return new FerryError('ERR_NETWORK', `Cannot reach peer ${peer}: ${reason}`, { cause: err, details: { peer } })
}
