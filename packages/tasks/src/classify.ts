/**
 * Which failures end a file (or a task) at once and which are worth another try: one table, by code. A
 * permanent failure is reported with its reason and never retried by the runner (the user fixes the cause
 * and calls `retry`); a transient one is retried with capped exponential backoff until the task's deadline.
 */

/** How the runner treats a failure. */
export type FailureKind = 'permanent' | 'transient'

/**
 * Codes of FerryErrors and of pull problems (`PullProblem.code`), by kind. A code not listed is
 * permanent: an error nobody expected is shown, not retried forever.
 */
export const FAILURE_KINDS: Readonly<Record<string, FailureKind>> = {
  // the network: a peer down, slow or cut off mid-transfer comes back
  ERR_NETWORK: 'transient',
  ERR_TIMEOUT: 'transient',
  /** a malformed message is a bug or a hostile peer, but another attempt may reach another peer */
  ERR_PROTOCOL: 'transient',
  /** the catalog locked by another process, a flaky disk: worth another try */
  ERR_IO: 'transient',
  // the data: no attempt will change these, the user must act
  ERR_MISSING_AT_SOURCE: 'permanent',
  ERR_CHANGED_AT_SOURCE: 'permanent',
  /** no peer could provide a leaf: each answered missing/changed, or refused us */
  ERR_UNAVAILABLE: 'permanent',
  ERR_ROOT_NOT_FOUND: 'permanent',
  ERR_BLOCK_NOT_FOUND: 'permanent',
  ERR_NOT_FOUND: 'permanent',
  ERR_CONFLICT: 'permanent',
  ERR_UNSAFE_SYMLINK: 'permanent',
  ERR_NOT_A_DIRECTORY: 'permanent',
  ERR_PERMISSION: 'permanent',
  ERR_PEER_REFUSED: 'permanent',
  ERR_NOT_TRUSTED: 'permanent',
  ERR_BAD_SIGNATURE: 'permanent',
  ERR_UNSIGNED: 'permanent',
  ERR_WRONG_SIGNER: 'permanent',
  ERR_BAD_BLOCK: 'permanent',
  ERR_HASH_MISMATCH: 'permanent',
  ERR_NO_SPACE: 'permanent',
  ERR_INVALID_ARGUMENT: 'permanent',
  ERR_INVALID_CID: 'permanent',
  ERR_USAGE: 'permanent',
  ERR_HOME_CORRUPT: 'permanent',
  ERR_HOME_TOO_NEW: 'permanent',
  ERR_INTERNAL: 'permanent'
}

/** The kind of a failure with this code (unknown codes are permanent). */
export function classify (code: string): FailureKind {
  return FAILURE_KINDS[code] ?? 'permanent'
}

/** The code and message of anything thrown, for the task's record. */
export function describeError (err: unknown): { code: string, message: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return { code: typeof code === 'string' && code.startsWith('ERR_') ? code : 'ERR_INTERNAL', message: err.message }
  }
  return { code: 'ERR_INTERNAL', message: String(err) }
}
