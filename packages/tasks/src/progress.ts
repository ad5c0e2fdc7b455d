import type { TaskPatch, TaskRecord } from '@ferry/store'
import type { PullProgressEvent } from '@ferry/transfer'

/** A running task's counters, folded from its pull's progress events. */
export interface Tally {
  onProgress: (event: PullProgressEvent) => void
  /** The counters now (bytes over every run, active time including this run). */
  snapshot: () => TaskPatch
  /** Something changed since the last `snapshot`. */
  readonly dirty: boolean
  /** Files of the scan not in place yet (as far as this run knows). */
  readonly pending: number
  /** The last thing a peer failed with in this run ("<peer>: down (<why>)"), if any. */
  readonly lastPeerError: string | undefined
}

/** Peer states worth a line in the task's log (the 'retrying' ticks are not: the 'down' says it). */
const LOGGED_PEER_STATES = new Set(['down', 'refused', 'banned', 'connected'])

/**
 * Folds one run's events into `task`'s counters: `pull:plan` sets files, bytes and what is pending,
 * `pull:file` moves a file to succeeded, `pull:bytes`/`pull:local` add to bytesTransferred (`pull:bytes`
 * also to its peer's fromPeers, the task's bytes per source over every run). Peer state
 * changes go to `log` (a peer that comes back after being down, not every first connection).
 */
export function createTally (task: TaskRecord, activeMsBefore: number, log: (kind: string, message: string, data?: Record<string, unknown>) => void): Tally {
  const started = Date.now()
  let files = task.files
  let bytesTotal = task.bytesTotal
  let pending = task.pending
  let succeeded = task.succeeded
  let runBytes = 0
  const fromPeers: Record<string, number> = { ...task.fromPeers }
  let dirty = false
  const down = new Set<string>()
  let lastPeerError: string | undefined
  const onPeer = (peer: string, state: string, message?: string): void => {
    if (state !== 'connected' && state !== 'retrying') lastPeerError = `${peer}: ${state}${message !== undefined ? ` (${message})` : ''}`
    if (!LOGGED_PEER_STATES.has(state)) return
    if (state === 'connected' && !down.delete(peer)) return
    if (state === 'down') {
      if (down.has(peer)) return
      down.add(peer)
    }
    log('peer', `${peer}: ${state}${message !== undefined ? ` (${message})` : ''}`, { peer, state })
  }
  return {
    onProgress: (e) => {
      dirty = true
      switch (e.type) {
        case 'pull:plan':
          files = e.files
          bytesTotal = e.bytes
          pending = e.missingFiles
          succeeded = e.files - e.missingFiles
          break
        case 'pull:file':
          succeeded++
          pending = Math.max(0, pending - 1)
          break
        case 'pull:bytes':
          fromPeers[e.peer] = (fromPeers[e.peer] ?? 0) + e.bytes
          runBytes += e.bytes
          break
        case 'pull:local':
          runBytes += e.bytes
          break
        case 'pull:peer':
          onPeer(e.peer, e.state, e.message)
          break
        default:
          break
      }
    },
    snapshot: () => {
      dirty = false
      return { files, bytesTotal, pending, succeeded, bytesTransferred: task.bytesTransferred + runBytes, fromPeers: { ...fromPeers }, activeMs: activeMsBefore + Date.now() - started }
    },
    get dirty () { return dirty },
    get pending () { return pending },
    get lastPeerError () { return lastPeerError }
  }
}
