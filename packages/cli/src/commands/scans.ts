import { existsSync } from 'node:fs'
import { ExitCode } from '@ferry/errors'
import type { Command } from '../command.js'
import { printJson, println, withHome } from '../context.js'
import { formatBytes, formatCount } from '../format.js'

export const scans: Command = {
  name: 'scans',
  summary: 'List the scans in this node\'s catalog',
  usage: '[--collection ID] [--json]',
  help: 'One line per copy of a scan this node holds, with the directory it is in (PATH; "(gone)" when that directory no longer exists). --json gives the same as { ..., source, present }.',
  options: { collection: { type: 'string' } },
  positionals: [0, 0],
  async run (ctx, _args, flags) {
    return await withHome(ctx, async (home) => {
      const list = home.catalog.listScans({ collection: flags.collection as string | undefined })
      if (ctx.json) {
        printJson(ctx, list.map((s) => ({
          collection: s.collection,
          name: s.name,
          root: s.root?.toString() ?? null,
          files: s.files,
          directories: s.directories,
          bytes: s.bytes,
          created: new Date(s.created).toISOString(),
          skipped: s.skipped.length,
          source: s.sourcePath,
          present: existsSync(s.sourcePath)
        })))
        return ExitCode.OK
      }
      if (list.length === 0) {
        println(ctx, 'No scans yet: import one with `ferry add <dir>`.')
        return ExitCode.OK
      }
      // one root may be held in several places (imported here, pulled there): PATH says where each copy is
      const where = (path: string): string => existsSync(path) ? path : `${path} (gone)`
      const rows = list.map((s) => [s.collection ?? '-', s.name, s.root?.toString() ?? '-', formatCount(s.files), formatBytes(s.bytes), new Date(s.created).toISOString().slice(0, 19).replace('T', ' '), String(s.skipped.length), where(s.sourcePath)])
      const head = ['COLLECTION', 'NAME', 'ROOT', 'FILES', 'BYTES', 'CREATED (UTC)', 'SKIPPED', 'PATH']
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
      const fmt = (r: string[]): string => r.map((c, i) => (i === 3 || i === 4 || i === 6 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()
      println(ctx, fmt(head))
      for (const r of rows) println(ctx, fmt(r))
      return ExitCode.OK
    })
  }
}
