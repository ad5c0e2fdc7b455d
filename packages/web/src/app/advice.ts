/**
 * What a failure code means in plain words and what the user can do about it: for the failed files of a
 * task (TaskFileFailure.code) and for what ended a task (TaskRecord.reason.code). An unknown code gets the
 * daemon's own message and a generic next step, never nothing.
 */

/** A failure, said for the person who must act on it. */
export interface Advice {
  /** What happened, in one short sentence. */
  what: string
  /** What to do about it. */
  todo: string
}

const ADVICE: Readonly<Record<string, Advice>> = {
  ERR_CHANGED_AT_SOURCE: {
    what: 'The file changed at the source after it was added.',
    todo: 'Add the scan again there (ferry add on the source node) and pull its new root: this root names the old bytes, so Retry cannot bring them.'
  },
  ERR_MISSING_AT_SOURCE: {
    what: 'The file could not be read at the source when the scan was added, so it is not in the scan.',
    todo: 'Retry will not bring it: fix it at the source and add the scan again there.'
  },
  ERR_NOT_A_DIRECTORY: {
    what: 'A file stands where the scan has a directory.',
    todo: 'Move that file out of the destination, then Retry.'
  },
  ERR_CONFLICT: {
    what: 'A different file is already at this path in the destination, and Ferry never overwrites what it did not write.',
    todo: 'Move or delete that file (or pick another destination), then Retry.'
  },
  ERR_UNAVAILABLE: {
    what: 'No source could send this file\'s data.',
    todo: 'Check that a source holding the scan is connected (Node and peers), then Retry.'
  },
  ERR_UNSAFE_SYMLINK: {
    what: 'The scan has a symbolic link pointing outside the destination, which Ferry does not create by default.',
    todo: 'Create it by hand if you trust it, or pull from a shell with --allow-escaping-symlinks.'
  },
  ERR_PERMISSION: {
    what: 'The daemon is not allowed to write there.',
    todo: 'Give the user running the daemon write access to the destination, then Retry.'
  },
  ERR_NO_SPACE: {
    what: 'The destination\'s filesystem is full.',
    todo: 'Free space there (or pick another destination), then Retry: what is already in place is kept.'
  },
  ERR_IO: {
    what: 'Reading or writing on this node failed.',
    todo: 'Check the destination\'s disk and the daemon\'s log, then Retry.'
  },
  ERR_HASH_MISMATCH: {
    what: 'Data that arrived did not match its hash and was thrown away.',
    todo: 'Retry: it is fetched again, from another source if there is one.'
  },
  ERR_BAD_BLOCK: {
    what: 'A source sent data that did not match its hash; it was thrown away.',
    todo: 'Retry; if it happens again, that source\'s copy is damaged: run ferry verify there.'
  },
  ERR_TIMEOUT: {
    what: 'The task reached its deadline before everything arrived.',
    todo: 'Retry: it goes on from what is in place, with a new deadline.'
  },
  ERR_NETWORK: {
    what: 'The sources could not be reached.',
    todo: 'Check the peers\' states (Node and peers) and the network, then Retry.'
  },
  ERR_PEER_REFUSED: {
    what: 'The source refused this node.',
    todo: 'On the source, run ferry trust with this node\'s PeerId (and ferry grant if the collection is restricted), then Retry.'
  },
  ERR_ROOT_NOT_FOUND: {
    what: 'No source holds this scan.',
    todo: 'Check the scan\'s root and the sources, then Retry.'
  },
  ERR_ABORTED: {
    what: 'The task was stopped.',
    todo: 'Retry to go on from what is in place.'
  }
}

/** The advice for `code`; `message` (the daemon's words) stands in for an unknown code. */
export function adviceFor (code: string, message: string): Advice {
  return ADVICE[code] ?? { what: message, todo: 'Retry; if it fails again, the daemon\'s log says more.' }
}

/** Codes with their own advice (for tests and docs). */
export const ADVISED_CODES: readonly string[] = Object.keys(ADVICE)
