import { ExitCode, FerryError } from '@ferry/errors'
import { walkDag } from '@ferry/dag'
import type { Command } from '../command.js'
import { println, withHome } from '../context.js'
import { parseRoot } from '../cid.js'
import { formatBytes } from '../format.js'

export const ls: Command = {
  name: 'ls',
  summary: 'List the tree of a scan with sizes',
  usage: '<root> [--json]',
  help: 'Lists every entry under <root>, which must be in this node\'s catalog. --json prints one object { root, entries: [{ path, type, size, cid, target? }] }.',
  options: {},
  positionals: [1, 1],
  async run (ctx, [rootArg]) {
    const root = parseRoot(rootArg ?? '')
    return await withHome(ctx, async (home) => {
      if (root.code !== 0x55 && !(await home.blocks.has(root))) {
        throw new FerryError('ERR_ROOT_NOT_FOUND', `Root ${root.toString()} is not known here: import it with \`ferry add\` (or pull it) first`)
      }
      const get = home.blocks.get.bind(home.blocks)
      if (ctx.json) {
        // streamed, so a scan of a million entries never sits in memory as one string
        ctx.stdout.write(`{\n  "root": ${JSON.stringify(root.toString())},\n  "entries": [`)
        let first = true
        for await (const e of walkDag(root, get, { signal: ctx.signal })) {
          const item = { path: e.path, type: e.type, size: e.size, cid: e.cid.toString(), ...(e.target != null ? { target: e.target } : {}) }
          ctx.stdout.write(`${first ? '' : ','}\n    ${JSON.stringify(item)}`)
          first = false
        }
        ctx.stdout.write('\n  ]\n}\n')
        return ExitCode.OK
      }
      for await (const e of walkDag(root, get, { signal: ctx.signal })) {
        if (e.path === '' && e.type === 'file') println(ctx, `${root.toString()} is a file of ${formatBytes(e.size)}, not a scan: \`ferry scans\` lists the roots of scans`)
        if (e.path === '') continue
        const size = e.type === 'file' ? formatBytes(e.size) : '-'
        const shown = e.type === 'directory' ? `${e.path}/` : e.type === 'symlink' ? `${e.path} -> ${e.target ?? ''}` : e.path
        println(ctx, `${size.padStart(10)}  ${shown}`)
      }
      return ExitCode.OK
    })
  }
}
