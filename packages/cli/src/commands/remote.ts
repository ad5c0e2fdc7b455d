import { ExitCode, FerryError } from '@ferry/errors'
import type { RemoteCatalogRow } from '@ferry/exchange'
import type { FerryNode } from '@ferry/node'
import type { Home } from '@ferry/store'
import type { Command } from '../command.js'
import { println, withHome, type Context } from '../context.js'
import { formatBytes, formatCount } from '../format.js'
import { nodeApi } from '../lazy.js'

/**
 * Rows asked for per page: the wire's maximum (MAX_CATALOG_PAGE_ROWS), since the server's byte budget
 * bounds a page anyway. 10^5 scans list in ~7 s (100 rows a page: ~10 s), the CLI at ~150 MB peak RSS.
 */
const PAGE_ROWS = 1000

/**
 * The multiaddr to dial for the `<peer>` argument: a multiaddr ending in /p2p/<PeerId> as given, or a name
 * (or PeerId) from the address book (`peers` in config.json, which `ferry peer add` fills) at its first
 * address. This is the one place a peer name is resolved: `ferry peer` only has to write the book.
 */
export function resolvePeerAddr (home: Pick<Home, 'config'>, arg: string): string {
  if (arg.startsWith('/')) {
    if (!arg.includes('/p2p/')) throw new FerryError('ERR_USAGE', `${arg} does not end in /p2p/<PeerId>: the peer's identity must be known to dial it (\`ferry id\` on that node prints its addresses)`)
    return arg
  }
  const entry = home.config.peers.find((p) => p.name === arg || p.id === arg)
  if (entry === undefined) throw new FerryError('ERR_USAGE', `No peer named "${arg}" in the address book: give a multiaddr ending in /p2p/<PeerId>`)
  const addr = entry.addrs[0]
  if (addr === undefined) throw new FerryError('ERR_USAGE', `Peer "${arg}" (${entry.id}) has no address in the address book: give a multiaddr ending in /p2p/${entry.id}`)
  return addr.includes('/p2p/') ? addr : `${addr}/p2p/${entry.id}`
}

function parseLimit (value: unknown): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1) throw new FerryError('ERR_USAGE', `--limit takes a positive number of scans, not '${String(value)}'`)
  return n
}

/** `YYYY-MM-DD HH:MM` in the local time zone. */
function localTime (ms: number): string {
  const d = new Date(ms)
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`
}

const HEAD = ['COLLECTION', 'NAME', 'ROOT', 'FILES', 'SIZE', 'CREATED', 'STATE']
const RIGHT = new Set([3, 4])

function cells (r: RemoteCatalogRow): string[] {
  return [r.collection ?? '-', r.name, r.root, formatCount(r.files), formatBytes(r.bytes), localTime(r.created), r.state]
}

/**
 * Prints rows as they arrive, in bounded memory: a table whose column widths come from the first page
 * (later wider cells push their line out, never get cut), or one JSON array streamed element by element.
 */
function printer (ctx: Context): { rows: (rows: RemoteCatalogRow[]) => void, end: () => number } {
  let widths: number[] | undefined
  let count = 0
  const fmt = (r: string[], w: number[]): string => r.map((c, i) => RIGHT.has(i) ? c.padStart(w[i] ?? 0) : c.padEnd(w[i] ?? 0)).join('  ').trimEnd()
  return {
    rows (rows) {
      for (const r of rows) {
        if (ctx.json) {
          ctx.stdout.write(`${count === 0 ? '[\n' : ',\n'}  ${JSON.stringify({ ...r, created: new Date(r.created).toISOString() })}`)
        } else {
          if (widths === undefined) {
            const table = rows.map(cells)
            widths = HEAD.map((h, i) => Math.max(h.length, ...table.map((c) => (c[i] ?? '').length)))
            println(ctx, fmt(HEAD, widths))
          }
          println(ctx, fmt(cells(r), widths))
        }
        count++
      }
    },
    end () {
      if (ctx.json) ctx.stdout.write(count === 0 ? '[]\n' : '\n]\n')
      else if (count === 0) println(ctx, 'No scans: the peer offers none that this node may read.')
      return count
    }
  }
}

export const remote: Command = {
  name: 'remote',
  summary: 'List the scans another node offers (those it lets this node read)',
  usage: '<peer> [<collection>] [--prefix NAME] [--limit N] [--json]',
  help: [
    'Asks <peer> (a multiaddr ending in /p2p/<PeerId>, or a name from the address book) for its catalog:',
    'every complete scan it holds that this node may read, page by page. Collections it grants to other',
    'peers only are not shown at all. The peer must trust this node (`ferry trust <our id>` there).',
    '',
    '  <collection>    only scans of this collection',
    '  --prefix NAME   only scans whose name starts with NAME',
    '  --limit N       stop after N scans',
    '  --json          a JSON array of { root, collection, name, origin, files, directories, symlinks, bytes,',
    '                  created, skipped, state }, streamed',
    '',
    'Exit 0 on success (also when nothing is offered), 2 for a bad argument, 6 when the peer cannot be',
    'reached or refuses this node.'
  ].join('\n'),
  options: { limit: { type: 'string' }, prefix: { type: 'string' } },
  positionals: [1, 2],
  async run (ctx, [peerArg, collection], flags) {
    const limit = parseLimit(flags.limit)
    return await withHome(ctx, async (home) => {
      const addr = resolvePeerAddr(home, peerArg ?? '')
      const { createFerryNode } = await nodeApi()
      const node: FerryNode = await createFerryNode({ home, listen: [] })
      const out = printer(ctx)
      try {
        const client = await node.dialPeer(addr, { signal: ctx.signal })
        const pageSize = Math.min(PAGE_ROWS, limit ?? PAGE_ROWS)
        let left = limit ?? Infinity
        const pages = client.listCatalog({ pageSize, signal: ctx.signal, ...(collection !== undefined ? { collection } : {}), ...(typeof flags.prefix === 'string' ? { prefix: flags.prefix } : {}) })
        for await (const page of pages) {
          out.rows(page.rows.slice(0, left))
          left -= page.rows.length
          if (left <= 0) break
        }
      } finally {
        await node.stop()
      }
      out.end()
      return ExitCode.OK
    })
  }
}
