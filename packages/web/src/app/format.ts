/** Formatting for the page: decimal units as the CLI prints them, times in the user's zone with UTC on hover. */
import { html, type TemplateResult } from 'lit-html'

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

export function formatCount (n: number): string {
  return n.toLocaleString()
}

const LOCAL = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })

/** A <time> in the user's time zone, the UTC instant in its title. */
export function when (iso: string | null | undefined): TemplateResult | string {
  if (iso === null || iso === undefined) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return html`<time datetime=${d.toISOString()} title=${d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}>${LOCAL.format(d)}</time>`
}
