/**
 * `runDaemon`: the long-running node of a home.
 *
 * One daemon per home: `daemon.json` ({ pid, peerId, addrs, started }) is created exclusively (hard link of
 * a complete temporary file, so no reader ever sees it half-written); a file left by a process that no
 * longer runs is stale and replaced. The file is rewritten with the listening addresses once the node is up
 * (`ferry id` shows them) and removed when the daemon stops.
 */
import { randomBytes } from 'node:crypto'
import { unlinkSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { FerryError, fromSystemError } from '@ferry/errors'
import { openHome, type Home } from '@ferry/store'
import { DAEMON_FILE } from './constants.js'
import { createFerryNode, type FerryNode, type FerryNodeInit } from './node.js'
import type { RefusalKind } from './access-policy.js'
import { readTextIfExists } from './files.js'

/** The contents of `daemon.json`. */
export interface DaemonInfo {
  pid: number
  peerId: string
  /** Full multiaddrs, each ending in /p2p/<PeerId>; [] while starting. */
  addrs: string[]
  /** ISO 8601 start time. */
  started: string
}

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
  /**
   * Started in order once the node listens, each with the daemon's home and node (the task service, the
   * HTTP API); stopped in reverse order, and awaited, before the node stops and the home closes.
   */
  services?: DaemonServiceStarter[]
  /** Passed to createFerryNode (measurements, tests). */
  node?: Omit<FerryNodeInit, 'home' | 'listen' | 'open' | 'onRefused'>
}

/** A service running inside the daemon, next to its node. */
export interface DaemonService {
  stop: () => Promise<void>
}

/** Starts one daemon service; a rejection stops the daemon with that error. */
export type DaemonServiceStarter = (ctx: { home: Home, node: FerryNode, print: (line: string) => void }) => Promise<DaemonService>

function isAlive (pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function readInfo (file: string): Promise<DaemonInfo | undefined> {
  const text = await readTextIfExists(file)
  if (text === undefined) return undefined
  try {
    const v = JSON.parse(text) as Partial<DaemonInfo>
    if (typeof v.pid !== 'number' || typeof v.peerId !== 'string' || !Array.isArray(v.addrs)) return undefined
    return { pid: v.pid, peerId: v.peerId, addrs: v.addrs.filter((a): a is string => typeof a === 'string'), started: String(v.started ?? '') }
  } catch {
    return undefined // torn or foreign: treat as stale
  }
}

/** The running daemon of the home in `homeDir`, or undefined if none runs (a stale file is ignored). */
export async function readDaemonInfo (homeDir: string): Promise<DaemonInfo | undefined> {
  const info = await readInfo(path.join(homeDir, DAEMON_FILE))
  return info !== undefined && isAlive(info.pid) ? info : undefined
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

/**
 * Runs the daemon of the home in `homeDir` until `options.signal` aborts (or SIGINT/SIGTERM without one).
 * Resolves after a graceful stop. ERR_DAEMON_RUNNING if another live daemon holds the home.
 */
export async function runDaemon (homeDir: string, options: RunDaemonOptions = {}): Promise<void> {
  const print = options.print ?? ((line: string) => { process.stdout.write(line + '\n') })
  let signal = options.signal
  let removeHandlers = (): void => {}
  if (signal === undefined) {
    const controller = new AbortController()
    const onSignal = (sig: NodeJS.Signals): void => { controller.abort(new FerryError('ERR_ABORTED', `Interrupted by ${sig}`)) }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    removeHandlers = () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
    signal = controller.signal
  }

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
  const services: DaemonService[] = []
  try {
    await claim(file, info)
    process.once('exit', onExit) // a crash still leaves a stale file; this covers process.exit()
    node = await createFerryNode({ ...options.node, home, listen: options.listen, open: options.open, onRefused: refusalPrinter(print) })
    info.addrs = node.addrs()
    await update(file, info)
    print(`Ferry daemon ${info.peerId} (pid ${info.pid}) serving ${home.dir}`)
    if (info.addrs.length === 0) print('Not listening on any address: other peers cannot reach this node')
    else print('Listening on:')
    for (const a of info.addrs) print(`  ${a}`)
    if (node.privateNetwork) print('Private network: only nodes with the same swarm.key can connect.')
    const restricted = Object.keys(home.config.grants ?? {}).length
    if (restricted > 0) print(`${restricted} collection${restricted === 1 ? '' : 's'} readable by granted peers only (\`ferry grant --list\`).`)
    if (options.open === true) {
      print(`WARNING: --open: every peer that can reach this node may fetch every scan in it, trusted or not${restricted > 0 ? ', except collections restricted by grants' : ''}.`)
    } else if (node.trust.list.length === 0) {
      print('No trusted peers yet: nobody can fetch from this node until you run `ferry trust <PeerId>`.')
    }
    for (const startService of options.services ?? []) services.push(await startService({ home, node, print }))
    options.onReady?.(info, node)
    if (!signal.aborted) {
      await new Promise<void>((resolve) => { signal!.addEventListener('abort', () => { resolve() }, { once: true }) })
    }
    print('Stopping...')
  } finally {
    removeHandlers()
    try {
      for (const service of services.reverse()) await service.stop().catch((err: unknown) => { print(`A service did not stop cleanly: ${(err as Error)?.message ?? String(err)}`) })
      await node?.stop()
    } finally {
      await home.close()
      await release(file)
      process.off('exit', onExit)
    }
  }
  print('Stopped.')
}
