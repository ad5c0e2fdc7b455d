/** Formatting for the page: decimal units as the CLI prints them, times in the user's zone with UTC on hover. */
import { html, type TemplateResult } from 'lit-html'

export { formatBytes } from './format-bytes.js'

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
