import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { FerryError } from '@ferry/errors'

const EXAMPLE = '/ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...'

/**
 * Checks a --from address before any work: a multiaddr ending in /p2p/<a valid PeerId>. ERR_USAGE (exit 2)
 * otherwise, with what is wrong and what it should look like: an address that cannot be parsed never
 * becomes parseable by retrying it.
 */
export function checkPeerAddr (addr: string): void {
  const hostPort = /^\[?([0-9a-fA-F:.]+|[\w.-]+)\]?:(\d+)$/.exec(addr)
  if (hostPort != null) {
    const proto = hostPort[1]?.includes(':') === true ? 'ip6' : /^[\d.]+$/.test(hostPort[1] ?? '') ? 'ip4' : 'dns'
    throw new FerryError('ERR_USAGE', `--from ${addr}: not a multiaddr; write it as /${proto}/${hostPort[1] ?? ''}/tcp/${hostPort[2] ?? ''}/p2p/<PeerId> (the peer's \`ferry id\` prints its addresses)`)
  }
  let components
  try {
    components = multiaddr(addr).getComponents()
  } catch (err) {
    throw new FerryError('ERR_USAGE', `--from ${addr}: not a multiaddr (${(err as Error).message}); one looks like ${EXAMPLE}`, { cause: err })
  }
  const p2p = components.findLast((c) => c.name === 'p2p')?.value
  if (p2p === undefined) {
    throw new FerryError('ERR_USAGE', `--from ${addr}: does not end in /p2p/<PeerId>; the peer's identity must be known to dial it (\`ferry id\` on that node prints its full addresses)`)
  }
  try {
    peerIdFromString(p2p)
  } catch (err) {
    throw new FerryError('ERR_USAGE', `--from ${addr}: "${p2p}" is not a valid PeerId (${(err as Error).message}); copy it from \`ferry id\` on that node`, { cause: err })
  }
}
