import { resolve } from 'node:path'
import { ExitCode, FerryError } from '@ferry/errors'
import type { FerryNode } from '@ferry/node'
import { nodeApi } from '../lazy.js'
import { DEFAULT_DEADLINE_MS, pull as pullScan, type BlockPeer, type PeerSpec, type PullResult } from '@ferry/transfer'
import type { Command } from '../command.js'
import { printJson, println, withHome } from '../context.js'
import { parseRoot } from '../cid.js'
import { fromAddrs } from '../peers.js'
import { formatBytes, formatRate, plural } from '../format.js'
import { ProgressLine, type ProgressState } from '../progress.js'

/** Shortest time between two lines saying that the same peer is still down. */
const PEER_NOTE_INTERVAL_MS = 15_000

export const pull: Command = {
  name: 'pull',
  summary: 'Replicate a scan from other nodes into a directory, verified and resumable',
  usage: '<root> <dest> --from MULTIADDR [--from MULTIADDR]... [--checksum] [--fsync] [--allow-escaping-symlinks] [--deadline SECONDS] [--json]',
  help: [
    'Fetches the scan <root> into <dest> from every --from peer at once (each ends in /p2p/<PeerId>; the peer',
    'must trust this node: `ferry trust <our id>` there). Only what <dest> and this node lack is fetched;',
    'every block is checked against its hash before it is written; files appear under their final names only',
    'when complete and verified. Existing different files are never overwritten: they are reported.',
    'Interrupted? Run the same command again: it resumes.',
    '',
    '  --from MULTIADDR   a node to fetch from (repeat for several)',
    '  --checksum         re-hash files already in <dest> instead of trusting size and mtime',
    '  --deadline SECS    give up when no data has arrived for this long (default 300)',
    '  --fsync            make each file durable on disk before its name appears (slower; default off, as rsync)',
    '  --allow-escaping-symlinks',
    '                     also create symlinks whose target is absolute or leaves <dest> (default: report them)',
    '',
    'Exit 0 when the scan is complete, 3 when files are missing at the source or conflict at <dest>,',
    '5 when <dest> lacks the space, 6 when no peer could deliver.'
  ].join('\n'),
  options: { from: { type: 'string', multiple: true }, checksum: { type: 'boolean' }, fsync: { type: 'boolean' }, 'allow-escaping-symlinks': { type: 'boolean' }, deadline: { type: 'string' } },
  positionals: [2, 2],
  async run (ctx, [rootArg, destArg], flags) {
    const root = parseRoot(rootArg ?? '')
    const dest = resolve(destArg ?? '.')
    const from = (flags.from as string[] | undefined) ?? []
    let deadlineMs: number | undefined
    if (flags.deadline !== undefined) {
      const secs = Number(flags.deadline)
      if (!Number.isFinite(secs) || secs <= 0) throw new FerryError('ERR_USAGE', `--deadline takes a number of seconds, not '${String(flags.deadline)}'`)
      deadlineMs = secs * 1000
    }
    return await withHome(ctx, async (home) => {
      // libp2p is loaded and started only when a peer must be asked: a pull that finds everything in place
      // (or on this node) never touches the network
      let node: Promise<FerryNode> | undefined
      const startNode = async (): Promise<FerryNode> => {
        node ??= nodeApi().then(async ({ createFerryNode }) => await createFerryNode({ home, listen: [] }))
        return await node
      }
      const peers: PeerSpec[] = (await fromAddrs(home.config, from)).map((addr) => ({
        label: addr,
        connect: async (signal) => (await (await startNode()).dialPeer(addr, { signal })) as BlockPeer
      }))
      const state: ProgressState = { files: 0, bytes: 0 }
      const bar = ctx.json ? undefined : new ProgressLine('pulling', state, ctx.stderr)
      const notes: string[] = []
      // A peer that is down is said at once, on stderr, then at most every PEER_NOTE_INTERVAL_MS while it
      // stays down: a pull waiting for a peer never sits silent until its deadline.
      const say = (text: string): void => {
        if (bar !== undefined) bar.note(`ferry: ${text}`)
        else ctx.stderr.write(`ferry: ${text}\n`)
      }
      const lastSaid = new Map<string, number>() // peer -> when we last said it is down
      const whyDown = new Map<string, string>() // peer -> its last failure
      const sayDown = (peer: string, text: string): void => {
        const last = lastSaid.get(peer)
        if (last !== undefined && Date.now() - last < PEER_NOTE_INTERVAL_MS) return
        lastSaid.set(peer, Date.now())
        say(text)
      }
      const deadlineText = `${Math.round((deadlineMs ?? DEFAULT_DEADLINE_MS) / 1000)} s`
      let result: PullResult
      try {
        result = await pullScan({
          root,
          dest,
          peers,
          home,
          signal: ctx.signal,
          checksum: flags.checksum === true,
          fsync: flags.fsync === true,
          allowEscapingSymlinks: flags['allow-escaping-symlinks'] === true,
          deadlineMs,
          onProgress: (e) => {
            switch (e.type) {
              case 'pull:plan':
                state.totalBytes = e.missingBytes
                state.totalFiles = e.missingFiles
                break
              case 'pull:bytes':
              case 'pull:local':
                state.bytes += e.bytes
                break
              case 'pull:file':
                state.files++
                break
              case 'pull:peer':
                if (e.state === 'connected') {
                  if (lastSaid.delete(e.peer)) say(`${e.peer}: connected again`)
                } else if (e.state === 'retrying') {
                  const why = whyDown.get(e.peer)
                  sayDown(e.peer, `${e.peer} is unreachable${why !== undefined ? ` (${why.length > 200 ? `${why.slice(0, 200)}...` : why})` : ''}; ${e.message ?? 'retrying'} (gives up after ${deadlineText} without progress; --deadline to change, Ctrl-C to stop)`)
                } else {
                  notes.push(`${e.peer}: ${e.state}${e.message != null ? ` (${e.message})` : ''}`)
                  if (e.state === 'down' && e.message != null) whyDown.set(e.peer, e.message)
                  if (e.state === 'refused' || e.state === 'banned') say(`${e.peer} ${e.state}${e.message != null ? `: ${e.message}` : ''}`)
                }
                break
            }
          }
        })
      } finally {
        bar?.stop()
        if (node != null) await (await node.catch(() => undefined))?.stop()
      }
      if (ctx.json) {
        printJson(ctx, {
          root: result.root,
          dest: result.dest,
          complete: result.complete,
          files: result.files,
          directories: result.directories,
          symlinks: result.symlinks,
          bytes: result.bytes,
          bytesFetched: result.bytesFetched,
          bytesLocal: result.bytesLocal,
          bytesPresent: result.bytesPresent,
          bytesResumed: result.bytesResumed,
          fromPeers: result.fromPeers,
          skipped: result.skipped,
          problems: result.problems,
          planSeconds: Number(result.planSeconds.toFixed(3)),
          seconds: Number(result.seconds.toFixed(3))
        })
      } else {
        for (const n of notes) ctx.stderr.write(`note: ${n}\n`)
        const rate = formatRate(result.bytesFetched / Math.max(result.seconds, 1e-3))
        const sources = Object.entries(result.fromPeers).map(([p, b]) => `${p.slice(-8)} ${formatBytes(b)}`).join(', ')
        println(ctx, `${result.complete ? 'Complete' : 'INCOMPLETE'}: ${result.dest} holds ${result.root}`)
        println(ctx, `  ${plural(result.files, 'file')}, ${formatBytes(result.bytes)}; fetched ${formatBytes(result.bytesFetched)} in ${result.seconds.toFixed(1)} s (${rate})${sources !== '' ? ` from ${sources}` : ''}`)
        if (result.bytesPresent > 0 || result.bytesLocal > 0 || result.bytesResumed > 0) {
          println(ctx, `  already in place ${formatBytes(result.bytesPresent)}, resumed ${formatBytes(result.bytesResumed)}, copied from this node ${formatBytes(result.bytesLocal)}`)
        }
        if (result.skipped.length > 0) {
          println(ctx, `MISSING AT SOURCE: ${plural(result.skipped.length, 'entry', 'entries')} could not be read at the origin and are not in the scan:`)
          for (const s of result.skipped) println(ctx, `  ${s.path}: ${s.message} (${s.code})`)
        }
        if (result.problems.some((p) => p.code !== 'ERR_MISSING_AT_SOURCE')) {
          println(ctx, 'NOT PLACED:')
          for (const p of result.problems) if (p.code !== 'ERR_MISSING_AT_SOURCE') println(ctx, `  ${p.path}: ${p.message} (${p.code})`)
        }
      }
      if (result.complete) return ExitCode.OK
      if (result.problems.some((p) => p.code === 'ERR_UNAVAILABLE')) return ExitCode.NETWORK
      return ExitCode.PARTIAL
    })
  }
}
