/**
 * The daemon's event bus: what happens in the daemon (peers connecting and leaving now; tasks' progress
 * later), published once and delivered to every subscriber (the HTTP API's server-sent events). Delivery is
 * synchronous and never throws into the publisher; a subscriber that is slow must buffer (and bound) itself.
 */

/** A peer's connection changed, or a check of it failed. `peer` is its PeerId. */
export type PeerEvent =
  | { type: 'peer:connected', peer: string }
  | { type: 'peer:disconnected', peer: string }
  | { type: 'peer:unreachable', peer: string, reason: string }
  | { type: 'peer:refused', peer: string, reason: string }

/** Every event the daemon publishes. */
export type DaemonEventBody = PeerEvent

/** An event as delivered: with a sequence number (increasing from 1) and its time (ISO 8601). */
export type DaemonEvent = DaemonEventBody & { id: number, at: string }

/** Publish and subscribe, one per daemon. */
export interface EventBus {
  publish: (event: DaemonEventBody) => void
  /** Calls `fn` for every event from now on; returns the unsubscribe function. */
  subscribe: (fn: (event: DaemonEvent) => void) => () => void
  /** Subscribers now. */
  readonly size: number
}

/** A new, empty bus. `onError` hears a subscriber that threw (default: ignored). */
export function createEventBus (onError: (err: unknown) => void = () => {}): EventBus {
  const subscribers = new Set<(event: DaemonEvent) => void>()
  let next = 1
  return {
    publish (body) {
      const event: DaemonEvent = { ...body, id: next++, at: new Date().toISOString() }
      for (const fn of [...subscribers]) {
        try {
          fn(event)
        } catch (err) {
          onError(err)
        }
      }
    },
    subscribe (fn) {
      subscribers.add(fn)
      return () => { subscribers.delete(fn) }
    },
    get size () { return subscribers.size }
  }
}
