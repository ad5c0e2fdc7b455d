/**
 * Browser sessions for the web page: `ferry web` asks the daemon for a one-time login token
 * (POST /v1/login-tokens), the browser trades it at /login for an HttpOnly, SameSite=Strict cookie holding a
 * session ID. Both live in this daemon's memory only: a restart logs every browser out (run `ferry web`
 * again). Bounded: at most MAX_SESSIONS sessions and MAX_LOGIN_TOKENS pending tokens, the oldest dropped.
 */
import { createHash, randomBytes } from 'node:crypto'

/** How long a login token from `ferry web` may wait to be used. */
export const LOGIN_TOKEN_TTL_MS = 10 * 60_000

/** How long a browser session lasts without being used. */
export const SESSION_IDLE_MS = 7 * 24 * 3600_000

/** Pending login tokens kept; older ones are forgotten. */
export const MAX_LOGIN_TOKENS = 32

/** Sessions kept; the least recently used is dropped. */
export const MAX_SESSIONS = 64

/** The daemon's login tokens and sessions. */
export interface Sessions {
  /** A new one-time login token, valid for LOGIN_TOKEN_TTL_MS. */
  issue: () => { token: string, expires: number }
  /** Uses up a login token: a new session ID, or undefined if the token is unknown, used or expired. */
  redeem: (token: string) => string | undefined
  /** Whether `id` is a live session (and marks it used). */
  valid: (id: string) => boolean
}

function key (secret: string): string {
  return createHash('sha256').update(secret).digest('base64url')
}

/** Drops expired entries and, beyond `max`, the oldest (Map order is insertion order). */
function prune (map: Map<string, number>, max: number, now: number): void {
  for (const [k, until] of map) if (until <= now) map.delete(k)
  while (map.size > max) map.delete(map.keys().next().value as string)
}

/** A fresh, empty set of sessions (one per API app). `now` is for tests. */
export function createSessions (now: () => number = Date.now): Sessions {
  // keyed by a hash of the secret, so a lookup is a Map hit on a value an attacker cannot choose to collide
  const tokens = new Map<string, number>()
  const sessions = new Map<string, number>()
  return {
    issue () {
      const token = randomBytes(32).toString('base64url')
      const expires = now() + LOGIN_TOKEN_TTL_MS
      tokens.set(key(token), expires)
      prune(tokens, MAX_LOGIN_TOKENS, now())
      return { token, expires }
    },
    redeem (token) {
      const k = key(token)
      const until = tokens.get(k)
      tokens.delete(k)
      if (until === undefined || until <= now()) return undefined
      const id = randomBytes(32).toString('base64url')
      sessions.set(key(id), now() + SESSION_IDLE_MS)
      prune(sessions, MAX_SESSIONS, now())
      return id
    },
    valid (id) {
      const k = key(id)
      const until = sessions.get(k)
      if (until === undefined || until <= now()) return false
      sessions.delete(k)
      sessions.set(k, now() + SESSION_IDLE_MS)
      return true
    }
  }
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function cookieValue (header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim()
  }
  return undefined
}
