/**
 * `GET /v1/events` as server-sent events: each daemon event as `id`, `event` (its type) and `data` (the
 * event as JSON), a comment line every heartbeat so proxies and clients see the stream is alive. Each client
 * has a bounded buffer: while its socket does not drain, events queue up to `maxBuffered`; past that the
 * stream is closed (the client reconnects and re-reads state, e.g. GET /v1/peers) rather than letting a
 * stalled reader hold memory without end.
 */
import type { ServerResponse } from 'node:http'
import type { DaemonEvent, EventBus } from '@ferry/node'

/** Options of `streamEvents`. */
export interface EventStreamOptions {
  /** Between heartbeat comments; default HEARTBEAT_MS. */
  heartbeatMs?: number
  /** Events queued for a client that does not read before it is dropped; default MAX_BUFFERED_EVENTS. */
  maxBuffered?: number
}

/** A heartbeat comment every 15 s. */
export const HEARTBEAT_MS = 15_000

/** Events held for one slow client before its stream is closed. */
export const MAX_BUFFERED_EVENTS = 1024

/** One event in the text/event-stream format. */
export function eventFrame (event: DaemonEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
}

/** Streams the bus's events to `res` until the client goes away. Returns a function that ends the stream. */
export function streamEvents (res: ServerResponse, events: EventBus, options: EventStreamOptions = {}): () => void {
  const maxBuffered = options.maxBuffered ?? MAX_BUFFERED_EVENTS
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' })
  const queue: string[] = []
  let blocked = false
  let ended = false
  const write = (frame: string): void => {
    if (ended) return
    if (blocked) {
      if (queue.length >= maxBuffered) {
        end()
        return
      }
      queue.push(frame)
      return
    }
    if (!res.write(frame)) blocked = true
  }
  const onDrain = (): void => {
    blocked = false
    while (queue.length > 0 && !blocked) if (!res.write(queue.shift() as string)) blocked = true
  }
  const unsubscribe = events.subscribe((e) => { write(eventFrame(e)) })
  const heartbeat = setInterval(() => { write(': heartbeat\n\n') }, options.heartbeatMs ?? HEARTBEAT_MS)
  const end = (): void => {
    if (ended) return
    ended = true
    unsubscribe()
    clearInterval(heartbeat)
    queue.length = 0
    res.off('drain', onDrain)
    res.end()
  }
  res.on('drain', onDrain)
  res.on('close', end)
  res.write(': ferry events\n\n')
  return end
}
