/**
 * Following one open scan into `<dest>/<name>/`, as an explicit loop: take the next entries (pushed by an
 * announcement when they are exactly the next ones, else paged with OPEN_ENTRIES_REQUEST from the next
 * seq), verify each, place the latest version of each path (placeFile), journal it; when a page is empty
 * wait for a push or the poll interval; once the source answers sealed, check the origin's seal and pull
 * the sealed root over what is already placed (its DAG and signed record verified, the replica recorded,
 * nothing fetched again).
 */
import { promises as fsp } from 'node:fs'
import { join } from 'node:path'
import { FerryError } from '@ferry/errors'
import { pull, type PullOptions, type PullResult } from '@ferry/transfer'
import type { OpenEntryRow, OpenSeal } from '@ferry/exchange'
import type { Catalog, InnerBlocks, OpenScanIdentity } from '@ferry/store'
import { CID } from 'multiformats/cid'
import { DEFAULT_ENTRIES_PAGE, DEFAULT_FILES_IN_FLIGHT, DEFAULT_FOLLOW_POLL_MS, KILL_BEFORE_COMMIT_ENV } from './constants.js'
import { checkPath, matchesEntry, placeFile, StaleVersion, type Placed } from './place-file.js'
import { createPlacer, type Placer } from './placer.js'
import { sweepTemps } from './temps.js'
import type { Source } from './source.js'
import type { FollowPeerSpec, FollowProgressEvent, OpenScanRow, OpenScanStatus } from './types.js'
import { checkEntry, checkSeal, identityOf } from './verify.js'

/** What `followScan` needs. */
export interface FollowScanInit {
  row: OpenScanRow
  /** The collection's destination: the scan goes into `<dest>/<name>/`. */
  dest: string
  source: Source
  /** For the pull of the sealed root. */
  peers: FollowPeerSpec[]
  home: { catalog: Catalog, blocks: InnerBlocks }
  signal: AbortSignal
  onProgress?: (e: FollowProgressEvent) => void
  /** Page the entries this often when nothing is pushed; default DEFAULT_FOLLOW_POLL_MS. */
  pollMs?: number
  /** Options passed to the pull of the sealed root. */
  pull?: Pick<PullOptions, 'deadlineMs' | 'checksum' | 'fsync' | 'spaceMarginBytes'>
  /**
   * On the seal: 'pull' (default) pulls the sealed root over what is placed; 'stop' ends once the seal is
   * verified (`result` null: the caller replicates the root, as a subscription's task does).
   */
  sealed?: 'pull' | 'stop'
}

/** The mirror of the open scan in this node's catalog (`sealed: 'pull'`): entries and files to serve on. */
interface Mirror { openId: number }

/** How a followed scan ended: sealed into `root`, and the pull that verified it. */
export interface FollowScanResult {
  name: string
  key: string
  root: string
  /** The pull of the sealed root; null with `sealed: 'stop'`. */
  result: PullResult | null
  /** While it was open: files placed, bytes fetched for them, files found in place (journal) and not fetched. */
  followed: FollowCounters
}

/** What the open phase of a follow did. */
export interface FollowCounters { files: number, fetched: number, reused: number }

/** A running follow of one open scan. */
export interface ScanFollower {
  key: string
  name: string
  /** Published vs arrived, lag, backlog. */
  status: () => OpenScanStatus
  /** An entry announced (ANNOUNCE_FILE) for this scan: used if it is the next one, else a hint to page. */
  push: (e: OpenEntryRow) => void
  done: Promise<FollowScanResult>
}

interface State {
  init: FollowScanInit
  id: OpenScanIdentity
  dir: string
  next: number
  /** path -> the latest entry seen for it. */
  latest: Map<string, OpenEntryRow>
  /** path -> the seq placed (or found in place). */
  placed: Map<string, number>
  lagMs: number | null
  pushed: Map<number, OpenEntryRow>
  wake: () => void
  counters: FollowCounters
  mirror: Mirror | null
}

function statusOf (s: State): OpenScanStatus {
  let arrived = 0
  let backlogBytes = 0
  for (const [path, e] of s.latest) {
    if (s.placed.get(path) === e.seq) arrived++
    else backlogBytes += e.size
  }
  return { collection: s.id.collection ?? '', name: s.id.name, published: s.next, arrived, lagMs: s.lagMs, backlogBytes }
}

/** Starts following `init.row` (see the module comment). */
export function followScan (init: FollowScanInit): ScanFollower {
  const id = identityOf(init.row)
  const s: State = { init, id, dir: join(init.dest, id.name), next: 0, latest: new Map(), placed: new Map(), lagMs: null, pushed: new Map(), wake: () => {}, counters: { files: 0, fetched: 0, reused: 0 }, mirror: null }
  return {
    key: init.row.root,
    name: id.name,
    status: () => statusOf(s),
    push: (e) => {
      if (e.seq >= s.next && s.pushed.size < 10_000) s.pushed.set(e.seq, e)
      s.wake()
    },
    done: run(s)
  }
}

/** The entries pushed that continue from `s.next`, in order (removed from the queue). */
function takePushed (s: State): OpenEntryRow[] {
  const out: OpenEntryRow[] = []
  for (const seq of [...s.pushed.keys()]) if (seq < s.next) s.pushed.delete(seq)
  for (let seq = s.next; s.pushed.has(seq); seq++) {
    out.push(s.pushed.get(seq)!)
    s.pushed.delete(seq)
  }
  return out
}

async function waitForNews (s: State): Promise<void> {
  const { signal } = s.init
  await new Promise<void>((resolve) => {
    const t = setTimeout(done, s.init.pollMs ?? DEFAULT_FOLLOW_POLL_MS)
    function done (): void {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      s.wake = () => {}
      resolve()
    }
    s.wake = done
    signal.addEventListener('abort', done, { once: true })
    if (s.pushed.has(s.next)) done()
  })
}

/**
 * With `sealed: 'pull'` (a follower that ends with the replica, so can serve the scan), the open scan is
 * mirrored in this node's catalog: its entries as the origin signed them and the files placed, so this
 * node's daemon lists the open scan, announces its files and serves them on (a relay).
 */
function startMirror (s: State): Mirror | null {
  const { init, id } = s
  if (init.sealed === 'stop' || id.collection === null) return null
  return { openId: init.home.catalog.open.mirror({ ...id, collection: id.collection }, s.dir).id }
}

async function run (s: State): Promise<FollowScanResult> {
  const { init } = s
  const swept = await sweepTemps(s.dir, init.signal) // what a follower killed outright left half-written
  if (swept.length > 0) init.onProgress?.({ type: 'follow:swept', name: s.id.name, paths: swept })
  s.mirror = startMirror(s)
  let failed: { err: unknown } | undefined
  const placer = placerOf(s, (err) => { failed = { err }; s.wake() })
  let seal: OpenSeal
  try {
    seal = await openPhase(s, placer, () => failed)
    await placer.drained()
  } catch (err) {
    await placer.stopped() // no file left half-placed (its temporary name removed) when this throws
    throw err
  }
  await checkSeal(s.id, seal, s.next)
  if (init.sealed === 'stop') return { name: s.id.name, key: init.row.root, root: seal.root.toString(), result: null, followed: s.counters }
  const out = await pullSealed(s, seal.root)
  if (s.mirror !== null && out.result?.complete === true) init.home.catalog.open.sealMirror(s.mirror.openId, seal)
  return out
}

/**
 * The open phase: entries taken as they come (pushed, else paged), verified and handed to the placer, which
 * places them meanwhile; ends with the seal, or throws the placer's first failure.
 */
async function openPhase (s: State, placer: Placer, failed: () => { err: unknown } | undefined): Promise<OpenSeal> {
  const { init } = s
  const key = CID.parse(init.row.root)
  let pushed = false // the last entries were pushed: wait for the next push (or the poll) before paging
  for (;;) {
    if (init.signal.aborted) throw new FerryError('ERR_ABORTED', 'Follow aborted', { cause: init.signal.reason })
    const f = failed()
    if (f !== undefined) throw f.err
    if (placer.queued >= DEFAULT_ENTRIES_PAGE) await placer.drained() // bounded: at most a page ahead of the disk
    let entries = takePushed(s)
    const fromPush = entries.length > 0
    let state = 'open'
    if (entries.length === 0 && !pushed) {
      const page = await init.source.catalog(async (peer) => await peer.openEntries(key, s.next, DEFAULT_ENTRIES_PAGE, { signal: init.signal }))
      entries = page.entries
      state = page.state
      if (entries.length === 0 && page.state === 'sealed' && page.seal !== null) return page.seal
    }
    pushed = false
    if (entries.length > 0) {
      await takeEntries(s, placer, entries)
      pushed = fromPush
      continue
    }
    if (state === 'unknown') throw new FerryError('ERR_NOT_FOUND', `The source no longer offers the open scan ${init.row.name} (${init.row.root}): was it removed, or our access revoked?`)
    await waitForNews(s)
  }
}

/** Verifies `entries` (from `s.next` on) and hands them to the placer. */
async function takeEntries (s: State, placer: Placer, entries: OpenEntryRow[]): Promise<void> {
  for (const e of entries) {
    await checkEntry(s.id, e, s.next)
    checkPath(e.path)
    s.next++
    s.latest.set(e.path, e)
  }
  placer.add(entries)
}

type Took = Awaited<ReturnType<typeof takeEntry>>
interface Outcome { superseded: boolean, took: Took }

/**
 * The placer of `s`: the latest version of each path, `DEFAULT_FILES_IN_FLIGHT` files at a time (an entry
 * superseded before it starts is not fetched); the journal rows of the files placed together (the placer
 * groups them) and the mirror's entries now in order are one transaction, a relaxed commit (no fsync: the
 * placed files were not fsynced either; a power cut that loses it leaves those files unrecorded, found and
 * checked again by the restart). A failure wakes the loop, which throws it.
 */
function placerOf (s: State, fail: (err: unknown) => void): Placer {
  return createPlacer<Outcome>({
    lanes: DEFAULT_FILES_IN_FLIGHT,
    place: async (e) => {
      const superseded = s.latest.get(e.path)?.seq !== e.seq
      if (superseded) s.init.onProgress?.({ type: 'follow:skip', name: s.id.name, path: e.path, seq: e.seq, reason: 'superseded' })
      return { superseded, took: superseded ? undefined : await takeEntry(s, e) }
    },
    commit: (group) => {
      // a test's crash window: the group's files are renamed into place, none is recorded yet
      if (process.env[KILL_BEFORE_COMMIT_ENV] === '1') process.kill(process.pid, 'SIGKILL')
      s.init.home.catalog.batch(() => {
        for (const { placed: { took }, recordDone } of group) {
          took?.journal()
          recordDone()
        }
      }, { relaxed: true })
      for (const { placed: { took } } of group) took?.reported()
      if (group.some(({ placed }) => !placed.superseded)) s.init.onProgress?.({ type: 'follow:status', key: s.init.row.root, status: statusOf(s) })
    },
    record: (e, { took }) => { recordMirror(s, e, took?.placed) },
    onFailure: fail
  })
}

/** The entry in the mirror, in seq order, with the file that serves it when this node placed it now. */
function recordMirror (s: State, e: OpenEntryRow, placed?: Placed): void {
  if (s.mirror === null) return
  const { signature, ...fields } = e
  const file = placed === undefined ? undefined : { absPath: placed.file, size: placed.stat.size, mtimeMs: placed.stat.mtimeMs, leaves: placed.leaves, nodes: placed.nodes }
  s.init.home.catalog.open.record(s.mirror.openId, { ...fields, signature }, file)
}

/** What `takeEntry` gives for a file placed (or found placed): the file, and its journal and report steps. */
interface Taken { placed: Placed, journal: () => void, reported: () => void }

/**
 * Places one entry, unless the journal says it is here already and the file is untouched: what it placed,
 * and `journal`, which records it in the catalog (the caller runs it in its transaction). A file there that
 * the journal does not have (this follower was killed between its rename and its commit) is recorded if
 * its bytes are the entry's, and is a conflict otherwise.
 */
async function takeEntry (s: State, e: OpenEntryRow): Promise<Taken | undefined> {
  const { catalog } = s.init.home
  const file = join(s.dir, ...e.path.split('/'))
  const known = catalog.followed.get(file)
  const ours = known !== undefined && known.key === s.init.row.root && await untouched(catalog, file)
  if (ours && known.cid.equals(e.cid)) {
    s.placed.set(e.path, e.seq)
    s.counters.reused++
    s.init.onProgress?.({ type: 'follow:skip', name: s.id.name, path: e.path, seq: e.seq, reason: 'journal' })
    return undefined
  }
  if (!ours && await fsp.lstat(file).then(() => true, () => false)) {
    const found = await s.init.source.use(async (peer) => await matchesEntry({ peer, file, cid: e.cid, size: e.size, mtimeMs: e.mtimeMs, signal: s.init.signal }))
      .catch((err: unknown) => { if (err instanceof StaleVersion) return undefined; throw err })
    if (found !== undefined) return taken(s, e, found, true)
    // never replace what this follow did not place (or what was touched since): the seal's pull reports it
    s.init.onProgress?.({ type: 'follow:conflict', name: s.id.name, path: e.path, seq: e.seq })
    return undefined
  }
  try {
    const keep = async (cid: CID, bytes: Uint8Array): Promise<void> => { await s.init.home.blocks.put({ cid, bytes }) }
    const placed = await s.init.source.use(async (peer) => await placeFile({ peer, dir: s.dir, path: e.path, cid: e.cid, size: e.size, mode: e.mode, mtimeMs: e.mtimeMs, signal: s.init.signal, keep }))
    return taken(s, e, placed, false)
  } catch (err) {
    if (!(err instanceof StaleVersion)) throw err
    s.init.onProgress?.({ type: 'follow:stale', name: s.id.name, path: e.path, seq: e.seq, message: err.message })
    return undefined
  }
}

/** The journal and report steps of `placed` (`found`: already there, checked against the entry, not fetched). */
function taken (s: State, e: OpenEntryRow, placed: Placed, found: boolean): Taken {
  const { catalog } = s.init.home
  const arrived = Date.now()
  const journal = (): void => {
    catalog.placed.record([{ path: placed.file, ...placed.stat }])
    catalog.followed.record({ file: placed.file, key: s.init.row.root, path: e.path, seq: e.seq, cid: e.cid, size: e.size, published: e.published, arrived })
  }
  const reported = (): void => {
    s.placed.set(e.path, e.seq)
    if (found) {
      s.counters.reused++
      s.init.onProgress?.({ type: 'follow:skip', name: s.id.name, path: e.path, seq: e.seq, reason: 'journal' })
      return
    }
    s.lagMs = arrived - e.published
    s.counters.files++
    s.counters.fetched += placed.fetched
    s.init.onProgress?.({ type: 'follow:file', name: s.id.name, path: e.path, seq: e.seq, size: e.size, lagMs: s.lagMs, fetched: placed.fetched })
  }
  return { placed, journal, reported }
}

async function untouched (catalog: Catalog, file: string): Promise<boolean> {
  const st = await fsp.stat(file).catch(() => undefined)
  return st !== undefined && catalog.placed.trusted(file, { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino })
}

/** The sealed root pulled over what is placed: verified against its signed record and DAG, and recorded. */
async function pullSealed (s: State, root: CID): Promise<FollowScanResult> {
  const { init } = s
  const result = await pull({
    ...init.pull,
    root,
    dest: s.dir,
    peers: init.peers,
    home: init.home,
    signal: init.signal,
    onProgress: (event) => { init.onProgress?.({ type: 'follow:pull', name: s.id.name, event }) }
  })
  init.onProgress?.({ type: 'follow:sealed', name: s.id.name, root: root.toString(), result })
  return { name: s.id.name, key: init.row.root, root: root.toString(), result, followed: s.counters }
}
