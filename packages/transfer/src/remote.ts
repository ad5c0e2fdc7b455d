import { FerryError, isFerryError } from '@ferry/errors'
import type { GetBlock } from '@ferry/dag'
import type { CID } from 'multiformats/cid'
import type { PullContext } from './context.js'
import type { PeerState } from './peers.js'
import type { BlockPeer } from './types.js'

/** ERR_NETWORK naming each peer's last error. */
export function noPeers (ctx: PullContext, what: string): FerryError {
  const why = ctx.peers.map((p) => `${p.spec.label}: ${p.lastError ?? p.status}`).join('; ')
  return new FerryError('ERR_NETWORK', `Could not get ${what} from any peer${why !== '' ? ` (${why})` : ': no --from given'}`)
}

/** Every peer answered and none holds `what`: not a network failure (ERR_ROOT_NOT_FOUND, exit 7). */
function notHeld (what: string, root: CID, lacking: PeerState[]): FerryError {
  const who = lacking.map((p) => p.name).join(', ')
  const hint = what.startsWith('the scan') ? ' (is it the root of a scan? A file\'s CID is not: `ferry ls` at the source lists its scans\' roots)' : ''
  return new FerryError('ERR_ROOT_NOT_FOUND', `No peer holds ${what}: ${who} answered that ${lacking.length === 1 ? 'it does' : 'they do'} not have it${hint}`, { details: { root: root.toString(), peers: lacking.map((p) => p.name) } })
}

/**
 * Runs `fn` against each usable peer in turn until one answers (not undefined); retries peers that are down
 * with backoff until the deadline. ERR_ROOT_NOT_FOUND when every peer answered that it lacks `what`.
 */
export async function fromAnyPeer<T> (ctx: PullContext, what: string, fn: (peer: BlockPeer, state: PeerState) => Promise<T | undefined>): Promise<T> {
  const { peers, signal } = ctx
  const until = Date.now() + ctx.deadlineMs
  for (;;) {
    let anyUsable = false
    const lacking = new Set<PeerState>() // peers that answered and do not hold it
    for (const state of peers) {
      if (!state.usable) continue
      anyUsable = true
      const peer = await state.connect(signal)
      if (peer == null) continue
      try {
        const out = await fn(peer, state)
        if (out !== undefined) return out
      } catch (err) {
        if (signal.aborted) throw err
        if (isFerryError(err, 'ERR_ROOT_NOT_FOUND') || isFerryError(err, 'ERR_BLOCK_NOT_FOUND')) { lacking.add(state); continue }
        state.fail(err)
      }
    }
    const down = peers.filter((p) => p.status === 'down')
    if (anyUsable && lacking.size > 0 && lacking.size === peers.filter((p) => p.usable).length) throw notHeld(what, ctx.root, [...lacking])
    if (!anyUsable || down.length === 0 || Date.now() > until) throw noPeers(ctx, what)
    await down[0]?.waitBackoff(signal)
  }
}

/**
 * A GetBlock over the local inner-block store, else any peer; every block fetched is kept (so this node can
 * serve it and re-plan offline) and every CID asked for is added to `seen` (the scan's inner nodes).
 */
export function blockSource (ctx: PullContext, seen: Map<string, CID>): GetBlock {
  const { blocks, signal } = ctx
  return async (cid) => {
    seen.set(cid.toString(), cid)
    if (await blocks.has(cid)) return await blocks.get(cid, { signal })
    const bytes = await fromAnyPeer(ctx, `block ${cid.toString()}`, async (peer, state) => {
      const r = await peer.get(cid, { signal })
      if (r.status === 'ok') return r.bytes
      if (r.status === 'bad') state.ban(r.message ?? `sent a block that does not match ${cid.toString()}`)
      if (r.status === 'denied') state.fail(new FerryError('ERR_PEER_REFUSED', r.message ?? `${peer.id} refused the request`))
      if (r.status === 'missing') throw new FerryError('ERR_BLOCK_NOT_FOUND', `${peer.id} does not have block ${cid.toString()}`)
      return undefined
    })
    await blocks.put({ cid, bytes })
    return bytes
  }
}
