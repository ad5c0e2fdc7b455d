/** The store's way to call the API: `request` that notes a 401 for the page's banner; errors in words. */
import { ApiError, request } from './api.js'

/** What `guard` needs of the page's state. */
export interface SessionState { loggedOut: boolean }

/** An error in the words the page shows. */
export function message (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** `request`, noting a 401 (the session ended: the daemon restarted, or it expired) for the page's banner. */
export function guard (state: SessionState, render: () => void) {
  return async <T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> => {
    try {
      return await request<T>(method, path, body)
    } catch (err) {
      if (err instanceof ApiError && err.status === 401 && !state.loggedOut) {
        state.loggedOut = true
        render()
      }
      throw err
    }
  }
}
