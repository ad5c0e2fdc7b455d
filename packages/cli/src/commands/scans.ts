import { existsSync } from 'node:fs'
import { lstat } from 'node:fs/promises'
import { join } from 'node:path'
import { ExitCode } from '@ferry/errors'
import type { Home, ScanRecord } from '@ferry/store'
import type { Command } from '../command.js'
import { printJson, println, withHome, type Context } from '../context.js'
import { formatBytes, formatCount, plural } from '../format.js'

/** A file of a scan that no longer looks as it did when the scan was recorded. */
interface Stale { path: string, why: 'changed' | 'gone' | 'not a file' }

/**
 * The files of `scan` whose size or mtime differ from what was recorded, or that are gone: a quick check
 * (no hashing; `ferry verify` hashes). These are the files the node can no longer serve.
 */
async function staleFiles (home: Home, scan: ScanRecord): Promise<Stale[]> {
  const out: Stale[] = []
  for (const e of home.catalog.entries(scan.id)) {
    if (e.type !== 'file') continue
    const st = await lstat(join(scan.sourcePath, e.path)).catch(() => undefined)
    if (st === undefined) out.push({ path: e.path, why: 'gone' })
    else if (!st.isFile()) out.push({ path: e.path, why: 'not a file' })
    else if (st.size !== e.size || Math.abs(st.mtimeMs - e.mtimeMs) >= 1) out.push({ path: e.path, why: 'changed' })
  }
  return out
}

function printTable (ctx: Context, list: ScanRecord[]): void {
  // one root may be held in several places (imported here, pulled there): PATH says where each copy is
  const where = (path: string): string => existsSync(path) ? path : `${path} (gone)`
  const rows = list.map((s) => [s.collection ?? '-', s.name, s.root?.toString() ?? '-', formatCount(s.files), formatBytes(s.bytes), new Date(s.created).toISOString().slice(0, 19).replace('T', ' '), String(s.skipped.length), where(s.sourcePath)])
  const head = ['COLLECTION', 'NAME', 'ROOT', 'FILES', 'BYTES', 'CREATED (UTC)', 'SKIPPED', 'PATH']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const fmt = (r: string[]): string => r.map((c, i) => (i === 3 || i === 4 || i === 6 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()
  println(ctx, fmt(head))
  for (const r of rows) println(ctx, fmt(r))
}

export const scans: Command = {
  name: 'scans',
  summary: 'List the scans in this node\'s catalog',
  usage: '[--collection ID] [--check] [--json]',
  help: [
    'One line per copy of a scan this node holds, with the directory it is in (PATH; "(gone)" when that',
    'directory no longer exists). --json gives the same as { ..., source, present }.',
    '',
    '  --check   also list, per scan, the files whose size or mtime changed since they were recorded, or that',
    '            are gone: this node no longer serves them (a quick check; `ferry verify <dir> <root>` hashes).',
    '            Exit 4 if there are any.'
  ].join('\n'),
  options: { collection: { type: 'string' }, check: { type: 'boolean' } },
  positionals: [0, 0],
  async run (ctx, _args, flags) {
    return await withHome(ctx, async (home) => {
      const list = home.catalog.listScans({ collection: flags.collection as string | undefined })
      const stale = new Map<number, Stale[]>()
      if (flags.check === true) for (const s of list) if (existsSync(s.sourcePath)) stale.set(s.id, await staleFiles(home, s))
      const anyStale = [...stale.values()].some((l) => l.length > 0)
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
          present: existsSync(s.sourcePath),
          ...(flags.check === true ? { stale: stale.get(s.id) ?? [] } : {})
        })))
        return anyStale ? ExitCode.VERIFY_FAILED : ExitCode.OK
      }
      if (list.length === 0) {
        println(ctx, 'No scans yet: import one with `ferry add <dir>`.')
        return ExitCode.OK
      }
      printTable(ctx, list)
      for (const s of list) {
        const files = stale.get(s.id) ?? []
        if (files.length === 0) continue
        println(ctx, `\n${s.root?.toString() ?? s.name} at ${s.sourcePath}: ${plural(files.length, 'file')} no longer as recorded, not served (\`ferry verify ${s.sourcePath} ${s.root?.toString() ?? ''}\` hashes them):`)
        for (const f of files) println(ctx, `  ${f.why.padEnd(10)}  ${f.path}`)
      }
      return anyStale ? ExitCode.VERIFY_FAILED : ExitCode.OK
    })
  }
}
