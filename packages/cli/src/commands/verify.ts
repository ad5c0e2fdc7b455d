import { resolve } from 'node:path'
import { ExitCode, FerryError } from '@ferry/errors'
import { verifyDirectory, type Difference } from '@ferry/dag'
import { readLeaf } from '@ferry/store'
import type { Command } from '../command.js'
import { printJson, println, withHome } from '../context.js'
import { parseRoot } from '../cid.js'
import { formatBytes, plural } from '../format.js'
import { ProgressLine, type ProgressState } from '../progress.js'

function describe (d: Difference): string {
  switch (d.kind) {
    case 'missing': return `missing     ${d.path} (${d.expected})`
    case 'extra': return `extra       ${d.path} (${d.actual})`
    case 'type': return `wrong type  ${d.path}: ${d.actual}, expected ${d.expected}`
    case 'target': return `changed     ${d.path}: symlink to '${d.actual}', expected '${d.expected}'`
    case 'unreadable': return `unreadable  ${d.path}: ${d.message} (${d.code})`
    case 'changed': {
      const where = d.exact ? `first bad byte at offset ${d.offset}` : `first bad chunk at offset ${d.offset}`
      const sizes = d.actualSize === d.expectedSize ? `size ${d.actualSize}` : `size ${d.actualSize}, expected ${d.expectedSize}`
      return `changed     ${d.path}: ${where} (${sizes})`
    }
  }
}

export const verify: Command = {
  name: 'verify',
  summary: 'Prove that a directory matches a root: names, tree shape and every byte',
  usage: '<dir> <root> [--json]',
  help: [
    'Hashes every file under <dir> and compares it with the scan <root> (which this node must know).',
    'Lists every difference: missing, extra, wrong type, changed (with the first bad byte offset when this',
    'node holds the original bytes, else the first bad 1 MiB chunk) and unreadable entries.',
    'Never modifies <dir>. Exits 0 when it matches, 4 when it does not.'
  ].join('\n'),
  options: {},
  positionals: [2, 2],
  async run (ctx, [dirArg, rootArg]) {
    const dir = resolve(dirArg ?? '.')
    const root = parseRoot(rootArg ?? '')
    return await withHome(ctx, async (home) => {
      if (!(await home.blocks.has(root))) {
        throw new FerryError('ERR_ROOT_NOT_FOUND', `Root ${root.toString()} is not known here: import or pull the scan first, then verify`)
      }
      const state: ProgressState = { files: 0, bytes: 0 }
      const bar = ctx.json ? undefined : new ProgressLine('verifying', state, ctx.stderr)
      let result
      try {
        result = await verifyDirectory(dir, root, home.blocks.get.bind(home.blocks), {
          signal: ctx.signal,
          readLeaf: async (cid) => {
            const r = await readLeaf(home.catalog, cid, { signal: ctx.signal })
            return r.status === 'ok' ? r.bytes : undefined
          },
          onProgress: (e) => {
            if (e.type === 'verify:file') {
              state.files++
              state.bytes += e.size
            }
          }
        })
      } finally {
        bar?.stop()
      }
      if (ctx.json) {
        printJson(ctx, { ok: result.ok, dir, root: root.toString(), files: result.files, directories: result.directories, symlinks: result.symlinks, bytes: result.bytes, differences: result.differences })
      } else if (result.ok) {
        println(ctx, `OK: ${dir} matches ${root.toString()} (${plural(result.files, 'file')}, ${plural(result.directories, 'directory', 'directories')}, ${formatBytes(result.bytes)} verified)`)
      } else {
        println(ctx, `MISMATCH: ${dir} does not match ${root.toString()}: ${plural(result.differences.length, 'difference')}`)
        for (const d of result.differences) println(ctx, `  ${describe(d)}`)
      }
      return result.ok ? ExitCode.OK : ExitCode.VERIFY_FAILED
    })
  }
}
