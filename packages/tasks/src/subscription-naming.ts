/**
 * Where a subscription puts each scan: `<destination>/<dir>`, `dir` chosen once per (rule, root) and kept
 * in the catalog. The rule (docs/architecture.md, "Subscriptions"):
 *
 * - a scan's directory is its name, when that is one safe path segment (not empty, not `.` or `..`, no `/`,
 *   no NUL, at most 255 bytes) and no other scan of the rule has it;
 * - else `<name>~<short root>` (the last SHORT_ROOT_CHARS characters of its root CID), so a second scan
 *   of the same name (another root) never collides with the first and says which one it is;
 * - a name that is not a safe segment (from a hostile or odd peer) becomes `scan~<short root>`;
 * - in the unlikely case that is taken too, `<name>~<whole root>`.
 *
 * The first scan of a name the rule takes on keeps the plain name, whatever came later.
 */

/** Characters of the root CID used to tell apart two scans of one name. */
export const SHORT_ROOT_CHARS = 8

/** Longest directory name most file systems take, in bytes. */
const MAX_SEGMENT_BYTES = 255

/** Whether `name` can be used as one directory name under the destination. */
export function isSafeSegment (name: string): boolean {
  if (name === '' || name === '.' || name === '..') return false
  if (name.includes('/') || name.includes('\0')) return false
  return Buffer.byteLength(name) <= MAX_SEGMENT_BYTES - SHORT_ROOT_CHARS - 1
}

/** The short form of a root shown in directory names: its last SHORT_ROOT_CHARS characters. */
export function shortRoot (root: string): string {
  return root.slice(-SHORT_ROOT_CHARS)
}

/** The directory name for scan `name` with `root`, given which names the rule has given out already. */
export function scanDirName (name: string, root: string, taken: (dir: string) => boolean): string {
  const base = isSafeSegment(name) ? name : 'scan'
  if (base === name && !taken(base)) return base
  const short = `${base}~${shortRoot(root)}`
  if (!taken(short)) return short
  return `${base}~${root}`
}
