/**
 * `watchService`: the daemon service that keeps the watches of a home (`catalog.open`, kept across
 * restarts) running, and `WatchControl`, what the HTTP API's /v1/watches routes call. Each watch is one
 * `watchTree` over its directory publishing into the open scan (collection, name); all watches share one
 * hash pool. Started before the API (`runDaemon({ services: [w.service, apiService({ watches: w.control })] })`).
 */
import { stat } from 'node:fs/promises'
import path from 'node:path'
import { FerryError } from '@ferry/errors'
import { HashPool } from '@ferry/dag'
import type { DaemonContext, DaemonServiceStarter } from '@ferry/node'
import type { OpenScanRecord, WatchRecord } from '@ferry/store'
import { DEFAULT_SETTLE_MS, MAX_REPORTS } from './constants.js'
import { createPublisher, type Publisher } from './publish.js'
import { sealOpenScan, type SealResult } from './seal.js'
import { watchTree, type SettledFile, type TreeWatch, type WatchTreeOptions } from './tree.js'

/** A change reported by a watch: a file rewritten after it was published. */
export interface WatchReport { path: string, reason: string, at: string }

/** A watch as the API shows it. */
export interface WatchInfo extends WatchRecord {
  /** The open scan's identifier (`openScanId`), as catalog rows and ANNOUNCE_FILE carry it. */
  key: string
  /** Files published so far (every version counts). */
  published: number
  /** Files waiting to settle. */
  pending: number
  /**
   * Whether files are published as their writer closes them (inotifywait running); false: only once
   * unchanged for the settle time (no inotifywait, or it failed: the daemon's log says why).
   */
  closeEvents: boolean
  reports: WatchReport[]
}

/** Options of `addWatch`. */
export interface AddWatch { dir: string, collection: string, name?: string, settleMs?: number }

/** What the API's watch routes call. */
export interface WatchControl {
  add: (w: AddWatch) => Promise<WatchInfo>
  list: () => WatchInfo[]
  remove: (id: number) => Promise<WatchInfo>
  /** Waits for the watch (if any) to publish what is pending, stops it, and seals the open scan. */
  seal: (collection: string, name?: string) => Promise<SealResult & { collection: string, name: string }>
}

/** Options of `watchService`. */
export interface WatchServiceOptions {
  /** Between rescans; default DEFAULT_RESCAN_MS. */
  rescanMs?: number
  print?: (line: string) => void
}

interface Running { record: WatchRecord, open: OpenScanRecord, tree: TreeWatch, abort: AbortController, reports: WatchReport[] }

const notRunning = (): FerryError => new FerryError('ERR_NETWORK', 'The watch service is not running (the daemon is starting or stopping): try again')

/** The watch service and its control, joined late: the control answers once the service has started. */
export function watchService (options: WatchServiceOptions = {}): { service: DaemonServiceStarter, control: WatchControl } {
  let impl: WatchControl | undefined
  const control: WatchControl = {
    add: async (w) => await (impl ?? fail()).add(w),
    list: () => (impl ?? fail()).list(),
    remove: async (id) => await (impl ?? fail()).remove(id),
    seal: async (c, n) => await (impl ?? fail()).seal(c, n)
  }
  const fail = (): never => { throw notRunning() }
  const service: DaemonServiceStarter = async (d) => {
    let hashPool: HashPool | undefined // started with the first file to hash: a daemon without watches runs no hash threads
    const pool = (): HashPool => (hashPool ??= new HashPool())
    const stopping = new AbortController() // ends a seal in progress when the daemon stops
    const running = new Map<number, Running>()
    const print = options.print ?? ((line: string) => { process.stderr.write(line + '\n') })
    const start = async (record: WatchRecord): Promise<Running> => await startWatch(d, pool, record, { ...options, print })
    for (const w of d.home.catalog.open.listWatches()) {
      try {
        running.set(w.id, await start(w))
      } catch (err) {
        print(`warning: cannot watch ${w.dir} for ${w.collection}/${w.name}: ${(err as Error).message}`)
      }
    }
    impl = controlOf(d, pool, running, start, stopping.signal)
    return {
      stop: async () => {
        impl = undefined
        stopping.abort()
        for (const r of running.values()) await stopWatch(r)
        await hashPool?.close()
      }
    }
  }
  return { service, control }
}

async function stopWatch (r: Running): Promise<void> {
  r.abort.abort()
  await r.tree.close()
}

function info (r: Running, d: DaemonContext): WatchInfo {
  const open = d.home.catalog.open.find(r.record.collection, r.record.name) ?? r.open
  return { ...r.record, key: open.key.toString(), published: open.published, pending: r.tree.pending, closeEvents: r.tree.closeEvents, reports: [...r.reports] }
}

/** The control of a started service. */
function controlOf (d: DaemonContext, pool: () => HashPool, running: Map<number, Running>, start: (w: WatchRecord) => Promise<Running>, signal: AbortSignal): WatchControl {
  return {
    add: async (w) => {
      const dir = path.resolve(w.dir)
      const st = await stat(dir).catch(() => undefined)
      if (st?.isDirectory() !== true) throw new FerryError('ERR_NOT_A_DIRECTORY', `${dir} is not a directory the daemon can read`)
      const settleMs = w.settleMs ?? DEFAULT_SETTLE_MS
      const record = d.home.catalog.open.addWatch({ dir, collection: w.collection, name: w.name ?? path.basename(dir), settleMs })
      try {
        const r = await start(record)
        running.set(record.id, r)
        return info(r, d)
      } catch (err) {
        d.home.catalog.open.removeWatch(record.id)
        throw err
      }
    },
    list: () => [...running.values()].map((r) => info(r, d)),
    remove: async (id) => {
      const r = running.get(id)
      if (r === undefined) throw new FerryError('ERR_NOT_FOUND', `No watch ${id}: \`ferry watches\` lists them`)
      const out = info(r, d)
      await stopWatch(r)
      running.delete(id)
      d.home.catalog.open.removeWatch(id)
      return out
    },
    seal: async (collection, name) => {
      const r = [...running.values()].find((x) => x.record.collection === collection && (name === undefined || x.record.name === name))
      const scanName = name ?? r?.record.name
      const open = scanName === undefined ? undefined : d.home.catalog.open.find(collection, scanName)
      if (open === undefined || scanName === undefined) throw new FerryError('ERR_NOT_FOUND', `No open scan in collection ${collection}${name !== undefined ? ` named ${name}` : ''}`)
      if (r !== undefined) {
        await r.tree.rescan()
        await r.tree.idle()
        await stopWatch(r)
        running.delete(r.record.id)
        d.home.catalog.open.removeWatch(r.record.id)
      }
      const result = await sealOpenScan(d.home, pool(), d.home.catalog.open.find(collection, scanName) ?? open, signal)
      d.events.publish({ type: 'watch:sealed', collection, name: scanName, root: result.root })
      return { ...result, collection, name: scanName }
    }
  }
}

/** Starts one watch: its open scan, its tree watch publishing each settled file, and a first rescan. */
async function startWatch (d: DaemonContext, pool: () => HashPool, record: WatchRecord, options: WatchServiceOptions & { print: (line: string) => void }): Promise<Running> {
  const { catalog } = d.home
  const open = catalog.open.ensureOpen({ collection: record.collection, name: record.name, origin: d.home.peerId.toString(), sourcePath: record.dir })
  const abort = new AbortController()
  const reports: WatchReport[] = []
  let publisher: Publisher | undefined // made with the first file: the hash pool starts then
  const publisherOf = (): Publisher => { publisher ??= createPublisher(d.home, pool(), open, abort.signal, d.leafCache); return publisher }
  const onSettled = async (f: SettledFile): Promise<boolean> => await publishSettled(d, publisherOf(), open, f, (rep) => {
    reports.push(rep)
    if (reports.length > MAX_REPORTS) reports.shift()
    options.print(`${record.collection}/${record.name}: ${rep.path} ${rep.reason}`)
  })
  const treeOptions: WatchTreeOptions = {
    dir: record.dir,
    settleMs: record.settleMs,
    rescanMs: options.rescanMs,
    signal: abort.signal,
    isNew: (rel, size, mtimeMs) => {
      const last = catalog.open.latest(open.id, rel)
      return last === undefined || last.size !== size || last.mtimeMs !== mtimeMs
    },
    onSettled,
    onError: (err) => { if (!abort.signal.aborted) options.print(`warning: watch of ${record.dir}: ${(err as Error).message}`) }
  }
  const tree = await watchTree(treeOptions)
  void tree.rescan().catch(treeOptions.onError) // what was written while nobody watched
  return { record, open, tree, abort, reports }
}

/** Publishes one settled file (through the watch's publisher) and tells the event bus; false if it changed while hashed (watched again). */
async function publishSettled (d: DaemonContext, publisher: Publisher, open: OpenScanRecord, f: SettledFile, report: (r: WatchReport) => void): Promise<boolean> {
  const out = await publisher.publish(f)
  if (out.published === undefined) return false
  const e = out.published
  if (out.previous !== undefined && out.previous.seq !== e.seq) {
    const reason = `changed after it was published (version ${e.version + 1}: ${out.previous.cid.toString()} -> ${e.cid.toString()}); republished`
    report({ path: f.rel, reason, at: new Date().toISOString() })
    d.events.publish({ type: 'watch:changed', collection: open.collection, name: open.name, path: f.rel, reason })
  }
  d.node.announceNow()
  d.events.publish({ type: 'watch:published', collection: open.collection, name: open.name, path: f.rel, cid: e.cid.toString(), size: e.size, seq: e.seq, version: e.version })
  return true
}
