/**
 * The numbers behind the task page's figures, as plain data (no DOM, no lit-html, so they are unit-tested
 * in Node): speeds from the samples of the task:updated events, each peer's share of the bytes, and the
 * open scans a task or subscription follows.
 */
import { formatBytes } from './format-bytes.js'

/** One point of a task's transfer: when (ms since the epoch) and bytes transferred by then. */
export interface SpeedSample { t: number, bytes: number }

/** A speed between two samples: at `t` (the later one), `speed` bytes per second. */
export interface SpeedPoint { t: number, speed: number }

/** Speeds between consecutive samples (a drop in bytes, as after a retry's re-count, counts as 0). */
export function speeds (samples: readonly SpeedSample[]): SpeedPoint[] {
  const out: SpeedPoint[] = []
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1] as SpeedSample
    const b = samples[i] as SpeedSample
    if (b.t <= a.t) continue
    out.push({ t: b.t, speed: Math.max(0, b.bytes - a.bytes) * 1000 / (b.t - a.t) })
  }
  return out
}

/** The chart's line in a `width` × `height` box (y down), its peak speed and its span in ms. */
export interface ChartLine { points: string, peak: number, spanMs: number }

/** The speeds as an SVG polyline's points, scaled to the box: time across, 0 to the peak speed up. */
export function chartLine (points: readonly SpeedPoint[], width: number, height: number): ChartLine | undefined {
  if (points.length === 0) return undefined
  const first = (points[0] as SpeedPoint).t
  const spanMs = (points[points.length - 1] as SpeedPoint).t - first
  const peak = Math.max(...points.map((p) => p.speed))
  const x = (t: number): number => (spanMs === 0 ? width : ((t - first) / spanMs) * width)
  const y = (s: number): number => (peak === 0 ? height : height - (s / peak) * height)
  const coords = points.map((p) => `${x(p.t).toFixed(1)},${y(p.speed).toFixed(1)}`)
  // one point alone is drawn as a flat line across the box
  if (points.length === 1) coords.unshift(`0,${y((points[0] as SpeedPoint).speed).toFixed(1)}`)
  return { points: coords.join(' '), peak, spanMs }
}

/** One peer's part of a task's bytes. */
export interface PeerShare { peer: string, bytes: number, ratio: number }

/** Each peer's bytes (TaskRecord.fromPeers) and share of their sum, largest first. */
export function peerShares (fromPeers: Readonly<Record<string, number>> | undefined): PeerShare[] {
  if (fromPeers === undefined) return []
  const entries = Object.entries(fromPeers).filter(([, b]) => Number.isFinite(b) && b >= 0)
  const total = entries.reduce((sum, [, b]) => sum + b, 0)
  return entries.map(([peer, bytes]) => ({ peer, bytes, ratio: total === 0 ? 0 : bytes / total })).sort((a, b) => b.bytes - a.bytes)
}

/** An open scan a task or subscription follows, as the API gives it (optional `openScans`). */
export interface OpenScan { collection: string, name: string, published: number, arrived: number, lagMs: number | null, backlogBytes: number }

/** An open scan said in words: files arrived of those published, the live lag and the backlog. */
export interface OpenScanRow { scan: string, files: string, lag: string, backlog: string, behind: boolean }

/** A lag in ms as words: "under a second", "12 s", "3 min 5 s", "2 h 4 min"; null: "not measured yet". */
export function formatLag (ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return 'not measured yet'
  if (ms < 1000) return 'under a second'
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}

/** The rows of the open-scans table. */
export function openScanRows (scans: readonly OpenScan[] | undefined): OpenScanRow[] {
  return (scans ?? []).map((o) => ({
    scan: `${o.collection}/${o.name}`,
    files: `${o.arrived.toLocaleString('en')} of ${o.published.toLocaleString('en')} published files arrived`,
    lag: formatLag(o.lagMs),
    backlog: o.backlogBytes > 0 ? `${formatBytes(o.backlogBytes)} to come` : 'none',
    behind: o.arrived < o.published
  }))
}
