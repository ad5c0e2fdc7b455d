import { ExitCode } from '@ferry/errors'
import type { Command } from '../command.js'
import { printJson, println, withHome } from '../context.js'
import { parseRoot } from '../cid.js'
import { formatBytes } from '../format.js'
import { peerLabel, recordFor } from './verify.js'

const when = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ') + ' UTC'

export const provenance: Command = {
  name: 'provenance',
  summary: 'Show who signed a scan, when, and where this node\'s copies came from',
  usage: '<root> [--json]',
  help: [
    'For every record of the scan <root> in this node\'s catalog: the origin that signed it (with its name',
    'from config.json "peers"), when the scan was taken and signed, whether the signature verifies over the',
    'record and every entry as stored here, and where the local copy came from: the peers it was pulled from',
    '(bytes each, when) or "imported here from <path>".',
    'Exit 0 when every record verifies, 4 when one does not (or is unsigned), 7 when the scan is unknown here.'
  ].join('\n'),
  options: {},
  positionals: [1, 1],
  async run (ctx, [rootArg]) {
    const root = parseRoot(rootArg ?? '')
    return await withHome(ctx, async (home) => {
      recordFor(home, root, undefined) // ERR_ROOT_NOT_FOUND with advice if there is none
      const scans = home.catalog.listScans().filter((s) => s.root?.equals(root) === true)
      const self = home.peerId.toString()
      const nameOf = (id: string): string | null => id === self ? 'this node' : home.config.peers.find((p) => p.id === id)?.name ?? null
      const reports = []
      for (const s of scans) {
        const check = await home.catalog.checkSignature(s)
        const from = home.catalog.provenance(s.id)
        reports.push({
          root: root.toString(),
          collection: s.collection,
          name: s.name,
          origin: s.origin,
          originName: nameOf(s.origin),
          created: new Date(s.created).toISOString(),
          signedAt: s.signature !== undefined ? new Date(s.signature.signedAt).toISOString() : null,
          signature: check.ok ? 'valid' : s.signature === undefined ? 'unsigned' : 'invalid',
          ...(check.ok ? {} : { problem: check.reason }),
          path: s.sourcePath,
          importedHere: s.origin === self && from.length === 0,
          fetchedFrom: from.map((p) => ({ peer: p.peer, name: nameOf(p.peer), bytes: p.bytes, at: new Date(p.fetched).toISOString() }))
        })
      }
      const allValid = reports.every((r) => r.signature === 'valid')
      if (ctx.json) {
        printJson(ctx, reports)
        return allValid ? ExitCode.OK : ExitCode.VERIFY_FAILED
      }
      for (const [i, r] of reports.entries()) {
        const s = scans[i]
        if (s === undefined) continue
        if (i > 0) println(ctx)
        println(ctx, `Scan '${r.name}'${r.collection !== null ? ` (collection ${r.collection})` : ''} ${r.root}`)
        println(ctx, `  origin      ${peerLabel(home, r.origin)}`)
        println(ctx, `  taken       ${when(s.created)}${s.signature !== undefined ? `, signed ${when(s.signature.signedAt)}` : ''}`)
        println(ctx, `  signature   ${r.signature === 'valid' ? 'valid (record and every entry, as stored here)' : `${r.signature.toUpperCase()}: ${r.problem ?? ''}`}`)
        if (r.importedHere) {
          println(ctx, `  copy        imported here from ${r.path}`)
        } else {
          println(ctx, `  copy        ${r.path}`)
          if (r.fetchedFrom.length === 0) println(ctx, '  came from   (not recorded)')
          for (const p of r.fetchedFrom) println(ctx, `  came from   ${peerLabel(home, p.peer)}: ${formatBytes(p.bytes)}, ${when(Date.parse(p.at))}`)
        }
      }
      return allValid ? ExitCode.OK : ExitCode.VERIFY_FAILED
    })
  }
}
