/**
 * Typed errors shared by every Ferry package.
 *
 * Every error a user can meet carries a stable `code` (`ERR_NO_SPACE`, ...), a one-line message that says
 * what to do, and the original `cause`. The CLI maps codes to exit codes (see `exitCodeFor`) and prints
 * only the message unless `--debug` is given.
 */

/** Process exit codes, documented in docs/cli.md. Stable: scripts depend on them. */
export const ExitCode = {
  OK: 0,
  /** An unexpected internal error (a bug): run with --debug and report it. */
  INTERNAL: 1,
  /** Bad command line or bad input named on it. */
  USAGE: 2,
  /** The job finished but some entries were skipped (unreadable, special, changed while read). */
  PARTIAL: 3,
  /** A directory does not match a root, a block does not match its CID, or a scan's signature does not verify. */
  VERIFY_FAILED: 4,
  /** The destination or the home directory does not have the space needed. */
  NO_SPACE: 5,
  /** A peer could not be reached, refused us, or misbehaved. */
  NETWORK: 6,
  /** The thing asked for (root, scan, home) does not exist here. */
  NOT_FOUND: 7,
  /** The home directory or a file cannot be read or written (permissions, I/O, locked). */
  IO: 8,
  /** Interrupted by a signal or an abort. */
  ABORTED: 130
} as const
export type ExitCode = typeof ExitCode[keyof typeof ExitCode]

/** Every error code Ferry raises, with the exit code it maps to. */
export const ErrorCodes = {
  ERR_USAGE: ExitCode.USAGE,
  ERR_INVALID_ARGUMENT: ExitCode.USAGE,
  ERR_INVALID_CID: ExitCode.USAGE,
  ERR_NOT_A_DIRECTORY: ExitCode.USAGE,
  ERR_HOME_EXISTS: ExitCode.USAGE,
  /** The thing to create exists already (a peer name taken by another peer, ...). */
  ERR_CONFLICT: ExitCode.USAGE,
  ERR_HOME_NOT_FOUND: ExitCode.NOT_FOUND,
  ERR_HOME_CORRUPT: ExitCode.IO,
  ERR_HOME_TOO_NEW: ExitCode.IO,
  ERR_NOT_FOUND: ExitCode.NOT_FOUND,
  ERR_ROOT_NOT_FOUND: ExitCode.NOT_FOUND,
  ERR_BLOCK_NOT_FOUND: ExitCode.NOT_FOUND,
  ERR_PARTIAL: ExitCode.PARTIAL,
  ERR_VERIFY_FAILED: ExitCode.VERIFY_FAILED,
  ERR_HASH_MISMATCH: ExitCode.VERIFY_FAILED,
  ERR_BAD_BLOCK: ExitCode.VERIFY_FAILED,
  /** A scan record's signature does not verify: the record or its entries were changed after signing. */
  ERR_BAD_SIGNATURE: ExitCode.VERIFY_FAILED,
  /** A scan record carries no signature (imported by an older Ferry): refused. */
  ERR_UNSIGNED: ExitCode.VERIFY_FAILED,
  /** A scan record is validly signed, but by another node than the one asked for (--signed-by). */
  ERR_WRONG_SIGNER: ExitCode.VERIFY_FAILED,
  ERR_NO_SPACE: ExitCode.NO_SPACE,
  ERR_NETWORK: ExitCode.NETWORK,
  ERR_PEER_REFUSED: ExitCode.NETWORK,
  ERR_TIMEOUT: ExitCode.NETWORK,
  /** A peer sent a malformed or out-of-protocol message (a bug or a hostile peer). */
  ERR_PROTOCOL: ExitCode.NETWORK,
  /** This node refused a peer that is not in its trusted list. */
  ERR_NOT_TRUSTED: ExitCode.NETWORK,
  /** Another live daemon already serves this home. */
  ERR_DAEMON_RUNNING: ExitCode.IO,
  /** A request to the daemon's HTTP API without the home's token, or with another. */
  ERR_UNAUTHORIZED: ExitCode.IO,
  /** A command that hands its work to the home's daemon (`ferry pull --detach`, `ferry tasks`) found none running. */
  ERR_NO_DAEMON: ExitCode.IO,
  ERR_IO: ExitCode.IO,
  ERR_PERMISSION: ExitCode.IO,
  ERR_ABORTED: ExitCode.ABORTED,
  ERR_INTERNAL: ExitCode.INTERNAL
} as const
export type ErrorCode = keyof typeof ErrorCodes

/** The one error class Ferry throws on purpose. `code` is stable; `details` is machine-readable context. */
export class FerryError extends Error {
  readonly code: ErrorCode
  readonly details: Record<string, unknown>

  constructor (code: ErrorCode, message: string, options: { cause?: unknown, details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'FerryError'
    this.code = code
    this.details = options.details ?? {}
  }

  /** The exit code the CLI should end with for this error. */
  get exitCode (): ExitCode {
    return ErrorCodes[this.code]
  }

  toJSON (): { code: ErrorCode, message: string, details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details }
  }
}

export function isFerryError (err: unknown, code?: ErrorCode): err is FerryError {
  return err instanceof FerryError && (code === undefined || err.code === code)
}

/**
 * `details.problem` of the ERR_NETWORK a peer client throws when the peer refuses a protocol: an older Ferry
 * without it, or not Ferry (`details.protocol` names it).
 */
export const UNSUPPORTED_PROTOCOL = 'unsupported-protocol'

/** Whether `err` says the peer refuses the protocol (see UNSUPPORTED_PROTOCOL). */
export function isUnsupportedProtocol (err: unknown): boolean {
  return err instanceof FerryError && err.details.problem === UNSUPPORTED_PROTOCOL
}

/** Exit code for anything thrown: FerryErrors by their code, aborts as ABORTED, anything else INTERNAL. */
export function exitCodeFor (err: unknown): ExitCode {
  if (err instanceof FerryError) return err.exitCode
  if (isAbortError(err)) return ExitCode.ABORTED
  return ExitCode.INTERNAL
}

export function isAbortError (err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as { code?: string }).code === 'ABORT_ERR')
}

/** Throws ERR_ABORTED if the signal has fired. Call between steps of long operations. */
export function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted === true) {
    throw new FerryError('ERR_ABORTED', 'Operation aborted', { cause: signal.reason })
  }
}

/** What `err` says: the message of an Error (or of anything with a string `message`), else `err` as a string. */
export function errorMessage (err: unknown): string {
  const message = (err as { message?: unknown } | null | undefined)?.message
  return typeof message === 'string' ? message : String(err)
}

/** The `name` of an Error (or of anything with a string `name`), else undefined. */
export function errorName (err: unknown): string | undefined {
  const name = (err as { name?: unknown } | null | undefined)?.name
  return typeof name === 'string' ? name : undefined
}

/**
 * Turns a Node.js system error (errno code) into a one-line FerryError naming the path involved.
 * Unknown errors pass through as ERR_IO with the cause kept.
 */
export function fromSystemError (err: unknown, what: string): FerryError {
  if (err instanceof FerryError) return err
  const code = (err as NodeJS.ErrnoException | null | undefined)?.code
  const reason = errorMessage(err)
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new FerryError('ERR_NO_SPACE', `No space left while writing ${what}`, { cause: err })
    case 'EACCES':
    case 'EPERM':
      return new FerryError('ERR_PERMISSION', `Permission denied: ${what}`, { cause: err })
    case 'EROFS':
      return new FerryError('ERR_IO', `Read-only file system: cannot write ${what}`, { cause: err })
    case 'ENOENT':
      return new FerryError('ERR_NOT_FOUND', `No such file or directory: ${what}`, { cause: err })
    case 'ENOTDIR':
      return new FerryError('ERR_NOT_A_DIRECTORY', `Not a directory: ${what}`, { cause: err })
    default:
      return new FerryError('ERR_IO', `I/O error on ${what}: ${reason}`, { cause: err })
  }
}
