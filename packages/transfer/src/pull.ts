import { constants as fsc, promises as fsp, type Stats } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { FerryError, fromSystemError, isFerryError } from '@ferry/errors'
import { HashPool, fileLeaves, pathProblem, pathUnder, symlinkTargetProblem, walkDag, type DagEntry, type FileLeaf, type GetBlock, type SkippedEntry } from '@ferry/dag'
import { EntriesDigest, readLeaf, verifyScanSignature, type Catalog, type InnerBlocks } from '@ferry/store'
import type { CID } from 'multiformats/cid'
import {
  DEFAULT_CHECKPOINT_BYTES, DEFAULT_CHECKPOINT_MS, DEFAULT_DEADLINE_MS, DEFAULT_WINDOW, ENDGAME_AFTER_MS, LOCAL_COPY_CONCURRENCY, PLAN_CONCURRENCY, STAGING_DIR
} from './constants.js'
import { PeerState, sleep } from './peers.js'
import { WorkQueue, type WorkItem } from './queue.js'
import { checkSpace, pruneEmptyDirs } from './space.js'
import { Staging, bitmapFor, hasBit, stagingName, type StagedFile } from './staging.js'
import type { BlockPeer, PeerSpec, PullProblem, PullProgressEvent, PullResult, ScanEntryInfo, ScanInfo } from './types.js'

export interface PullOptions {
  root: CID
  dest: string
  /** Where to fetch from; tried in parallel. May be empty when this node already has everything. */
  peers: PeerSpec[]
  /** The local node: its catalog (scans, leaf index, pull journal) and inner-block store. */
  home: { catalog: Catalog, blocks: InnerBlocks }
  signal?: AbortSignal
  onProgress?: (event: PullProgressEvent) => void
  /** Leaf requests in flight per peer. */
  window?: number
  /** Give up when no leaf has arrived for this long (peers are retried with backoff meanwhile). */
  deadlineMs?: number
  /** Re-hash files already at the destination instead of trusting size and mtime. */
  checksum?: boolean
  /** Make each file's data durable (fsync) before its name appears; default false, as rsync. */
  fsync?: boolean
  checkpointMs?: number
  checkpointBytes?: number
  pool?: HashPool
  /**
   * Recreate symlinks whose target is absolute or climbs out of `dest` (see docs/security.md). Default false:
   * such links are not created and are reported as ERR_UNSAFE_SYMLINK problems.
   */
  allowEscapingSymlinks?: boolean
  /** Free space to leave on the destination, in bytes (default: 1% of its filesystem, at most 64 MiB). */
  spaceMarginBytes?: number
}

interface PlannedDir { path: string, cid: CID, mode: number, mtimeMs: number }
interface PlannedLink { path: string, cid: CID, target: string, mtimeMs: number }

const DEFAULT_META = { mode: 0o644, mtimeMs: 0 }

/** `rel` (a path from the scan: a peer's data) under dest; throws unless it is a safe relative path. */
function joinPath (dest: string, rel: string): string {
  return pathUnder(dest, rel)
}

/** Permission bits kept from a peer's mode: never setuid or setgid (a peer must not hand us a setuid file). */
function safeMode (mode: number, directory: boolean): number {
  return mode & (directory ? 0o1777 : 0o777)
}

function sameMtime (a: number, b: number): boolean {
  return Math.abs(a - b) < 1
}

function describeType (st: Stats): string {
  if (st.isDirectory()) return 'a directory'
  if (st.isSymbolicLink()) return 'a symlink'
  if (st.isFile()) return 'a file'
  return 'a special file'
}

/**
 * Replicates the scan `root` into `dest`: fetches its record and DAG, reconciles with what `dest` and this
 * node already hold, checks free space, fetches the missing leaves from every peer at once (each verified
 * before it touches disk), writes them in place into staged files, places each file under its final name
 * only when complete and durable, restores modes and mtimes, and records the scan in the local catalog so
 * this node serves it next. Interrupted pulls resume from the journal. Never overwrites a different file.
 */
export async function pull (options: PullOptions): Promise<PullResult> {
  const started = performance.now()
  const root = options.root
  const dest = resolve(options.dest)
  const { catalog, blocks } = options.home
  const emit = options.onProgress ?? (() => {})
  const window = options.window ?? DEFAULT_WINDOW
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS
  const controller = new AbortController()
  const outer = options.signal
  const onAbort = (): void => { controller.abort(outer?.reason) }
  outer?.addEventListener('abort', onAbort, { once: true })
  if (outer?.aborted === true) onAbort()
  const signal = controller.signal
  const peers = options.peers.map((spec) => new PeerState(spec, emit))
  const fromPeers: Record<string, number> = {}
  const problems: PullProblem[] = []
  let bytesFetched = 0
  let bytesLocal = 0
  let bytesPresent = 0
  let bytesResumed = 0
  let lastProgress = Date.now()
  const ownPool = options.pool == null
  let pool = options.pool
  let freshDest = false
  let opened: Staging | undefined // closed on every way out: no file handle is left to the garbage collector

  const noPeers = (what: string): FerryError => {
    const why = peers.map((p) => `${p.spec.label}: ${p.lastError ?? p.status}`).join('; ')
    return new FerryError('ERR_NETWORK', `Could not get ${what} from any peer${why !== '' ? ` (${why})` : ': no --from given'}`)
  }

  /** Runs `fn` against each usable peer in turn until one answers; retries with backoff until the deadline. */
  const fromAnyPeer = async <T>(what: string, fn: (peer: BlockPeer, state: PeerState) => Promise<T | undefined>): Promise<T> => {
    const until = Date.now() + deadlineMs
    for (;;) {
      let anyUsable = false
      const lacking = new Set<PeerState>() // peers that answered and do not hold it
      for (const state of peers) {
        if (!state.usable) continue
        anyUsable = true
        const peer = await state.connect(signal)
        if (peer == null) continue
        try {
          const out = await fn(peer, state)
          if (out !== undefined) return out
        } catch (err) {
          if (signal.aborted) throw err
          if (isFerryError(err, 'ERR_ROOT_NOT_FOUND') || isFerryError(err, 'ERR_BLOCK_NOT_FOUND')) { lacking.add(state); continue }
          state.fail(err)
        }
      }
      const down = peers.filter((p) => p.status === 'down')
      if (anyUsable && lacking.size > 0 && lacking.size === peers.filter((p) => p.usable).length) throw notHeld(what, root, [...lacking])
      if (!anyUsable || down.length === 0 || Date.now() > until) throw noPeers(what)
      await down[0]?.waitBackoff(signal)
    }
  }

  const innerNodes = new Map<string, CID>() // every inner node of the scan, recorded with it (access checks)
  const getBlock: GetBlock = async (cid) => {
    innerNodes.set(cid.toString(), cid)
    if (await blocks.has(cid)) return await blocks.get(cid, { signal })
    const bytes = await fromAnyPeer(`block ${cid.toString()}`, async (peer, state) => {
      const r = await peer.get(cid, { signal })
      if (r.status === 'ok') return r.bytes
      if (r.status === 'bad') state.ban(r.message ?? `sent a block that does not match ${cid.toString()}`)
      if (r.status === 'denied') state.fail(new FerryError('ERR_PEER_REFUSED', r.message ?? `${peer.id} refused the request`))
      if (r.status === 'missing') throw new FerryError('ERR_BLOCK_NOT_FOUND', `${peer.id} does not have block ${cid.toString()}`)
      return undefined
    })
    await blocks.put({ cid, bytes })
    return bytes
  }

  try {
    // 1. The scan record: from this node's catalog if it has the scan, else from a peer. Either way its
    // origin's signature over the record and the entry list must verify before anything is written.
    let record: ScanInfo
    let recordFrom: string | undefined
    const meta = new Map<string, ScanEntryInfo>()
    const digest = new EntriesDigest()
    const local = catalog.getScan(root)
    // an unsigned local record (imported before signing existed) is not used: a peer's signed one is asked for
    if (local?.state === 'complete' && local.signature !== undefined) {
      record = { root: root.toString(), collection: local.collection, name: local.name, origin: local.origin, files: local.files, directories: local.directories, symlinks: local.symlinks, bytes: local.bytes, skipped: local.skipped, created: local.created, ...(local.signature !== undefined ? { signature: local.signature } : {}) }
      for (const e of catalog.entries(local.id)) {
        digest.add(e)
        meta.set(e.path, e)
      }
    } else {
      const scan = await fromAnyPeer(`the scan ${root.toString()}`, async (peer) => {
        const s = await peer.getScan(root, { signal })
        recordFrom = peer.id
        return s
      })
      record = scan.record
      for await (const e of scan.entries) {
        // a peer's entry list is metadata only (the verified DAG decides what is written), but check it anyway
        const problem = pathProblem(e.path)
        if (problem !== undefined) throw new FerryError('ERR_PROTOCOL', `The peer sent the scan entry ${JSON.stringify(e.path.slice(0, 200))}: ${problem}`)
        if (meta.has(e.path)) throw new FerryError('ERR_PROTOCOL', `The peer sent the scan entry ${JSON.stringify(e.path)} twice`)
        digest.add(e)
        meta.set(e.path, e)
      }
    }
    await checkRecordSignature(record, root, { count: digest.count, digest: digest.digest() }, recordFrom)

    // 2. The DAG: every inner block verified (and kept, so this node can serve it and re-plan offline). The
    // signed entry list must describe exactly this DAG: same paths, types, CIDs and file sizes.
    const dirs: PlannedDir[] = []
    const links: PlannedLink[] = []
    const files: Array<{ entry: DagEntry, leaves: FileLeaf[] }> = []
    let walked = 0
    for await (const entry of walkDag(root, getBlock, { signal })) {
      walked++
      const m = meta.get(entry.path)
      if (m === undefined || m.type !== entry.type || !m.cid.equals(entry.cid) || (entry.type === 'file' && m.size !== entry.size)) {
        throw new FerryError('ERR_BAD_SIGNATURE', `The signed entry list of ${root.toString()} does not match its DAG at "${entry.path}": refusing the record`, { details: { root: root.toString(), path: entry.path, origin: record.origin } })
      }
      if (entry.type === 'directory') dirs.push({ path: entry.path, cid: entry.cid, mode: m.mode, mtimeMs: m.mtimeMs })
      else if (entry.type === 'symlink') links.push({ path: entry.path, cid: entry.cid, target: entry.target ?? '', mtimeMs: m.mtimeMs })
      else files.push({ entry, leaves: [] })
    }
    // each multi-chunk file has its own inner nodes: resolve them PLAN_CONCURRENCY files at a time
    await eachConcurrently(files, PLAN_CONCURRENCY, async (f) => {
      for await (const leaf of fileLeaves(f.entry.cid, getBlock, { signal, size: f.entry.size })) f.leaves.push(leaf)
    })
    if (dirs[0]?.path !== '') throw new FerryError('ERR_INVALID_ARGUMENT', `Root ${root.toString()} is not a directory: pull takes a scan root`)
    if (walked !== meta.size) {
      throw new FerryError('ERR_BAD_SIGNATURE', `The signed entry list of ${root.toString()} has ${meta.size} entries, its DAG ${walked}: refusing the record`, { details: { root: root.toString(), origin: record.origin } })
    }

    // 3. Reconcile with the destination and the journal of an earlier, interrupted run.
    freshDest = await fsp.lstat(dest).then(() => false, () => true)
    await mkdirSafe(dest, '')
    // the staging directory's name is Ferry's own: an entry of that name at the top is never placed
    for (const e of [...dirs, ...links, ...files.map((f) => f.entry)]) {
      if (e.path === STAGING_DIR) problems.push({ path: e.path, code: 'ERR_CONFLICT', message: `the name ${STAGING_DIR} is reserved for Ferry's staging directory; not placed` })
    }
    // pre-order, so a directory that could not be made (something else is there, maybe a symlink) is known
    // before anything below it: nothing is ever created through it
    const blockedDirs = problems.map((p) => p.path)
    const underBlocked = (path: string): boolean => blockedDirs.some((d) => path === d || path.startsWith(`${d}/`))
    for (const d of dirs) {
      if (d.path === STAGING_DIR || underBlocked(d.path)) continue
      const problem = await mkdirSafe(dest, d.path)
      if (problem != null) {
        problems.push(problem)
        blockedDirs.push(problem.path)
      }
    }
    const journal = catalog.pulls
    const pullRecord = journal.open(root, dest)
    const saved = journal.progress(pullRecord.id)
    const resumable = await fsp.lstat(join(dest, STAGING_DIR)).then((st) => st.isDirectory(), () => false)
    const verifiedLeaves = async (path: string, size: number, leaves: FileLeaf[]): Promise<Uint8Array> => {
      pool ??= new HashPool()
      const map = bitmapFor(leaves.length)
      await Promise.all(leaves.map(async (leaf, i) => {
        if (leaf.offset + leaf.length > size || leaf.length === 0) return
        const digest = await pool?.hash(path, leaf.offset, leaf.length, leaf.length, signal).catch(() => undefined)
        if (digest != null && Buffer.from(digest).equals(leaf.cid.multihash.digest)) map[i >> 3] = (map[i >> 3] ?? 0) | (1 << (i & 7))
      }))
      return map
    }
    const staged: StagedFile[] = []
    const placedNow: string[] = [] // files this run placed or hashed (recorded for the next run's quick check)
    const completeAlready: StagedFile[] = []
    /** A file at the destination holds exactly these leaves (hashed on the pool, as a resume checks). */
    const matches = async (abs: string, size: number, leaves: FileLeaf[]): Promise<boolean> => {
      const map = await verifiedLeaves(abs, size, leaves)
      return leaves.every((_, i) => hasBit(map, i))
    }
    // What already sits at each file's place: lstat'ed PLAN_CONCURRENCY at a time (one after the other,
    // a no-op pull of 2,000 files spent most of its plan waiting on them)
    const present = new Map<string, Stats>()
    await eachConcurrently(files.filter(({ entry }) => !underBlocked(entry.path)), PLAN_CONCURRENCY, async ({ entry }) => {
      const st = await fsp.lstat(joinPath(dest, entry.path)).catch(() => undefined)
      if (st != null) present.set(entry.path, st)
    })
    for (const { entry, leaves } of files) {
      if (underBlocked(entry.path)) continue
      const m = meta.get(entry.path) ?? DEFAULT_META
      const final = joinPath(dest, entry.path)
      const st = present.get(entry.path)
      if (st != null) {
        if (!st.isFile()) {
          problems.push({ path: entry.path, code: 'ERR_CONFLICT', message: `exists at the destination as ${describeType(st)}; not replaced` })
        } else if (options.checksum !== true && st.size === entry.size && sameMtime(st.mtimeMs, m.mtimeMs) && catalog.placed.trusted(final, st)) {
          bytesPresent += entry.size // the quick check, for a file Ferry placed and nothing touched since
        } else if (st.size === entry.size && await matches(final, st.size, leaves)) {
          bytesPresent += entry.size
          await fsp.chmod(final, safeMode(m.mode, false))
          await fsp.utimes(final, m.mtimeMs / 1000, m.mtimeMs / 1000)
          placedNow.push(entry.path) // hashed: from now on it is known as Ferry's
        } else {
          problems.push({ path: entry.path, code: 'ERR_CONFLICT', message: 'exists at the destination with other content; not overwritten' })
        }
        continue
      }
      // An earlier run's staged file: keep every leaf that still hashes right, whatever the journal says
      // (after kill -9 the journal lags the data; after a power cut the data may lag the journal).
      const stagedAt = stagingName(dest, entry.path)
      const stagedStat = saved.has(entry.path) || resumable ? await fsp.lstat(stagedAt).then((st) => (st.isFile() ? st : undefined), () => undefined) : undefined
      const done = stagedStat != null ? await verifiedLeaves(stagedAt, stagedStat.size, leaves) : bitmapFor(leaves.length)
      let remaining = 0
      for (let i = 0; i < leaves.length; i++) {
        if (!hasBit(done, i)) remaining++
        else bytesResumed += leaves[i]?.length ?? 0
      }
      const file: StagedFile = { path: entry.path, cid: entry.cid, size: entry.size, mode: safeMode(m.mode, false), mtimeMs: m.mtimeMs, leaves, done, remaining, writing: 0, dirty: false }
      if (remaining === 0) completeAlready.push(file)
      staged.push(file)
    }

    // 4. Space: what is still missing must fit on the destination.
    const items: WorkItem[] = []
    let missingBytes = 0
    for (const file of staged) {
      file.leaves.forEach((leaf, index) => {
        if (hasBit(file.done, index)) return
        items.push({ file, index, leaf, inflight: 0, done: false, failed: false })
        missingBytes += leaf.length
      })
    }
    await checkSpace(dest, missingBytes, options.spaceMarginBytes)
    emit({ type: 'pull:plan', files: files.length, bytes: record.bytes, missingBytes, presentBytes: bytesPresent, missingFiles: staged.length })
    const planSeconds = (performance.now() - started) / 1000

    // 5. Fetch: local copies first, then every peer at once.
    const staging = opened = new Staging(dest, journal, pullRecord.id, options.fsync === true)
    const checkpointBytes = options.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES
    let checkpointing: Promise<void> = Promise.resolve()
    let checkpointError: unknown
    const runCheckpoint = (): Promise<void> => {
      checkpointing = checkpointing.then(async () => {
        const { bytes, placed, conflicts } = await staging.checkpoint()
        for (const f of placed) placedFile(f)
        for (const f of conflicts) await appeared(f)
        if (bytes > 0) emit({ type: 'pull:checkpoint', bytes })
      }).catch((err) => { checkpointError ??= err; controller.abort(err) })
      return checkpointing
    }
    const placedFile = (f: StagedFile): void => { placedNow.push(f.path); emit({ type: 'pull:file', path: f.path, size: f.size }) }
    // a file that appeared at its place during the pull is fine if it holds exactly our bytes, else a conflict
    const appeared = async (f: StagedFile): Promise<void> => { if (await holds(joinPath(dest, f.path), f, matches)) placedFile(f); else problems.push(conflictAppeared(f.path)) }
    const queue = new WorkQueue(items)
    const completed = async (file: StagedFile): Promise<void> => {
      const outcome = await staging.complete(file)
      if (outcome === 'placed') placedFile(file)
      else if (outcome === 'conflict') await appeared(file)
    }
    const written = async (item: WorkItem, bytes: Uint8Array | Uint8Array[], fetched: boolean): Promise<void> => {
      const finished = await staging.write(item.file, item.index, bytes, fetched)
      queue.complete(item)
      lastProgress = Date.now()
      if (finished) await completed(item.file)
      if (staging.pendingBytes >= checkpointBytes) void runCheckpoint()
    }
    if (staged.length > 0) await staging.prepare()
    for (const file of completeAlready) await completed(file)
    const timer = setInterval(() => { void runCheckpoint() }, options.checkpointMs ?? DEFAULT_CHECKPOINT_MS)
    try {
      // leaves this node already holds in another file (an imported or pulled scan), re-hashed on read
      const local = items.filter((item) => catalog.findLeaf(item.leaf.cid).length > 0)
      let next = 0
      await Promise.all(Array.from({ length: LOCAL_COPY_CONCURRENCY }, async () => {
        while (next < local.length && !signal.aborted) {
          const item = local[next++]
          if (item == null || item.done) continue
          const r = await readLeaf(catalog, item.leaf.cid, { signal })
          if (r.status !== 'ok') continue
          await written(item, r.bytes, false)
          bytesLocal += item.leaf.length
          emit({ type: 'pull:local', bytes: item.leaf.length })
        }
      }))
      if (queue.outstanding > 0) await fetchFromPeers()
    } finally {
      clearInterval(timer)
    }
    await runCheckpoint()
    await checkpointing
    if (checkpointError !== undefined) throw checkpointError
    if (signal.aborted) throw new FerryError('ERR_ABORTED', 'Pull interrupted: run the same command again to resume', { cause: signal.reason })

    // a refusal (untrusted, not permitted, revoked mid-transfer) is the reason worth showing with each file
    const refusals = peers.filter((p) => p.status === 'refused').map((p) => `${p.name} refused: ${p.lastError ?? 'no reason given'}`).join('; ')
    for (const item of queue.failedItems()) {
      if (problems.some((p) => p.path === item.file.path)) continue
      problems.push(unavailable(item, refusals))
    }

    // 6. Symlinks, then directory modes and mtimes, deepest first (placing files changed them).
    for (const l of links) {
      if (underBlocked(l.path)) continue
      const problem = await placeSymlink(dest, l, options.allowEscapingSymlinks === true)
      if (problem != null) problems.push(problem)
    }
    for (const d of [...dirs].reverse()) {
      if (underBlocked(d.path)) continue
      const abs = joinPath(dest, d.path)
      await fsp.chmod(abs, safeMode(d.mode, true)).catch(() => {})
      await fsp.utimes(abs, d.mtimeMs / 1000, d.mtimeMs / 1000).catch(() => {})
    }

    // 7. Record the outcome; a complete replica joins the catalog and is served like any other source.
    await recordPlaced(catalog, dest, placedNow)
    const placedAll = problems.length === 0
    for (const s of record.skipped) problems.push({ path: s.path, code: 'ERR_MISSING_AT_SOURCE', message: `not in the scan: the origin could not read it (${s.message})` })
    if (placedAll) {
      await staging.close(true)
      journal.finish(pullRecord.id, 'complete')
      const fetched = Date.now()
      const provenance = Object.entries(fromPeers).map(([peer, bytes]) => ({ peer, bytes, fetched }))
      if (recordFrom !== undefined && fromPeers[recordFrom] === undefined) provenance.push({ peer: recordFrom, bytes: 0, fetched })
      await registerScan(catalog, dest, record, root, files, meta, innerNodes.values(), provenance)
    } else {
      await staging.close(false)
      journal.finish(pullRecord.id, 'failed')
    }
    return {
      root: root.toString(),
      dest,
      complete: placedAll && record.skipped.length === 0,
      files: files.length,
      directories: dirs.length,
      symlinks: links.length,
      bytes: record.bytes,
      bytesFetched,
      bytesLocal,
      bytesPresent,
      bytesResumed,
      fromPeers,
      skipped: record.skipped,
      problems,
      planSeconds,
      seconds: (performance.now() - started) / 1000
    }

    async function fetchFromPeers (): Promise<void> {
      const lane = async (state: PeerState, peer: BlockPeer): Promise<void> => {
        while (queue.outstanding > 0 && !signal.aborted && state.status === 'up' && state.peer === peer) {
          const item = queue.take(peer.id) ?? queue.duplicate(peer.id, ENDGAME_AFTER_MS)
          if (item == null) {
            await queue.changed()
            continue
          }
          if (item.inflight++ === 0) {
            item.askedOf = peer.id
            item.askedAt = Date.now()
          }
          let r
          try {
            r = await peer.get(item.leaf.cid, { signal })
          } catch (err) {
            item.inflight--
            queue.requeue(item)
            if (!signal.aborted && state.peer === peer) state.fail(err)
            return
          }
          item.inflight--
          if (item.done || item.failed) continue
          if (r.status === 'ok') {
            const length = item.leaf.length
            bytesFetched += length
            state.bytes += length
            fromPeers[peer.id] = (fromPeers[peer.id] ?? 0) + length
            emit({ type: 'pull:bytes', peer: peer.id, bytes: length })
            await written(item, r.chunks ?? r.bytes, true)
            continue
          }
          ;(item.tried ??= new Set()).add(peer.id)
          if (r.status === 'changed') (item.changedAt ??= []).push(`${peer.id}: ${r.message}`)
          if (r.status === 'bad') state.ban(r.message ?? `sent bytes that do not match ${item.leaf.cid.toString()}`)
          if (r.status === 'denied') state.fail(new FerryError('ERR_PEER_REFUSED', r.message ?? `${peer.id} refused the request`))
          const others = peers.some((p) => p.usable && p.peer?.id !== peer.id && item.tried?.has(p.peer?.id ?? p.spec.label) !== true)
          if (others || (state.usable && r.status !== 'missing' && r.status !== 'changed')) queue.requeue(item)
          else queue.fail(item)
        }
      }
      const supervise = async (state: PeerState): Promise<void> => {
        while (queue.outstanding > 0 && state.usable && !signal.aborted) {
          const peer = await state.connect(signal)
          if (peer != null) {
            await Promise.all(Array.from({ length: window }, async () => { await lane(state, peer) }))
            if (queue.outstanding === 0 || !state.usable) break
            if (state.status === 'up') continue
          }
          if (!state.usable || queue.outstanding === 0) break
          await state.waitBackoff(signal).catch(() => {})
        }
      }
      const watchdog = async (): Promise<void> => {
        while (queue.outstanding > 0 && !signal.aborted) {
          await sleep(250, signal).catch(() => {})
          if (peers.every((p) => !p.usable)) {
            // nobody left to ask: what is still outstanding cannot be had in this run
            for (const item of items) if (!item.done) queue.fail(item)
          } else if (Date.now() - lastProgress > deadlineMs) {
            controller.abort(noPeers(`data for ${Math.round(deadlineMs / 1000)} s`))
          }
        }
      }
      await Promise.all([...peers.map(supervise), watchdog()])
      if (signal.aborted && isFerryError(signal.reason)) throw signal.reason
    }
  } catch (err) {
    controller.abort(err) // a fatal error stops every lane, the watchdog and every backoff at once
    throw await abandon(err, opened, freshDest ? dest : undefined)
  } finally {
    outer?.removeEventListener('abort', onAbort)
    await opened?.close(false)
    await Promise.all(peers.map(async (p) => { await p.close() }))
    if (ownPool) await pool?.close()
  }
}

/** Runs `fn` on every item, `limit` at a time. */
async function eachConcurrently<T> (items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++] as T)
  }))
}

/** True if the regular file at `abs` holds exactly the bytes of `f` (size, then every leaf hashed). */
async function holds (abs: string, f: StagedFile, matches: (abs: string, size: number, leaves: FileLeaf[]) => Promise<boolean>): Promise<boolean> {
  const st = await fsp.lstat(abs).catch(() => undefined)
  return st?.isFile() === true && st.size === f.size && await matches(abs, f.size, f.leaves)
}

/**
 * After a fatal error: closes the staging (no handle left to the garbage collector) and, if the pull was
 * refused for space before staging anything in a destination it created (`freshDest`), removes that empty
 * tree. Returns `err`, to throw.
 */
async function abandon (err: unknown, staging: Staging | undefined, freshDest: string | undefined): Promise<unknown> {
  await staging?.close(false)
  if (freshDest !== undefined && staging === undefined && isFerryError(err, 'ERR_NO_SPACE')) await pruneEmptyDirs(freshDest)
  return err
}

/** Every peer answered and none holds `what`: not a network failure (ERR_ROOT_NOT_FOUND, exit 7). */
function notHeld (what: string, root: CID, lacking: PeerState[]): FerryError {
  const who = lacking.map((p) => p.name).join(', ')
  const hint = what.startsWith('the scan') ? ' (is it the root of a scan? A file\'s CID is not: `ferry ls` at the source lists its scans\' roots)' : ''
  return new FerryError('ERR_ROOT_NOT_FOUND', `No peer holds ${what}: ${who} answered that ${lacking.length === 1 ? 'it does' : 'they do'} not have it${hint}`, { details: { root: root.toString(), peers: lacking.map((p) => p.name) } })
}

/** Records the files a pull placed (or hashed) as they are now on disk, for the quick check of later pulls. */
async function recordPlaced (catalog: Catalog, dest: string, paths: string[]): Promise<void> {
  const stats = await Promise.all(paths.map(async (path) => {
    const abs = joinPath(dest, path)
    const st = await fsp.lstat(abs).catch(() => undefined)
    return st?.isFile() === true ? { path: abs, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino } : undefined
  }))
  catalog.placed.record(stats.filter((s) => s !== undefined))
}

/** Why a leaf could not be had: its source file changed at the peers that had it, or no peer could send it. */
function unavailable (item: WorkItem, refusals: string): PullProblem {
  if (item.changedAt !== undefined) {
    return { path: item.file.path, code: 'ERR_CHANGED_AT_SOURCE', message: `changed or removed at the source since it was imported; not served by ${item.changedAt.join('; ')}` }
  }
  return { path: item.file.path, code: 'ERR_UNAVAILABLE', message: `no peer could provide leaf ${item.index} (${item.leaf.cid.toString()})${refusals !== '' ? `: ${refusals}` : ''}` }
}

function conflictAppeared (path: string): PullProblem {
  return { path, code: 'ERR_CONFLICT', message: 'appeared at the destination during the pull; not overwritten (the pulled copy stays staged)' }
}

/** Creates `rel` under dest without ever following a symlink or replacing a file; a problem if it cannot. */
async function mkdirSafe (dest: string, rel: string): Promise<PullProblem | undefined> {
  const abs = joinPath(dest, rel)
  const st = await fsp.lstat(abs).catch(() => undefined)
  if (st == null) {
    try {
      await fsp.mkdir(abs, { recursive: rel === '', mode: 0o700 })
    } catch (err) {
      throw await mkdirError(abs, err)
    }
    return undefined
  }
  if (st.isDirectory()) {
    await fsp.chmod(abs, (st.mode & 0o7777) | 0o700).catch(() => {}) // we must be able to write into it
    return undefined
  }
  if (rel === '') throw new FerryError('ERR_NOT_A_DIRECTORY', `Destination ${dest} exists and is not a directory`)
  return { path: rel, code: 'ERR_CONFLICT', message: `exists at the destination as ${describeType(st)}, where the scan has a directory; nothing written below it` }
}

/**
 * Why `abs` could not be made. A recursive mkdir says ENOENT where the real cause is the nearest existing
 * ancestor (read-only, not writable): that one is asked.
 */
async function mkdirError (abs: string, err: unknown): Promise<FerryError> {
  let cause = err
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
    let dir = dirname(abs)
    while (dir !== dirname(dir) && !(await fsp.lstat(dir).then(() => true, () => false))) dir = dirname(dir)
    await fsp.access(dir, fsc.W_OK).catch((e: unknown) => { cause = e })
  }
  const system = fromSystemError(cause, abs)
  return new FerryError(system.code === 'ERR_NOT_FOUND' ? 'ERR_IO' : system.code, `Cannot create ${abs}: ${system.message}`, { cause })
}

/**
 * Creates a symlink as recorded (it is data: Ferry never follows it). One whose target is absolute or climbs
 * out of dest is not created unless `allowEscaping`, and is reported instead.
 */
async function placeSymlink (dest: string, l: PlannedLink, allowEscaping: boolean): Promise<PullProblem | undefined> {
  const abs = joinPath(dest, l.path)
  const unsafe = symlinkTargetProblem(l.path, l.target)
  if (unsafe !== undefined && (!allowEscaping || l.target.includes('\0'))) {
    return { path: l.path, code: 'ERR_UNSAFE_SYMLINK', message: `symlink not created: ${unsafe} (pass --allow-escaping-symlinks to create it anyway)` }
  }
  const existing = await fsp.lstat(abs).catch(() => undefined)
  if (existing != null) {
    if (existing.isSymbolicLink() && await fsp.readlink(abs) === l.target) return undefined
    return { path: l.path, code: 'ERR_CONFLICT', message: `exists at the destination as ${describeType(existing)}; not replaced by the symlink` }
  }
  await fsp.symlink(l.target, abs)
  await fsp.lutimes(abs, l.mtimeMs / 1000, l.mtimeMs / 1000).catch(() => {})
  return undefined
}

/**
 * Refuses a scan record whose origin signature is missing or does not verify over the record and its
 * entries (`entries`: their count and digest, as received). ERR_UNSIGNED / ERR_BAD_SIGNATURE.
 */
async function checkRecordSignature (record: ScanInfo, root: CID, entries: { count: number, digest: Uint8Array }, from: string | undefined): Promise<void> {
  const source = from !== undefined ? `peer ${from}` : 'this node\'s catalog'
  const details = { root: root.toString(), origin: record.origin, from: from ?? null }
  if (record.signature === undefined) {
    throw new FerryError('ERR_UNSIGNED', `The record of ${root.toString()} from ${source} is not signed (imported by a Ferry without signed records): refused. Its origin ${record.origin} should run \`ferry add\` on the scan again, which signs it`, { details })
  }
  const check = await verifyScanSignature({ ...record, root }, entries, record.signature)
  if (!check.ok) {
    throw new FerryError('ERR_BAD_SIGNATURE', `The record of ${root.toString()} from ${source} does not verify as signed by its origin ${record.origin}: ${check.reason}. Nothing was written; pull from another peer or ask the origin`, { details })
  }
}

async function registerScan (
  catalog: Catalog, dest: string, record: ScanInfo, root: CID,
  files: Array<{ entry: DagEntry, leaves: FileLeaf[] }>, meta: Map<string, ScanEntryInfo>, innerNodes: Iterable<CID>,
  provenance: Array<{ peer: string, bytes: number, fetched: number }>
): Promise<void> {
  if (catalog.listScans().some((s) => s.root?.equals(root) === true && s.sourcePath === dest && s.state === 'complete')) return
  const writer = catalog.createScanWriter({ collection: record.collection, name: record.name, sourcePath: dest, origin: record.origin, created: record.created })
  try {
    // the entries exactly as signed (checked against the DAG above), so the origin's signature still verifies here
    for (const m of meta.values()) writer.addEntry(m)
    writer.addNodes(innerNodes)
    for (const { entry, leaves } of files) {
      const abs = joinPath(dest, entry.path)
      const st = await fsp.lstat(abs)
      writer.addSource(abs, st.size, st.mtimeMs, leaves.map((l) => ({ cid: l.cid, offset: l.offset, length: l.length })))
    }
    writer.commit({ root, files: record.files, directories: record.directories, symlinks: record.symlinks, bytes: record.bytes, skipped: record.skipped, signature: record.signature, provenance })
  } catch (err) {
    writer.abort()
    throw err
  }
}

