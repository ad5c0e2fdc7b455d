import { resolve, sep } from 'node:path'
import { FerryError } from '@ferry/errors'
const encoder = new TextEncoder()

/**
 * Why `name` cannot be a directory entry, or undefined if it can: empty, '.', '..', containing '/' or NUL,
 * or not well-formed Unicode (a lone surrogate would not survive the UTF-8 round trip).
 */
export function nameProblem (name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'empty name'
  if (name === '.' || name === '..') return `reserved name '${name}'`
  if (name.includes('/')) return 'name contains /'
  if (name.includes('\0')) return 'name contains NUL'
  // any surrogate unit first (cheap), then whether one is unpaired (a paired one is a code point above U+FFFF)
  if (/[\uD800-\uDFFF]/.test(name) && /\p{Cs}/u.test(name)) return 'name is not well-formed Unicode'
  return undefined
}

/** UTF-8 bytes of a string. */
export function utf8 (text: string): Uint8Array {
  return encoder.encode(text)
}

/** Orders names by their UTF-8 bytes, as dag-pb sorts links (which is code point order, not UTF-16 order). */
export function compareNames (a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return codePointRank(x) - codePointRank(y)
  }
  return a.length - b.length
}

/** Moves surrogates (code points >= U+10000) above U+E000..U+FFFF, so UTF-16 units compare like code points. */
function codePointRank (unit: number): number {
  if (unit < 0xD800) return unit
  return unit >= 0xE000 ? unit - 0x800 : unit + 0x2000
}

/**
 * The UTF-8 length of `text` if it is over `limit` bytes, else undefined; without encoding it (this runs for
 * every path of every scan pulled). A UTF-16 unit is at most 3 UTF-8 bytes, so a short string needs no
 * count; a lone surrogate counts 3, like TextEncoder's U+FFFD.
 */
function utf8LengthOver (text: string, limit: number): number | undefined {
  if (text.length * 3 <= limit) return undefined
  const bytes = Buffer.byteLength(text, 'utf8')
  return bytes > limit ? bytes : undefined
}

/** Longest name of one path component Ferry accepts from a peer, in UTF-8 bytes (NAME_MAX on Linux). */
export const MAX_NAME_BYTES = 255

/** Longest relative path Ferry accepts from a peer, in UTF-8 bytes (PATH_MAX on Linux). */
export const MAX_PATH_BYTES = 4096

/**
 * Why a name that arrived from a peer cannot become a file name, or undefined if it can: every
 * `nameProblem`, plus a backslash (a separator on other systems, and a classic way to smuggle `..\`) and
 * more than MAX_NAME_BYTES. The importer skips local names that fail it, so a scan never holds a name its
 * receivers would refuse.
 */
export function peerNameProblem (name: string): string | undefined {
  const problem = nameProblem(name)
  if (problem !== undefined) return problem
  if (name.includes('\\')) return 'name contains a backslash'
  const bytes = utf8LengthOver(name, MAX_NAME_BYTES)
  if (bytes !== undefined) return `name is ${bytes} bytes long, the limit is ${MAX_NAME_BYTES}`
  return undefined
}

/**
 * Why a relative, '/'-separated path that arrived from a peer cannot be placed under a destination, or
 * undefined if it can. '' (the destination itself) is allowed. Absolute paths, empty, '.' and '..'
 * components, backslashes, NUL, over-long names and paths are not. This is the one check every path from
 * a peer passes before it meets the filesystem (see `pathUnder`).
 */
export function pathProblem (path: string): string | undefined {
  if (typeof path !== 'string') return 'path is not a string'
  if (path === '') return undefined
  if (path.startsWith('/')) return 'path is absolute'
  const bytes = utf8LengthOver(path, MAX_PATH_BYTES)
  if (bytes !== undefined) return `path is ${bytes} bytes long, the limit is ${MAX_PATH_BYTES}`
  for (const part of path.split('/')) {
    const problem = peerNameProblem(part)
    if (problem !== undefined) return part === '' ? 'path has an empty component' : problem
  }
  return undefined
}

/**
 * Why a symlink at `linkPath` (relative to the destination) pointing at `target` could lead outside the
 * destination, or undefined if it cannot. Judged on the text alone (Ferry never follows a link to find
 * out): the target must be relative, and its `..` components must all come first and climb no higher than
 * the destination. A `..` after a name is refused too, because that name may itself be a symlink and `..`
 * would then climb from wherever it points. With every link in a tree so confined, following any chain of
 * them from inside the destination stays inside.
 */
export function symlinkTargetProblem (linkPath: string, target: string): string | undefined {
  if (typeof target !== 'string' || target.length === 0) return 'empty target'
  if (target.includes('\0')) return 'target contains NUL'
  if (target.startsWith('/')) return `target ${JSON.stringify(target)} is absolute`
  const depth = linkPath === '' ? 0 : linkPath.split('/').length - 1 // directories between dest and the link
  let climbed = 0
  let descended = false
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue
    if (part !== '..') {
      descended = true
      continue
    }
    if (descended) return `target ${JSON.stringify(target)} has '..' after a name`
    if (++climbed > depth) return `target ${JSON.stringify(target)} climbs out of the destination`
  }
  return undefined
}

/**
 * `dest` joined with a path that arrived from a peer, after `pathProblem` accepted it and after checking that
 * the result resolves inside `dest` (defence in depth). Throws ERR_BAD_BLOCK otherwise. Every path from a
 * peer becomes a filesystem path through here. It does not look at the filesystem: callers still refuse to
 * follow symlinks already there (see transfer's mkdirSafe).
 */
export function pathUnder (dest: string, path: string): string {
  const problem = pathProblem(path)
  if (problem !== undefined) {
    throw new FerryError('ERR_BAD_BLOCK', `Refusing the path ${JSON.stringify(path.slice(0, 200))} from a peer: ${problem}`, { details: { path } })
  }
  const base = resolve(dest)
  const abs = path === '' ? base : resolve(base, path)
  if (abs !== base && !abs.startsWith(base.endsWith(sep) ? base : base + sep)) {
    throw new FerryError('ERR_BAD_BLOCK', `Refusing the path ${JSON.stringify(path)} from a peer: it resolves outside ${base}`, { details: { path } })
  }
  return abs
}
