/**
 * A small client of the daemon's API for the CLI: finds the running daemon (daemon.json), reads the token
 * and turns error answers back into FerryErrors. Loads no server code.
 */
import { FerryError, type ErrorCode, ErrorCodes } from '@ferry/errors'
import { readApiToken } from './token.js'

/** Longest a CLI request to the daemon may take. */
export const CLIENT_TIMEOUT_MS = 10_000

/** Talks to the API at `base` with the token of the home in `dir`. */
export interface ApiClient {
  readonly base: string
  /** One request; `timeoutMs` (default CLIENT_TIMEOUT_MS) for the few that run long (a seal imports a scan). */
  request: <T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, timeoutMs?: number) => Promise<T>
  /**
   * GET /v1/events: the daemon's events as they come (`event` its type, `data` the event), until `signal`
   * aborts (the iteration then ends) or the stream ends (ERR_NETWORK: the daemon stopped).
   */
  events: (signal: AbortSignal) => AsyncIterable<{ event: string, data: unknown }>
}

/** One event of a text/event-stream block ("event: x\ndata: {...}"), or undefined for a comment. */
function parseFrame (block: string): { event: string, data: unknown } | undefined {
  let event: string | undefined
  let data = ''
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim()
    else if (line.startsWith('data:')) data += line.slice(5).trim()
  }
  if (event === undefined) return undefined
  try {
    return { event, data: JSON.parse(data) as unknown }
  } catch {
    return { event, data }
  }
}

async function * streamFrom (base: string, token: string, signal: AbortSignal): AsyncGenerator<{ event: string, data: unknown }> {
  let res: Response
  try {
    res = await fetch(new URL('/v1/events', base), { headers: { authorization: `Bearer ${token}` }, signal })
  } catch (err) {
    if (signal.aborted) return
    throw new FerryError('ERR_NETWORK', `Cannot reach the daemon's API at ${base}: ${(err as Error).message}`, { cause: err })
  }
  if (!res.ok || res.body === null) throw new FerryError(res.status === 401 ? 'ERR_UNAUTHORIZED' : 'ERR_NETWORK', `The daemon answered ${res.status} to GET /v1/events`)
  const decoder = new TextDecoder()
  let buf = ''
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true })
      let end
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const frame = parseFrame(buf.slice(0, end))
        buf = buf.slice(end + 2)
        if (frame !== undefined) yield frame
      }
    }
  } catch (err) {
    if (signal.aborted) return
    throw new FerryError('ERR_NETWORK', `The daemon's event stream broke: ${(err as Error).message}`, { cause: err })
  }
  if (!signal.aborted) throw new FerryError('ERR_NETWORK', 'The daemon closed its event stream (did it stop?)')
}

/** A client for the API at `base` (from daemon.json) of the home in `dir`. ERR_UNAUTHORIZED if the home has no token. */
export async function apiClient (dir: string, base: string): Promise<ApiClient> {
  const token = await readApiToken(dir)
  if (token === undefined) throw new FerryError('ERR_UNAUTHORIZED', `${dir} has no api-token: is the daemon a Ferry without the API?`)
  return {
    base,
    events: (signal) => streamFrom(base, token, signal),
    async request<T> (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, timeoutMs = CLIENT_TIMEOUT_MS): Promise<T> {
      let res: Response
      try {
        res = await fetch(new URL(path, base), {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs)
        })
      } catch (err) {
        throw new FerryError('ERR_NETWORK', `Cannot reach the daemon's API at ${base}: ${(err as Error).message}`, { cause: err })
      }
      const value = await res.json().catch(() => undefined) as { error?: { code?: string, message?: string } } | undefined
      if (res.ok) return value as T
      const code = value?.error?.code
      const known = code !== undefined && code in ErrorCodes ? code as ErrorCode : 'ERR_INTERNAL'
      throw new FerryError(known, value?.error?.message ?? `The daemon answered ${res.status} to ${method} ${path}`, { details: { status: res.status } })
    }
  }
}
