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

/** Live events: calls `onEvent` per event, `onStatus` when the stream opens or drops (EventSource reconnects). */
export function subscribe (onEvent: (e: DaemonEvent) => void, onStatus: (live: boolean) => void): () => void {
  const source = new EventSource('/v1/events')
  const handler = (m: MessageEvent<string>): void => {
    try {
      onEvent(JSON.parse(m.data) as DaemonEvent)
    } catch {
      // not JSON: ignore it, as unknown events are
    }
  }
  for (const type of EVENT_TYPES) source.addEventListener(type, handler)
  source.onmessage = handler
  source.onopen = () => { onStatus(true) }
  source.onerror = () => { onStatus(false) }
  return () => { source.close() }
}
