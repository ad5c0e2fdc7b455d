/**
 * `PeerBook`: what the daemon knows of each peer's reachability, from libp2p's connection events and from
 * its own checks. A check dials a named peer's addresses in turn and, once connected, asks it for the record
 * of a root nobody holds: "not found" means it serves us, a refusal means it does not trust us (its message
 * is kept). The daemon checks every named peer at start, a newly added one at once, and the ones not
 * connected every PEER_CHECK_INTERVAL_MS.
 */
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { isFerryError, errorMessage } from '@ferry/errors'
import { PEER_CHECK_INTERVAL_MS, PEER_CHECK_TIMEOUT_MS } from './constants.js'
import type { EventBus } from './events.js'
import type { FerryNode } from './node.js'
import type { NamedPeer } from './peers.js'

/** A peer's state as the daemon sees it. */
export type PeerStateName = 'connected' | 'disconnected' | 'unreachable' | 'refused' | 'unknown'

/** A peer's state, its start and (unreachable, refused) the reason. */
export interface PeerState {
  state: PeerStateName
  /** When this state began (ISO 8601); null for unknown. */
  since: string | null
  /** Why it is unreachable or what its refusal said; null otherwise. */
  reason: string | null
}

interface Facts {
  connected?: string
  disconnected?: string
  failure?: { since: string, reason: string }
  refusal?: { since: string, reason: string }
}

/** Options of `createPeerBook`. */
export interface PeerBookInit {
  node: Pick<FerryNode, 'libp2p' | 'dialPeer'>
  events: EventBus
  /** The named peers to check now (read fresh from config.json each round). */
  peers: () => Promise<NamedPeer[]>
  /** Between rounds of checks; default PEER_CHECK_INTERVAL_MS. 0 = no periodic checks. */
  intervalMs?: number
  /** Per dial; default PEER_CHECK_TIMEOUT_MS. */
  timeoutMs?: number
}

/** The daemon's peer states. */
export interface PeerBook {
  /** The state of the peer with this PeerId. */
  state: (id: string) => PeerState
  /** Dials `peer` now and records the outcome. */
  check: (peer: NamedPeer) => Promise<PeerState>
  /** Checks every named peer not connected (refused ones too: trust may have come). */
  checkAll: () => Promise<void>
  stop: () => void
}

/** Peers remembered at most; past this the memory starts over (inbound peers could grow it without end). */
const MAX_PEERS = 10_000

/** The root a check asks for: dag-pb, sha2-256 of a fixed text, so no scan has it. */
const PROBE_ROOT = CID.createV1(0x70, createDigest(0x12, createHash('sha256').update('ferry peer check: a root nobody holds').digest()))

function stateOf (f: Facts | undefined): PeerState {
  if (f?.refusal !== undefined) return { state: 'refused', since: f.refusal.since, reason: f.refusal.reason }
  if (f?.connected !== undefined) return { state: 'connected', since: f.connected, reason: null }
  if (f?.failure !== undefined) return { state: 'unreachable', since: f.failure.since, reason: f.failure.reason }
  if (f?.disconnected !== undefined) return { state: 'disconnected', since: f.disconnected, reason: null }
  return { state: 'unknown', since: null, reason: null }
}

/** Dials `peer`'s addresses in turn and asks for PROBE_ROOT; records the outcome in `f`, publishing changes. */
async function checkPeer (node: PeerBookInit['node'], events: EventBus, f: Facts, peer: NamedPeer, timeoutMs: number): Promise<PeerState> {
  let reason = 'no address to dial'
  for (const addr of peer.addrs) {
    try {
      const client = await node.dialPeer(addr, { signal: AbortSignal.timeout(timeoutMs) })
      try {
        await client.getScan(PROBE_ROOT, { signal: AbortSignal.timeout(timeoutMs) })
      } catch (err) {
        if (isFerryError(err, 'ERR_PEER_REFUSED')) {
          const message = (err as Error).message
          if (f.refusal?.reason !== message) events.publish({ type: 'peer:refused', peer: peer.id, reason: message })
          f.refusal = { since: f.refusal?.since ?? new Date().toISOString(), reason: message }
          return stateOf(f)
        }
        if (!isFerryError(err, 'ERR_ROOT_NOT_FOUND')) throw err
      } finally {
        await client.close()
      }
      f.refusal = undefined
      f.failure = undefined
      return stateOf(f)
    } catch (err) {
      reason = errorMessage(err)
    }
  }
  if (f.failure === undefined) events.publish({ type: 'peer:unreachable', peer: peer.id, reason })
  f.failure = { since: f.failure?.since ?? new Date().toISOString(), reason }
  return stateOf(f)
}

/** Starts tracking the node's peers (and, unless intervalMs is 0, checking them periodically). */
export function createPeerBook (init: PeerBookInit): PeerBook {
  const { node, events } = init
  const facts = new Map<string, Facts>()
  const get = (id: string): Facts => {
    let f = facts.get(id)
    if (f === undefined) {
      if (facts.size >= MAX_PEERS) facts.clear()
      f = {}
      facts.set(id, f)
    }
    return f
  }
  const onConnect = (evt: CustomEvent<{ toString: () => string }>): void => {
    const f = get(evt.detail.toString())
    f.connected = new Date().toISOString()
    f.failure = undefined
    events.publish({ type: 'peer:connected', peer: evt.detail.toString() })
  }
  const onDisconnect = (evt: CustomEvent<{ toString: () => string }>): void => {
    const f = get(evt.detail.toString())
    f.connected = undefined
    f.disconnected = new Date().toISOString()
    events.publish({ type: 'peer:disconnected', peer: evt.detail.toString() })
  }
  node.libp2p.addEventListener('peer:connect', onConnect)
  node.libp2p.addEventListener('peer:disconnect', onDisconnect)

  const check = async (peer: NamedPeer): Promise<PeerState> => await checkPeer(node, events, get(peer.id), peer, init.timeoutMs ?? PEER_CHECK_TIMEOUT_MS)

  let stopped = false
  const checkAll = async (): Promise<void> => {
    const peers = await init.peers().catch(() => [])
    for (const p of peers) {
      if (stopped) return
      if (stateOf(facts.get(p.id)).state !== 'connected') await check(p).catch(() => {})
    }
  }
  const interval = init.intervalMs ?? PEER_CHECK_INTERVAL_MS
  const timer = interval > 0 ? setInterval(() => { void checkAll() }, interval) : undefined
  timer?.unref()
  return {
    state: (id) => stateOf(facts.get(id)),
    check,
    checkAll,
    stop () {
      stopped = true
      if (timer !== undefined) clearInterval(timer)
      node.libp2p.removeEventListener('peer:connect', onConnect)
      node.libp2p.removeEventListener('peer:disconnect', onDisconnect)
    }
  }
}
