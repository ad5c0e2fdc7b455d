/**
 * `runDaemon`: the long-running node of a home.
 *
 * One daemon per home: `daemon.json` ({ pid, peerId, addrs, started, api }) is created exclusively (hard link of
 * a complete temporary file, so no reader ever sees it half-written); a file left by a process that no
 * longer runs is stale and replaced. The file is rewritten with the listening addresses once the node is up
 * (`ferry id` shows them) and removed when the daemon stops.
 *
 * Services (the HTTP API, in @ferry/api, which depends on this package) are passed in by the caller as
 * `services`: runDaemon starts them once the node listens, writes what they report (the API's URL) into
 * daemon.json, and stops them before the node, so their lifetime is the daemon's whoever starts it.
 */
import { randomBytes } from 'node:crypto'
import { unlinkSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { FerryError, fromSystemError } from '@ferry/errors'
import { openHome, type Home } from '@ferry/store'
import { DAEMON_FILE } from './constants.js'
export { readDaemonInfo, type DaemonInfo } from './daemon-info.js'
import { createFerryNode, type FerryNode, type FerryNodeInit } from './node.js'
import { LeafCache } from './leaf-cache.js'
import type { RefusalKind } from './access-policy.js'
import { isAlive, readInfo, type DaemonInfo } from './daemon-info.js'
import { createEventBus, type EventBus } from './events.js'
import { createPeerBook, type PeerBook } from './peer-book.js'
import { listPeers } from './peers.js'
import { cutFromEnv } from './test-cut.js'

/** What a daemon service gets: the daemon's home, node, event bus and peer states. */
export interface DaemonContext {
  home: Home
  node: FerryNode
  info: Readonly<DaemonInfo>
  events: EventBus
  peers: PeerBook
  /** Leaves just published, served from memory: a watch puts the leaves it hashes here. */
  leafCache: LeafCache
}

/** A service running beside the daemon's node (the HTTP API). */
export interface DaemonService {
  /** Fields for daemon.json (the API's URL). */
  info?: Pick<DaemonInfo, 'api'>
  /** Stops it; called before the node stops. */
  stop: () => Promise<void>
}

/** Starts a service once the node listens. A failure stops the daemon. */
export type DaemonServiceStarter = (ctx: DaemonContext) => Promise<DaemonService>

/** Options of `runDaemon`. */
export interface RunDaemonOptions {
  /** Multiaddrs to listen on; default the home's config. */
  listen?: string[]
  /** Serve every peer (prints a warning). */
  open?: boolean
  /** Stops the daemon. Without one, SIGINT and SIGTERM do. */
  signal?: AbortSignal
  /** Where status lines go (addresses, warnings, stop). Default: stdout. */
  print?: (line: string) => void
  /** Called once the node listens. */
  onReady?: (info: DaemonInfo, node: FerryNode) => void
  /** Passed to createFerryNode (measurements, tests). */
  node?: Omit<FerryNodeInit, 'home' | 'listen' | 'open' | 'onRefused' | 'onSourceChanged'>
  /** Started in order once the node listens, stopped in reverse before it (the HTTP API). */
  services?: DaemonServiceStarter[]
  /** Between checks of the named peers not connected; default PEER_CHECK_INTERVAL_MS, 0 = only at start. */
  peerCheckIntervalMs?: number
}

async function writeTemp (file: string, info: DaemonInfo): Promise<string> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await fs.writeFile(tmp, JSON.stringify(info, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
  } catch (err) {
    throw fromSystemError(err, tmp)
  }
  return tmp
}

/** Creates `daemon.json` for this process, replacing a stale one; ERR_DAEMON_RUNNING if a live daemon owns it. */
async function claim (file: string, info: DaemonInfo): Promise<void> {
  const tmp = await writeTemp(file, info)
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await fs.link(tmp, file)
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fromSystemError(err, file)
      }
      const other = await readInfo(file)
      if (other !== undefined && other.pid !== process.pid && isAlive(other.pid)) {
        throw new FerryError('ERR_DAEMON_RUNNING', `A Ferry daemon (pid ${other.pid}, peer ${other.peerId}) already serves ${path.dirname(file)}: stop it first`,
          { details: { pid: other.pid, peerId: other.peerId, addrs: other.addrs } })
      }
      await fs.rm(file, { force: true }) // stale: its process is gone
    }
    throw new FerryError('ERR_DAEMON_RUNNING', `Another process keeps claiming ${file}: is a daemon starting there?`)
  } finally {
    await fs.rm(tmp, { force: true }).catch(() => {})
  }
}

/** Rewrites our own `daemon.json` atomically. */
async function update (file: string, info: DaemonInfo): Promise<void> {
  const tmp = await writeTemp(file, info)
  try {
    await fs.rename(tmp, file)
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => {})
    throw fromSystemError(err, file)
  }
}

/** Removes `daemon.json` if it is still ours. */
async function release (file: string): Promise<void> {
  const info = await readInfo(file).catch(() => undefined)
  if (info?.pid === process.pid) await fs.rm(file, { force: true }).catch(() => {})
}

/** Refusals printed per peer and kind, at most one line each per this many ms (a retrying peer would flood the log). */
const REFUSAL_LINE_INTERVAL_MS = 60_000

/** Prints "Refused <peer>: <reason>", rate-limited per (peer, kind). */
function refusalPrinter (print: (line: string) => void): (peer: string, kind: RefusalKind, reason: string) => void {
  const last = new Map<string, number>()
  return (peer, kind, reason) => {
    const key = `${peer} ${typeof kind === 'string' ? kind : `collection ${kind.collection}`}`
    const now = Date.now()
    const before = last.get(key)
    if (before !== undefined && now - before < REFUSAL_LINE_INTERVAL_MS) return
    if (last.size > 10_000) last.clear() // bounded: many distinct peers just reset the memory
    last.set(key, now)
    print(`Refused ${peer}: ${reason}`)
  }
}

/** Prints what the daemon serves and to whom, once it listens. */
function printStatus (print: (line: string) => void, home: Home, node: FerryNode, info: DaemonInfo, open: boolean): void {
  print(`Ferry daemon ${info.peerId} (pid ${info.pid}) serving ${home.dir}`)
  if (info.addrs.length === 0) print('Not listening on any address: other peers cannot reach this node')
  else print('Listening on:')
  for (const a of info.addrs) print(`  ${a}`)
  if (info.api !== undefined) print(`API: ${info.api} (token in ${path.join(home.dir, 'api-token')})`)
  if (node.privateNetwork) print('Private network: only nodes with the same swarm.key can connect.')
  const restricted = Object.keys(home.config.grants ?? {}).length
  if (restricted > 0) print(`${restricted} collection${restricted === 1 ? '' : 's'} readable by granted peers only (\`ferry grant --list\`).`)
  if (open) {
    print(`WARNING: --open: every peer that can reach this node may fetch every scan in it, trusted or not${restricted > 0 ? ', except collections restricted by grants' : ''}.`)
  } else if (node.trust.list.length === 0) {
    print('No trusted peers yet: nobody can fetch from this node until you run `ferry trust <PeerId>`.')
  }
}

/** SIGINT/SIGTERM as an abort signal, unless the caller gave one; `remove` drops the handlers. */
function stopSignal (given: AbortSignal | undefined): { signal: AbortSignal, remove: () => void } {
  if (given !== undefined) return { signal: given, remove: () => {} }
  const controller = new AbortController()
  const onSignal = (sig: NodeJS.Signals): void => { controller.abort(new FerryError('ERR_ABORTED', `Interrupted by ${sig}`)) }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  return {
    signal: controller.signal,
    remove: () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  }
}

/** Starts `starters` in order; if one fails, stops those already started and rethrows. */
async function startServices (starters: DaemonServiceStarter[], ctx: DaemonContext, info: DaemonInfo): Promise<DaemonService[]> {
  const started: DaemonService[] = []
  try {
    for (const start of starters) {
      const service = await start(ctx)
      started.push(service)
      Object.assign(info, service.info)
    }
  } catch (err) {
    await stopServices(started)
    throw err
  }
  return started
}

async function stopServices (services: DaemonService[]): Promise<void> {
  for (const s of services.splice(0).reverse()) await s.stop().catch(() => {})
}

/** Says once per source file (and reason) that it changed since import and is no longer served. */
function changePrinter (print: (line: string) => void): (reason: string) => void {
  const said = new Set<string>()
  return (reason) => {
    if (said.has(reason)) return
    if (said.size > 10_000) said.clear() // bounded
    said.add(reason)
    print(`Not serving: ${reason} (\`ferry verify <dir> <root>\` lists what differs; \`ferry add\` it again to serve the new content)`)
  }
}

/**
 * Runs the daemon of the home in `homeDir` until `options.signal` aborts (or SIGINT/SIGTERM without one).
 * Resolves after a graceful stop. ERR_DAEMON_RUNNING if another live daemon holds the home.
 */
export async function runDaemon (homeDir: string, options: RunDaemonOptions = {}): Promise<void> {
  const print = options.print ?? ((line: string) => { process.stdout.write(line + '\n') })
  const { signal, remove: removeHandlers } = stopSignal(options.signal)
  const home = await openHome(homeDir)
  const file = path.join(home.dir, DAEMON_FILE)
  const info: DaemonInfo = { pid: process.pid, peerId: home.peerId.toString(), addrs: [], started: new Date().toISOString() }
  const onExit = (): void => {
    try {
      unlinkSync(file)
    } catch {
      // already gone
    }
  }
  let node: FerryNode | undefined
  let peers: PeerBook | undefined
  const leafCache = options.node?.leafCache ?? new LeafCache()
  const services: DaemonService[] = []
  try {
    await claim(file, info)
    process.once('exit', onExit) // a crash still leaves a stale file; this covers process.exit()
    node = await createFerryNode({ ...options.node, ...cutFromEnv(process.env, print), leafCache, home, listen: options.listen, open: options.open, onRefused: refusalPrinter(print), onSourceChanged: changePrinter(print) })
    info.addrs = node.addrs()
    const events = createEventBus()
    peers = createPeerBook({ node, events, peers: async () => await listPeers(home.dir), intervalMs: options.peerCheckIntervalMs })
    services.push(...await startServices(options.services ?? [], { home, node, info, events, peers, leafCache }, info))
    await update(file, info)
    printStatus(print, home, node, info, options.open === true)
    options.onReady?.(info, node)
    void peers.checkAll()
    if (!signal.aborted) {
      await new Promise<void>((resolve) => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })
    }
    print('Stopping...')
    const { hits, misses } = leafCache.stats
    if (hits + misses > 0) print(`Leaf cache: ${hits} of ${hits + misses} leaves asked for while it held some were served from memory`)
  } finally {
    removeHandlers()
    try {
      await stopServices(services)
      peers?.stop()
      await node?.stop()
    } finally {
      await home.close()
      await release(file)
      process.off('exit', onExit)
    }
  }
  print('Stopped.')
}
