/** Plain-text tables for the terminal: a title, a header and left/right aligned columns. */

export function table (title, header, rows, { right = [] } = {}) {
  const cells = [header, ...rows].map((r) => r.map((c) => String(c ?? '')))
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)))
  const line = (r) => r.map((c, i) => (right.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()
  const rule = widths.map((w) => '-'.repeat(w)).join('  ')
  return [title, line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n') + '\n'
}
