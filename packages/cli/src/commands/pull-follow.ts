/**
 * `ferry pull --collection ID <dest> --from PEER... --follow`: every scan of the collection into
 * `<dest>/<scan name>/` as it is acquired (open scans file by file, sealed ones as ordinary pulls), in the
 * foreground, until every scan it follows is sealed and verified and none has appeared for `--idle`.
 */
import { resolve } from 'node:path'
import { ExitCode, FerryError } from '@ferry/errors'
import type { FerryNode } from '@ferry/node'
import type { Home } from '@ferry/store'
import type { FollowPeer, FollowProgressEvent, FollowScanResult } from '@ferry/follow'
import { followApi, nodeApi } from '../lazy.js'
import { printJson, println, withHome, type Context } from '../context.js'
import { checkPeerAddr } from '../peer-addr.js'
import { fromAddrs } from '../peers.js'
import { formatBytes, plural } from '../format.js'

const PEER_NAME = /^[a-z][a-z0-9_-]{0,31}$/
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 }

/** Default --idle: end as soon as every scan known is sealed and verified. */
export const DEFAULT_IDLE_SECONDS = 0

/** Seconds from "30", "90s", "10m", "2h"; ERR_USAGE otherwise. */
function parseIdle (text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhd]?)$/.exec(text.trim())
  if (m === null) throw new FerryError('ERR_USAGE', `--idle takes a duration (30, 90s, 10m, 2h), not '${text}'`)
  return Number(m[1]) * (UNIT_SECONDS[m[2] ?? ''] ?? 1)
}

interface FollowArgs { collection: string, dest: string, from: string[], idleMs: number, deadlineMs?: number }

function parseFollowArgs (destArg: string | undefined, flags: Record<string, unknown>): FollowArgs {
  const collection = flags.collection
  if (typeof collection !== 'string' || collection === '') throw new FerryError('ERR_USAGE', '--follow takes --collection ID: the collection whose scans to follow')
  const from = (flags.from as string[] | undefined) ?? []
  if (from.length === 0) throw new FerryError('ERR_USAGE', '--follow needs --from PEER: the node that publishes the scans')
  for (const addr of from) if (!PEER_NAME.test(addr)) checkPeerAddr(addr)
  for (const f of ['detach', 'label', 'on-done', 'allow-escaping-symlinks']) {
    if (flags[f] !== undefined) throw new FerryError('ERR_USAGE', `--${f} does not go with --follow`)
  }
  const args: FollowArgs = { collection, dest: resolve(destArg ?? '.'), from, idleMs: parseIdle(String(flags.idle ?? DEFAULT_IDLE_SECONDS)) * 1000 }
  if (flags.deadline !== undefined) {
    const secs = Number(flags.deadline)
    if (!Number.isFinite(secs) || secs <= 0) throw new FerryError('ERR_USAGE', `--deadline takes a number of seconds, not '${String(flags.deadline)}'`)
    args.deadlineMs = secs * 1000
  }
  return args
}

/** One line on stderr per event worth a line: a scan seen, a file landed (with its lag), a seal verified. */
function reporter (ctx: Context): (e: FollowProgressEvent) => void {
  const say = (text: string): void => { ctx.stderr.write(`ferry: ${text}\n`) }
  return (e) => {
    if (e.type === 'follow:scan') say(`${e.name}: ${e.state === 'open' ? 'open, following it as it is acquired' : 'sealed, pulling it'}`)
    else if (e.type === 'follow:file') say(`${e.name}/${e.path} ${formatBytes(e.size)}, lag ${e.lagMs} ms`)
    else if (e.type === 'follow:stale') say(`${e.name}/${e.path}: version ${e.seq} is no longer served (rewritten at the source); its next version replaces it`)
    else if (e.type === 'follow:swept') say(`${e.name}: removed ${plural(e.paths.length, 'temporary file')} an earlier follower left when it was killed`)
    else if (e.type === 'follow:peer') say(e.state === 'down' ? `${e.peer} is unreachable (${e.message ?? 'retrying'}); retrying` : `${e.peer}: connected again`)
    else if (e.type === 'follow:conflict') say(`${e.name}/${e.path}: a different file is at the destination, not placed by Ferry; not replaced`)
    else if (e.type === 'follow:sealed' && e.result !== null) say(`${e.name}: sealed into ${e.root}, ${e.result.complete ? 'verified' : 'INCOMPLETE'} (${plural(e.result.files, 'file')}, ${formatBytes(e.result.bytes)})`)
  }
}

function summarize (ctx: Context, args: FollowArgs, results: Replicated[]): void {
  const scans = results.map(({ name, key, root, result, followed }) => ({
    name, key, root, dest: result.dest, complete: result.complete, files: result.files, bytes: result.bytes, followed, bytesFetched: result.bytesFetched, problems: result.problems
  }))
  if (ctx.json) {
    printJson(ctx, { collection: args.collection, dest: args.dest, complete: scans.every((s) => s.complete), scans })
    return
  }
  for (const s of scans) {
    println(ctx, `${s.complete ? 'Complete' : 'INCOMPLETE'}: ${s.dest} holds ${s.root} (${plural(s.files, 'file')}, ${formatBytes(s.bytes)})`)
    for (const p of s.problems) println(ctx, `  ${p.path}: ${p.message} (${p.code})`)
  }
}

/** A follow's scan with its pull (the CLI always pulls the sealed root). */
type Replicated = FollowScanResult & { result: NonNullable<FollowScanResult['result']> }

/** Runs the follow with its own libp2p node; the scans replicated. */
async function runFollow (ctx: Context, home: Home, args: FollowArgs): Promise<Replicated[]> {
  const { followCollection } = await followApi()
  let node: Promise<FerryNode> | undefined
  const startNode = async (): Promise<FerryNode> => {
    node ??= nodeApi().then(async ({ createFerryNode }) => await createFerryNode({ home, listen: [] }))
    return await node
  }
  const peers = args.from.map((addr) => ({ label: addr, connect: async (signal: AbortSignal): Promise<FollowPeer> => (await (await startNode()).dialPeer(addr, { signal })) as FollowPeer }))
  try {
    const follower = followCollection({
      collection: args.collection, dest: args.dest, peers, home, signal: ctx.signal, idleMs: args.idleMs, deadlineMs: args.deadlineMs, onProgress: reporter(ctx)
    })
    return (await follower.done).filter((r): r is Replicated => r.result !== null)
  } finally {
    if (node != null) await (await node.catch(() => undefined))?.stop()
  }
}

/** `ferry pull --collection ID <dest> --follow`: see the module comment; the exit code. */
export async function followPull (ctx: Context, destArg: string | undefined, flags: Record<string, unknown>): Promise<number> {
  const args = parseFollowArgs(destArg, flags)
  return await withHome(ctx, async (home) => {
    args.from = await fromAddrs(home.config, args.from)
    const results = await runFollow(ctx, home, args)
    summarize(ctx, args, results)
    if (results.every((r) => r.result.complete)) return ExitCode.OK
    if (results.some((r) => r.result.problems.some((p) => p.code === 'ERR_UNAVAILABLE'))) return ExitCode.NETWORK
    return ExitCode.PARTIAL
  })
}
