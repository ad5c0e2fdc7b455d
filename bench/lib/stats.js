/** Small numeric helpers; every figure the bench reports is a median over rounds. */

export function median (xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  const m = v.length >> 1
  return v.length % 2 === 1 ? v[m] : (v[m - 1] + v[m]) / 2
}

export const MB = 1e6
export const KiB = 1024
export const MiB = 1024 * KiB
export const GiB = 1024 * MiB

/** Decimal megabytes per second. */
export function mbps (bytes, seconds) {
  return bytes / MB / seconds
}

export function fixed (x, digits = 2) {
  return Number.isFinite(x) ? x.toFixed(digits) : '—'
}

/** Rounds a number for JSON output without losing the significant part. */
export function round (x, digits = 4) {
  return Number.isFinite(x) ? Number(x.toPrecision(digits + 2)) : null
}

export function humanBytes (n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${i === 0 ? n : n.toFixed(n >= 100 ? 0 : 1)} ${units[i]}`
}

/**
 * What every suite reports about a set of timed runs ({ wallS, othersCores, maxRssBytes, ferrySeconds? }):
 * median wall time and the throughput it gives, median neighbours' load and peak RSS, Ferry's own time if
 * it reported one, and the runs themselves with numbers rounded. Suites add their own CPU columns.
 */
export function summariseTimedRuns (runs, bytes) {
  const s = median(runs.map((r) => r.wallS))
  return {
    medianS: round(s),
    mbps: round(mbps(bytes, s)),
    medianOthersCores: round(median(runs.map((r) => r.othersCores))),
    medianMaxRssBytes: median(runs.map((r) => r.maxRssBytes)),
    medianSelfS: runs[0].ferrySeconds == null ? undefined : round(median(runs.map((r) => r.ferrySeconds))),
    runs: runs.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v])))
  }
}
