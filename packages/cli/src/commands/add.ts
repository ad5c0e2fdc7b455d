import { basename, resolve } from 'node:path'
import { ExitCode } from '@ferry/errors'
import { importDirectory, type ImportResult } from '@ferry/dag'
import type { Command } from '../command.js'
import { printJson, println, withHome } from '../context.js'
import { formatBytes, formatRate, plural } from '../format.js'
import { ProgressLine, type ProgressState } from '../progress.js'

export const add: Command = {
  name: 'add',
  summary: 'Import a directory as a scan and print its root CID',
  usage: '<dir> [--collection ID] [--name NAME] [--json]',
  help: [
    'Hashes every file in <dir> (1 MiB chunks, on all cores) and records the scan in the catalog, signed',
    'with this node\'s key (record, file list, sizes, modes, mtimes): peers that pull it check the signature.',
    'File content is not copied: the node serves it from <dir>, so keep the directory in place.',
    'Prints the root CID on stdout and a summary on stderr. Unreadable entries, special files and files',
    'that change while read are skipped and listed: the command then exits 3.',
    '',
    '  --collection ID   the experiment or visit this scan belongs to (e.g. 20180301_ESRF_1799)',
    '  --name NAME       the scan\'s name (default: the directory\'s name)'
  ].join('\n'),
  options: { collection: { type: 'string' }, name: { type: 'string' } },
  positionals: [1, 1],
  async run (ctx, [dirArg], flags) {
    const dir = resolve(dirArg ?? '.')
    const collection = (flags.collection as string | undefined) ?? null
    const name = (flags.name as string | undefined) ?? basename(dir)
    return await withHome(ctx, async (home) => {
      const writer = home.catalog.createScanWriter({ collection, name, sourcePath: dir, origin: home.peerId.toString() })
      const state: ProgressState = { files: 0, bytes: 0, skipped: 0 }
      const bar = ctx.json ? undefined : new ProgressLine('importing', state, ctx.stderr)
      const started = performance.now()
      let result: ImportResult
      try {
        result = await importDirectory(dir, {
          signal: ctx.signal,
          sink: {
            putBlocks: async (blocks) => {
              writer.addNodes(blocks.map((b) => b.cid)) // which scan each inner node is in: the access check needs it
              await home.blocks.putMany(blocks)
            },
            addEntry: (entry) => { writer.addEntry(entry) },
            addSource: (path, size, mtimeMs, leaves) => { writer.addSource(path, size, mtimeMs, leaves) }
          },
          onProgress: (event) => {
            if (event.type === 'import:file') {
              state.files++
              state.bytes += event.size
            } else if (event.type === 'import:skipped') {
              state.skipped = (state.skipped ?? 0) + 1
            }
          }
        })
      } catch (err) {
        writer.abort()
        throw err
      } finally {
        bar?.stop()
      }
      // signed with this node's key: record, entry list, modes and mtimes (docs/format.md, "Signed scan records")
      try {
        await writer.commitSigned({ root: result.root, files: result.files, directories: result.directories, symlinks: result.symlinks, bytes: result.bytes, skipped: result.skipped }, home.privateKey)
      } catch (err) {
        writer.abort()
        throw err
      }
      const seconds = (performance.now() - started) / 1000
      const root = result.root.toString()
      if (ctx.json) {
        printJson(ctx, {
          root,
          collection,
          name,
          files: result.files,
          directories: result.directories,
          symlinks: result.symlinks,
          bytes: result.bytes,
          seconds: Number(seconds.toFixed(3)),
          skipped: result.skipped
        })
      } else {
        println(ctx, root)
        const where = collection != null ? ` in collection ${collection}` : ''
        ctx.stderr.write(`Imported '${name}'${where}: ${plural(result.files, 'file')}, ${plural(result.directories, 'directory', 'directories')}, ${formatBytes(result.bytes)} in ${seconds.toFixed(1)} s (${formatRate(result.bytes / Math.max(seconds, 1e-3))})\n`)
        if (result.skipped.length > 0) {
          ctx.stderr.write(`warning: ${plural(result.skipped.length, 'entry', 'entries')} skipped and NOT in this scan:\n`)
          for (const s of result.skipped) ctx.stderr.write(`  ${s.path}: ${s.message} (${s.code})\n`)
        }
      }
      return result.skipped.length > 0 ? ExitCode.PARTIAL : ExitCode.OK
    })
  }
}
