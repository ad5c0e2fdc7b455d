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
  if (/\p{Cs}/u.test(name)) return 'name is not well-formed Unicode'
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
