import { resolve } from 'node:path'
import { ExitCode, FerryError } from '@ferry/errors'
import type { Command } from '../command.js'
import { homeDir, printJson, println, usageError, type Context } from '../context.js'
import { formatBytes, plural } from '../format.js'
import { daemonApi } from '../peers.js'

/** Longest `ferry seal` waits for the daemon: it imports the whole finished directory. */
const SEAL_TIMEOUT_MS = 6 * 3600_000

interface ShownWatch { id: number, dir: string, collection: string, name: string, settleMs: number, key: string, published: number, pending: number, closeEvents: boolean, reports: Array<{ path: string, reason: string, at: string }> }

async function daemon (ctx: Context): Promise<import('@ferry/api/client').ApiClient> {
  const client = await daemonApi(homeDir(ctx))
  if (client === undefined) throw new FerryError('ERR_NOT_FOUND', 'No daemon runs on this home: start one with `ferry daemon` (watches run inside it)')
  return client
}

export const watch: Command = {
  name: 'watch',
  summary: 'Publish the files of a directory as they are written, into an open scan (during the experiment)',
  usage: '<dir> --collection ID [--name SCAN] [--settle SECONDS] [--json]',
  help: [
    'Asks the running daemon to watch <dir>: each file, once complete (unchanged for the settle time), is',
    'hashed, signed and published into the open scan (collection, name), servable by its CID at once and',
    'announced to subscribed peers. A file still growing is never published; one rewritten after it was',
    'published is reported and published again as a new version. The watch survives daemon restarts',
    '(files written meanwhile are published after the restart). `ferry seal` closes the scan.',
    '',
    '  --collection ID    the collection the open scan belongs to (required)',
    '  --name SCAN        the open scan\'s name (default: the directory\'s name)',
    '  --settle SECONDS   how long a file must stay unchanged to count as complete (default 2)'
  ].join('\n'),
  options: { collection: { type: 'string' }, name: { type: 'string' }, settle: { type: 'string' } },
  positionals: [1, 1],
  async run (ctx, [dirArg], flags) {
    const usage = `Usage: ferry watch ${watch.usage}`
    const collection = flags.collection as string | undefined
    if (collection === undefined) throw usageError('ferry watch needs --collection', usage)
    const settle = flags.settle === undefined ? undefined : Number(flags.settle)
    if (settle !== undefined && !(settle >= 0.1 && settle <= 3600)) throw usageError(`--settle ${String(flags.settle)}: a number of seconds from 0.1 to 3600`, usage)
    const body = { dir: resolve(dirArg ?? '.'), collection, ...(flags.name !== undefined ? { name: flags.name as string } : {}), ...(settle !== undefined ? { settleSeconds: settle } : {}) }
    const w = await (await daemon(ctx)).request<ShownWatch>('POST', '/v1/watches', body)
    if (ctx.json) printJson(ctx, w)
    else println(ctx, `Watching ${w.dir} (watch ${w.id}): complete files go into ${w.collection}/${w.name}, open scan ${w.key}. Seal it with \`ferry seal --collection ${w.collection} --name ${w.name}\`.`)
    return ExitCode.OK
  }
}

export const watches: Command = {
  name: 'watches',
  summary: 'List the daemon\'s watches (files published, pending, changes reported), or stop one',
  usage: '[--remove ID] [--json]',
  help: '  --remove ID   stop watch ID (its open scan stays open: `ferry seal` it)',
  options: { remove: { type: 'string' } },
  positionals: [0, 0],
  async run (ctx, _args, flags) {
    const client = await daemon(ctx)
    if (flags.remove !== undefined) {
      const w = await client.request<ShownWatch>('DELETE', `/v1/watches/${encodeURIComponent(flags.remove as string)}`)
      if (ctx.json) printJson(ctx, w)
      else println(ctx, `Stopped watch ${w.id} of ${w.dir}; ${w.collection}/${w.name} stays open (${plural(w.published, 'file')} published).`)
      return ExitCode.OK
    }
    const { watches: list } = await client.request<{ watches: ShownWatch[] }>('GET', '/v1/watches')
    if (ctx.json) printJson(ctx, { watches: list })
    else if (list.length === 0) println(ctx, 'No watches.')
    for (const w of ctx.json ? [] : list) {
      const when = w.closeEvents ? 'on close' : `after ${w.settleMs / 1000} s unchanged (no close events: see the daemon's log)`
      println(ctx, `${w.id}  ${w.collection}/${w.name}  ${w.dir}  ${plural(w.published, 'file')} published, ${w.pending} pending, published ${when}`)
      for (const r of w.reports) println(ctx, `    ${r.at}  ${r.path}: ${r.reason}`)
    }
    return ExitCode.OK
  }
}

export const seal: Command = {
  name: 'seal',
  summary: 'Close an open scan: publish what is pending, then commit the finished directory as a signed scan',
  usage: '--collection ID [--name SCAN] [--json]',
  help: [
    'Asks the running daemon to seal the open scan (collection, name): its watch publishes what is pending',
    'and stops, then the directory is imported as `ferry add` imports it, so the root printed is the one',
    '`ferry add` of the same directory gives. Files whose final content differs from what was published',
    'are listed (exit 3).'
  ].join('\n'),
  options: { collection: { type: 'string' }, name: { type: 'string' } },
  positionals: [0, 0],
  async run (ctx, _args, flags) {
    const collection = flags.collection as string | undefined
    if (collection === undefined) throw usageError('ferry seal needs --collection', `Usage: ferry seal ${seal.usage}`)
    const body = { collection, ...(flags.name !== undefined ? { name: flags.name as string } : {}) }
    const r = await (await daemon(ctx)).request<{ root: string, name: string, files: number, bytes: number, published: number, differs: string[], skipped: Array<{ path: string, message: string }> }>('POST', '/v1/seal', body, SEAL_TIMEOUT_MS)
    if (ctx.json) printJson(ctx, r)
    else {
      println(ctx, r.root)
      ctx.stderr.write(`Sealed ${collection}/${r.name}: ${plural(r.files, 'file')}, ${formatBytes(r.bytes)} (${r.published} published while open)\n`)
      if (r.differs.length > 0) ctx.stderr.write(`warning: ${plural(r.differs.length, 'file')} sealed with content never published: ${r.differs.join(', ')}\n`)
      for (const s of r.skipped) ctx.stderr.write(`  skipped ${s.path}: ${s.message}\n`)
    }
    return r.differs.length > 0 || r.skipped.length > 0 ? ExitCode.PARTIAL : ExitCode.OK
  }
}
