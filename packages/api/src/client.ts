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
  request: <T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) => Promise<T>
}

/** A client for the API at `base` (from daemon.json) of the home in `dir`. ERR_UNAUTHORIZED if the home has no token. */
export async function apiClient (dir: string, base: string): Promise<ApiClient> {
  const token = await readApiToken(dir)
  if (token === undefined) throw new FerryError('ERR_UNAUTHORIZED', `${dir} has no api-token: is the daemon a Ferry without the API?`)
  return {
    base,
    async request<T> (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
      let res: Response
      try {
        res = await fetch(new URL(path, base), {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS)
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
