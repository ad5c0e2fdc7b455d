/**
 * The task page's figures (figures.ts has their numbers): speed over time as an inline SVG line fed by the
 * task:updated events, each peer's share of the bytes, and the open scans a task or subscription follows.
 */
import { html, nothing, svg, type TemplateResult } from 'lit-html'
import { chartLine, openScanRows, peerShares, speeds, type OpenScan, type SpeedSample } from './figures.js'
import { formatBytes } from './format.js'
import type { Peer } from './types.js'

const W = 600
const H = 120

function span (ms: number): string {
  const s = Math.round(ms / 1000)
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`
}

/** Speed over time since the page opened; a line once two updates have arrived, else a sentence why not. */
export function speedChart (samples: readonly SpeedSample[] | undefined, live: boolean): TemplateResult {
  const points = speeds(samples ?? [])
  const line = chartLine(points, W, H)
  if (line === undefined) {
    return html`<p class="muted" data-testid="speed-empty">${live ? 'The speed shows here as the daemon reports progress (about once a second while the task is active).' : 'No progress reported since this page opened.'}</p>`
  }
  const now = (points[points.length - 1] as { speed: number }).speed
  const label = `Speed over the last ${span(line.spanMs)}: now ${formatBytes(Math.round(now))}/s, peak ${formatBytes(Math.round(line.peak))}/s`
  return html`<figure class="chart" data-testid="speed-chart" data-points=${points.length}>
    <svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label=${label}>
      ${svg`<line x1="0" y1=${H} x2=${W} y2=${H} class="axis"></line><polyline points=${line.points} class="speed"></polyline>`}
    </svg>
    <figcaption><span>${formatBytes(Math.round(line.peak))}/s peak</span> <span>now ${formatBytes(Math.round(now))}/s</span> <span class="muted">over ${span(line.spanMs)}</span></figcaption>
  </figure>`
}

/** Bytes per source peer (fromPeers), a bar each, named from the address book when it knows the PeerId. */
export function peerShareList (fromPeers: Readonly<Record<string, number>> | undefined, peers: readonly Peer[] | undefined): TemplateResult {
  const shares = peerShares(fromPeers)
  if (shares.length === 0) return html`<p class="muted" data-testid="peer-share-empty">${fromPeers === undefined ? 'This daemon does not report bytes per peer.' : 'Nothing received from peers yet.'}</p>`
  return html`<ul class="shares" data-testid="peer-share">${shares.map((s) => {
    const name = peers?.find((p) => p.id === s.peer)?.name
    const pct = Math.round(s.ratio * 100)
    return html`<li data-peer-id=${s.peer}><span class="who">${name ?? html`<code title=${s.peer}>${s.peer.slice(0, 8)}…${s.peer.slice(-6)}</code>`}</span>
      <meter min="0" max="1" value=${s.ratio} aria-label="Share from ${name ?? s.peer}">${pct}%</meter>
      <span class="num">${formatBytes(s.bytes)} (${pct}%)</span></li>`
  })}</ul>`
}

/** Open scans followed (the API's optional `openScans`): published vs arrived, live lag, backlog. Nothing when absent. */
export function openScansTable (scans: readonly OpenScan[] | undefined): TemplateResult | typeof nothing {
  const rows = openScanRows(scans)
  if (rows.length === 0) return nothing
  return html`<h3>Open scans</h3><div class="scroll"><table class="open-scans" data-testid="open-scans">
    <thead><tr><th scope="col">Scan</th><th scope="col">Files</th><th scope="col">Lag</th><th scope="col">Backlog</th></tr></thead>
    <tbody>${rows.map((r) => html`<tr class=${r.behind ? 'behind' : ''}><th scope="row">${r.scan}</th><td>${r.files}</td><td>${r.lag}</td><td>${r.backlog}</td></tr>`)}</tbody>
  </table></div>`
}
