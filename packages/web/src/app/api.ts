/**
 * The page's side of the daemon's API: JSON requests with the session cookie (same origin), errors as
 * `ApiError` carrying the API's `{ error: { code, message } }`, and one EventSource for /v1/events.
 */

/** An error answer of the API, or a network failure (code ERR_NETWORK). */
export class ApiError extends Error {
  constructor (readonly code: string, message: string, readonly status: number) {
    super(message)
  }
}

/** Calls the API; resolves to the JSON body, rejects with ApiError. */
export async function request<T> (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  let res: Response
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
  } catch (err) {
    throw new ApiError('ERR_NETWORK', `The daemon does not answer (${(err as Error).message}): is it still running?`, 0)
  }
  const value = await res.json().catch(() => undefined) as { error?: { code?: string, message?: string } } | undefined
  if (res.ok) return value as T
  throw new ApiError(value?.error?.code ?? 'ERR_INTERNAL', value?.error?.message ?? `The daemon answered ${res.status} to ${method} ${path}`, res.status)
}

/** A daemon event from /v1/events. */
export interface DaemonEvent { type: string, id: number, at: string, [k: string]: unknown }

/** Event types the page listens for (EventSource delivers a named event only to its own listener). */
export const EVENT_TYPES = ['peer:connected', 'peer:disconnected', 'peer:unreachable', 'peer:refused', 'task:updated', 'task:event']

/** After the server closed the event stream (EventSource gives up on an HTTP error), try again after this. */
export const REOPEN_EVENTS_MS = 5000

/**
 * Live events: calls `onEvent` per event, `onStatus` when the stream opens or drops. EventSource reconnects
 * by itself after a network error; after an HTTP error (a 401 once the session ended, a 503 while the daemon
 * stops) it gives up, and this opens a new one REOPEN_EVENTS_MS later, unless `mayReopen` says not to (the
 * session ended: asking again would only be refused). Returns a function that stops.
 */
export function subscribe (onEvent: (e: DaemonEvent) => void, onStatus: (live: boolean) => void, mayReopen: () => boolean): () => void {
  let source: EventSource | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  const handler = (m: MessageEvent<string>): void => {
    try {
      onEvent(JSON.parse(m.data) as DaemonEvent)
    } catch {
      // not JSON: ignore it, as unknown events are
    }
  }
  const open = (): void => {
    const s = new EventSource('/v1/events')
    source = s
    for (const type of EVENT_TYPES) s.addEventListener(type, handler)
    s.onmessage = handler
    s.onopen = () => { onStatus(true) }
    s.onerror = () => {
      onStatus(false)
      if (s.readyState === EventSource.CLOSED && timer === undefined) timer = setTimeout(() => { timer = undefined; if (mayReopen()) open() }, REOPEN_EVENTS_MS)
    }
  }
  open()
  return () => {
    clearTimeout(timer)
    source?.close()
  }
}
