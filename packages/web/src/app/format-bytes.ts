/** Byte counts in decimal units, as the CLI prints them (no DOM: the figures' unit tests use it in Node). */

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB']

export function formatBytes (n: number): string {
  let i = 0
  let v = n
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000
    i++
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${UNITS[i] ?? ''}`
}
