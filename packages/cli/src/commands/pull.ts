import { resolve } from 'node:path'
import { ExitCode, FerryError } from '@ferry/errors'
import type { FerryNode } from '@ferry/node'
import type { Home } from '@ferry/store'
import { nodeApi } from '../lazy.js'
import { DEFAULT_CONNECTIONS, DEFAULT_DEADLINE_MS, MAX_CONNECTIONS_PER_PEER, pull as pullScan, type BlockPeer, type PeerSpec, type PullProgressEvent, type PullResult } from '@ferry/transfer'
import type { CID } from 'multiformats/cid'
import type { Command } from '../command.js'
import { printJson, println, withHome, type Context } from '../context.js'
import { parseRoot } from '../cid.js'
import { checkPeerAddr } from '../peer-addr.js'
import { fromAddrs } from '../peers.js'
import { formatBytes, formatRate, parseSize, plural } from '../format.js'
import { ProgressLine, type ProgressState } from '../progress.js'
import { detachPull } from './pull-detach.js'
import { followPull } from './pull-follow.js'

/** Shortest time between two lines saying that the same peer is still down. */
const PEER_NOTE_INTERVAL_MS = 15_000

/** What the command line asks for, checked before any work. */
interface PullArgs {
  root: CID
  dest: string
  from: string[]
  deadlineMs?: number
  spaceMarginBytes?: number
  /** --connections; else config `pull.connections`; else the engine's DEFAULT_CONNECTIONS. */
  connections?: number
}

/** Parses and checks every argument: a bad one is a usage error (exit 2) before anything is opened. */
/** A --from value that is a name of the address book (`ferry peer add`), not an address. */
const PEER_NAME = /^[a-z][a-z0-9_-]{0,31}$/

function parsePullArgs (rootArg: string | undefined, destArg: string | undefined, flags: Record<string, unknown>): PullArgs {
  const root = parseRoot(rootArg ?? '')
  const from = (flags.from as string[] | undefined) ?? []
  // even when the scan is held here and no peer will be asked; a name of the address book is resolved (and an
  // unknown one refused) as soon as the home is open
  for (const addr of from) if (!PEER_NAME.test(addr)) checkPeerAddr(addr)
  const args: PullArgs = { root, dest: resolve(destArg ?? '.'), from }
  if (flags.deadline !== undefined) {
    const secs = Number(flags.deadline)
    if (!Number.isFinite(secs) || secs <= 0) throw new FerryError('ERR_USAGE', `--deadline takes a number of seconds, not '${String(flags.deadline)}'`)
    args.deadlineMs = secs * 1000
  }
  if (flags['space-margin'] !== undefined) {
    args.spaceMarginBytes = parseSize(String(flags['space-margin']))
    if (args.spaceMarginBytes === undefined) throw new FerryError('ERR_USAGE', `--space-margin takes a size (0, 500M, 2GB, 64MiB), not '${String(flags['space-margin'])}'`)
  }
  if (flags.connections !== undefined) {
    const n = Number(flags.connections)
    if (!Number.isInteger(n) || n < 1 || n > MAX_CONNECTIONS_PER_PEER) throw new FerryError('ERR_USAGE', `--connections takes a whole number from 1 to ${MAX_CONNECTIONS_PER_PEER}, not '${String(flags.connections)}'`)
    args.connections = n
  }
  return args
}

/** What peerReporter returns: its handlers of peer and connection events, and the notes for the summary. */
interface PeerReporter {
  onPeer: (e: Extract<PullProgressEvent, { type: 'pull:peer' }>) => void
  onConnection: (e: Extract<PullProgressEvent, { type: 'pull:connection' }>) => void
  notes: () => string[]
}

/**
 * What the pull says about its peers (and their extra connections): a peer that is down is said at once, on stderr, then at most every
 * PEER_NOTE_INTERVAL_MS while it stays down (a pull waiting for a peer never sits silent until its deadline);
 * its return is said too. `notes` are kept for the summary, minus those of peers that came back.
 */
function peerReporter (say: (text: string) => void, deadlineText: string): PeerReporter {
  const lastSaid = new Map<string, number>() // peer -> when we last said it is down
  const whyDown = new Map<string, string>() // peer -> its last failure
  const notes = new Map<string, string>() // peer -> what the summary says about it
  const onPeer = (e: Extract<PullProgressEvent, { type: 'pull:peer' }>): void => {
    const key = e.label ?? e.peer
    if (e.state === 'connected') {
      notes.delete(key)
      whyDown.delete(key)
      if (lastSaid.delete(key)) say(`${key}: connected again`)
    } else if (e.state === 'retrying') {
      const last = lastSaid.get(key)
      if (last !== undefined && Date.now() - last < PEER_NOTE_INTERVAL_MS) return
      lastSaid.set(key, Date.now())
      const why = whyDown.get(key)
      say(`${key} is unreachable${why !== undefined ? ` (${why.length > 200 ? `${why.slice(0, 200)}...` : why})` : ''}; ${e.message ?? 'retrying'} (gives up after ${deadlineText} without progress; --deadline to change, Ctrl-C to stop)`)
    } else {
      notes.set(key, `${e.peer}: ${e.state}${e.message != null ? ` (${e.message})` : ''}`)
      if (e.state === 'down' && e.message != null) whyDown.set(key, e.message)
      if (e.state === 'refused' || e.state === 'banned') say(`${e.peer} ${e.state}${e.message != null ? `: ${e.message}` : ''}`)
    }
  }
  // an extra connection lost is said, and its return; the pull goes on over the others meanwhile
  const lost = new Set<string>()
  const onConnection = (e: Extract<PullProgressEvent, { type: 'pull:connection' }>): void => {
    const key = `${e.label}: connection ${e.connection}`
    if (e.state === 'down') {
      if (!lost.has(key)) say(`${key} lost (${e.message ?? 'closed'}); its requests go to the other connections, redialling`)
      lost.add(key)
    } else if (lost.delete(key)) say(`${key} connected again`)
  }
  return { onPeer, onConnection, notes: () => [...notes.values()] }
}

/** Runs the pull with a progress line and peer notes on stderr; the result and the notes for the summary. */
async function runPull (ctx: Context, home: Home, args: PullArgs, flags: Record<string, unknown>): Promise<{ result: PullResult, notes: string[] }> {
  // libp2p is loaded and started only when a peer must be asked: a pull that finds everything in place
  // (or on this node) never touches the network
  let node: Promise<FerryNode> | undefined
  const startNode = async (): Promise<FerryNode> => {
    node ??= nodeApi().then(async ({ createFerryNode }) => await createFerryNode({ home, listen: [] }))
    return await node
  }
  const connections = args.connections ?? home.config.pull?.connections ?? DEFAULT_CONNECTIONS
  const peers: PeerSpec[] = args.from.map((addr) => ({
    label: addr,
    connect: async (signal, o) => (await (await startNode()).dialPeer(addr, { signal, shareOf: connections, own: o?.own === true })) as BlockPeer
  }))
  const state: ProgressState = { files: 0, bytes: 0 }
  const bar = ctx.json ? undefined : new ProgressLine('pulling', state, ctx.stderr)
  const say = (text: string): void => {
    if (bar !== undefined) bar.note(`ferry: ${text}`)
    else ctx.stderr.write(`ferry: ${text}\n`)
  }
  const reporter = peerReporter(say, `${Math.round((args.deadlineMs ?? DEFAULT_DEADLINE_MS) / 1000)} s`)
  const onProgress = (e: PullProgressEvent): void => {
    if (e.type === 'pull:plan') {
      state.totalBytes = e.missingBytes
      state.totalFiles = e.missingFiles
    } else if (e.type === 'pull:bytes' || e.type === 'pull:local') state.bytes += e.bytes
    else if (e.type === 'pull:file') state.files++
    else if (e.type === 'pull:peer') reporter.onPeer(e)
    else if (e.type === 'pull:connection') reporter.onConnection(e)
  }
  try {
    const result = await pullScan({
      root: args.root,
      dest: args.dest,
      peers,
      home,
      signal: ctx.signal,
      checksum: flags.checksum === true,
      fsync: flags.fsync === true,
      allowEscapingSymlinks: flags['allow-escaping-symlinks'] === true,
      deadlineMs: args.deadlineMs,
      spaceMarginBytes: args.spaceMarginBytes,
      connections,
      onProgress
    })
    return { result, notes: reporter.notes() }
  } finally {
    bar?.stop()
    if (node != null) await (await node.catch(() => undefined))?.stop()
  }
}

function printJsonResult (ctx: Context, result: PullResult): void {
  const { root, dest, complete, files, directories, symlinks, bytes, bytesFetched, bytesLocal, bytesPresent, bytesResumed, fromPeers, skipped, problems } = result
  printJson(ctx, {
    root,
    dest,
    complete,
    files,
    directories,
    symlinks,
    bytes,
    bytesFetched,
    bytesLocal,
    bytesPresent,
    bytesResumed,
    fromPeers,
    ...(result.fromConnections !== undefined ? { fromConnections: result.fromConnections } : {}),
    skipped,
    problems,
    planSeconds: Number(result.planSeconds.toFixed(3)),
    seconds: Number(result.seconds.toFixed(3)),
    ...(result.phaseTimes !== undefined ? { phaseTimes: roundedTimes(result.phaseTimes) } : {})
  })
}

/** PullResult.phaseTimes to the millisecond, for `--json`. */
function roundedTimes (times: NonNullable<PullResult['phaseTimes']>): Record<string, { seconds: number, cpuSeconds: number }> {
  return Object.fromEntries(Object.entries(times).map(([phase, t]) => [phase, { seconds: Number(t.seconds.toFixed(3)), cpuSeconds: Number(t.cpuSeconds.toFixed(3)) }]))
}

function printSummary (ctx: Context, result: PullResult, notes: string[]): void {
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

export const pull: Command = {
  name: 'pull',
  summary: 'Replicate a scan from other nodes into a directory, verified and resumable',
  usage: '<root> <dest> --from PEER [--from PEER]... [--checksum] [--fsync] [--allow-escaping-symlinks] [--deadline SECONDS] [--space-margin SIZE] [--connections N] [--detach [--label TEXT] [--on-done CMD]] [--json]\n       ferry pull --collection ID <dest> --from PEER... --follow [--idle DURATION] [--deadline SECONDS] [--json]',
  help: [
    'Fetches the scan <root> into <dest> from every --from peer at once (each ends in /p2p/<PeerId>; the peer',
    'must trust this node: `ferry trust <our id>` there). Only what <dest> and this node lack is fetched;',
    'every block is checked against its hash before it is written; files appear under their final names only',
    'when complete and verified. Existing different files are never overwritten: they are reported.',
    'Interrupted? Run the same command again: it resumes.',
    '',
    '  --from PEER        a node to fetch from: its multiaddr, or its name from `ferry peer add` (repeat for several)',
    '  --checksum         re-hash every file already in <dest>, even those Ferry placed itself',
    '                     (files Ferry did not place are always hashed)',
    '  --deadline SECS    give up when no data has arrived for this long (default 300)',
    '  --space-margin SIZE  free space to leave on <dest> (default 1% of its filesystem, at most 64 MiB)',
    '  --connections N    TCP connections to each peer, its requests spread over them (1-8; default the',
    '                     config\'s pull.connections, else 4): one stream is bounded by window / RTT and by loss',
    '  --fsync            make each file durable on disk before its name appears (slower; default off, as rsync)',
    '  --allow-escaping-symlinks',
    '                     also create symlinks whose target is absolute or leaves <dest> (default: report them)',
    '  --detach           hand the pull to this home\'s running daemon as a durable task and return at once,',
    '                     printing its id (`{"taskId"}` with --json); `ferry task <id> --watch` follows it. There',
    '                     --deadline is when the task gives up (3600, 90m, 12h, 2d or an ISO time; default 1 day)',
    '  --label TEXT       with --detach: the task\'s label (`ferry tasks` shows it)',
    '  --on-done CMD      with --detach: a shell command run when the task ends (FERRY_TASK_ID, FERRY_CONDITION, ...)',
    '',
    '  --collection ID --follow',
    '                     every scan of collection ID into <dest>/<scan name>/ as the source acquires it (`ferry',
    '                     watch` there): each published file appears, verified, as soon as it is fetched (one line',
    '                     on stderr each, with its lag); each scan, once sealed, is verified against its sealed root.',
    '                     Ends (exit 0) once every scan seen is sealed and verified and none appeared for --idle',
    '                     (default 0); before the first scan is seen it waits. Ctrl-C stops; run it again to go on',
    '  --idle DURATION    with --follow: how long to wait for another scan once all are sealed (30, 90s, 10m, 2h)',
    '',
    'Exit 0 only when every file of the scan is at <dest> byte for byte; 2 for a bad argument (checked before',
    'any work); 3 when files are missing at the source or conflict at <dest>; 5 when <dest> lacks the space;',
    '6 when no peer could deliver; 7 when every peer answered and none holds <root>; 8 when <dest> cannot be',
    'written (read-only, not permitted) or another pull is writing there. With --detach: 0 once the task is',
    'queued, 2 for a bad argument, 8 when no daemon runs on the home (start `ferry daemon`).'
  ].join('\n'),
  options: { from: { type: 'string', multiple: true }, checksum: { type: 'boolean' }, fsync: { type: 'boolean' }, 'allow-escaping-symlinks': { type: 'boolean' }, deadline: { type: 'string' }, 'space-margin': { type: 'string' }, connections: { type: 'string' }, detach: { type: 'boolean' }, label: { type: 'string' }, 'on-done': { type: 'string' }, collection: { type: 'string' }, follow: { type: 'boolean' }, idle: { type: 'string' } },
  positionals: [1, 2],
  async run (ctx, [rootArg, destArg], flags) {
    if (flags.follow === true || flags.collection !== undefined) {
      if (flags.follow !== true || destArg !== undefined) throw new FerryError('ERR_USAGE', 'Following a collection is `ferry pull --collection ID <dest> --from PEER --follow` (one positional: the destination)')
      return await followPull(ctx, rootArg, flags)
    }
    if (flags.detach === true && flags.connections !== undefined) throw new FerryError('ERR_USAGE', '--connections does not go with --detach: the daemon\'s tasks use its config.json "pull": { "connections": N }')
    if (flags.idle !== undefined) throw new FerryError('ERR_USAGE', '--idle goes with --follow')
    if (destArg === undefined) throw new FerryError('ERR_USAGE', 'ferry pull takes <root> <dest> (or --collection ID <dest> --follow)')
    if (flags.detach === true) return await detachPull(ctx, rootArg, destArg, flags)
    if (flags.label !== undefined || flags['on-done'] !== undefined) throw new FerryError('ERR_USAGE', '--label and --on-done go with --detach (a task of the daemon)')
    const args = parsePullArgs(rootArg, destArg, flags)
    return await withHome(ctx, async (home) => {
      args.from = await fromAddrs(home.config, args.from)
      const { result, notes } = await runPull(ctx, home, args, flags)
      if (ctx.json) printJsonResult(ctx, result)
      else printSummary(ctx, result, notes)
      if (result.complete) return ExitCode.OK
      if (result.problems.some((p) => p.code === 'ERR_UNAVAILABLE')) return ExitCode.NETWORK
      return ExitCode.PARTIAL
    })
  }
}
