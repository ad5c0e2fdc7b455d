/**
 * The placing side of a follow: verified entries are added in seq order as they arrive, and up to
 * `lanes` files are placed at once, each lane taking the next entry as soon as it is free (a file announced
 * while others are being placed starts at once; it never waits for a batch to finish). Two entries of one
 * path are never placed at the same time: a later version waits until the earlier one is committed (and an
 * earlier one not yet started when a later one arrives is skipped by `place`, superseded). `record` runs
 * for each entry in seq order, once it and every entry before it are done (the mirror's prefix), inside
 * `commit`.
 *
 * Commits are grouped: the entries placed while other lanes are still placing wait for them (at most
 * `commitWaitMs`, and no more than `lanes` of them), and go into one `commit`, so one transaction (one
 * fsync, which blocks the event loop) serves several files when the follower is behind; when it keeps up,
 * a file is committed the moment it is placed, as no other lane is busy.
 */
import type { OpenEntryRow } from '@ferry/exchange'

/** An entry placed, waiting for its commit: what `place` returned, and `recordDone` to call inside it. */
export interface PlacedEntry<T> { placed: T, recordDone: () => void }

/** What the placer calls. */
export interface PlacerInit<T> {
  lanes: number
  /** Places one entry (or decides to skip it); what `record` is then given. */
  place: (e: OpenEntryRow) => Promise<T>
  /** Runs for each entry in seq order once it and all before it are done; given what `place` returned. */
  record: (e: OpenEntryRow, placed: T) => void
  /**
   * Runs once one or more entries are placed, in the order they were placed: must call each one's
   * `recordDone` (which marks it done and runs `record` for the entries now in order), so the caller can
   * wrap them with its own writes in one transaction.
   */
  commit: (group: Array<PlacedEntry<T>>) => void
  /** Longest an entry placed waits for the other lanes' before its commit; default DEFAULT_COMMIT_WAIT_MS. */
  commitWaitMs?: number
  /** Called once, with the first failure (of `place`, `commit` or `record`); no entry starts after it. */
  onFailure: (err: unknown) => void
}

/** How long a placed file waits for the files other lanes are placing, to share their commit. */
export const DEFAULT_COMMIT_WAIT_MS = 25

/** A running placer. */
export interface Placer {
  /** Adds verified entries, in seq order after those added before. */
  add: (entries: OpenEntryRow[]) => void
  /** Entries added and not yet recorded. */
  readonly queued: number
  /** Resolves once every entry added is recorded; rejects with the first failure once no lane runs. */
  drained: () => Promise<void>
  /** Resolves once no lane runs and nothing placed waits for its commit (after a failure or an abort too). */
  stopped: () => Promise<void>
}

interface Slot<T> { e: OpenEntryRow, done: boolean, placed?: T }

/** The group commit of a placer: entries placed wait in `ready` until `flushNow` commits them together. */
function groupCommits<T> (init: PlacerInit<T>, lanes: { placing: number }, after: (group: Array<Slot<T>>, err?: unknown) => void, flush: () => void): { ready: (slot: Slot<T>) => void, flushNow: () => void } {
  let ready: Array<Slot<T>> = []
  let timer: ReturnType<typeof setTimeout> | undefined
  const flushNow = (): void => {
    clearTimeout(timer)
    timer = undefined
    if (ready.length === 0) return
    const group = ready
    ready = []
    try {
      init.commit(group.map((slot) => ({ placed: slot.placed as T, recordDone: () => { slot.done = true; flush() } })))
      after(group)
    } catch (err) {
      after(group, err)
    }
  }
  return {
    ready: (slot) => {
      ready.push(slot)
      if (lanes.placing === 0 || ready.length >= init.lanes) flushNow()
      else timer ??= setTimeout(flushNow, init.commitWaitMs ?? DEFAULT_COMMIT_WAIT_MS)
    },
    flushNow
  }
}

/** Starts a placer (see the module comment). */
export function createPlacer<T> (init: PlacerInit<T>): Placer {
  const slots: Array<Slot<T>> = [] // added, not yet recorded, in seq order
  const waiting: Array<Slot<T>> = [] // not yet started
  const busyPaths = new Set<string>() // being placed or waiting for their commit
  const lanes = { placing: 0 }
  let running = 0
  let uncommitted = 0
  let failure: { err: unknown } | undefined
  let wakers: Array<() => void> = []
  const notify = (): void => { const w = wakers; wakers = []; for (const f of w) f() }
  const flush = (): void => {
    while (slots.length > 0 && slots[0]!.done) {
      const slot = slots.shift()!
      init.record(slot.e, slot.placed as T)
    }
  }
  const commits = groupCommits(init, lanes, (group, err) => {
    for (const slot of group) busyPaths.delete(slot.e.path)
    uncommitted -= group.length
    if (err !== undefined) fail(err)
    startLanes() // a path freed: what waited on it can start
    notify()
  }, flush)
  const fail = (err: unknown): void => {
    if (failure !== undefined) return
    failure = { err }
    init.onFailure(err)
    commits.flushNow() // what is placed is journaled before the follow stops
  }
  const nextStartable = (): Slot<T> | undefined => {
    const i = waiting.findIndex((w) => !busyPaths.has(w.e.path))
    return i < 0 ? undefined : waiting.splice(i, 1)[0]
  }
  const lane = async (): Promise<void> => {
    for (let slot = nextStartable(); slot !== undefined && failure === undefined; slot = nextStartable()) {
      busyPaths.add(slot.e.path)
      lanes.placing++
      const placed = await init.place(slot.e).then((p) => ({ p }), (err: unknown) => ({ err }))
      lanes.placing--
      if ('err' in placed) {
        busyPaths.delete(slot.e.path)
        fail(placed.err) // commits what the other lanes placed
        return
      }
      slot.placed = placed.p
      uncommitted++
      commits.ready(slot)
    }
  }
  const startLanes = (): void => {
    while (failure === undefined && running < init.lanes && waiting.some((w) => !busyPaths.has(w.e.path))) {
      running++
      void lane().finally(() => {
        running--
        startLanes() // a path freed with no lane left to take what waited on it
        notify()
      })
    }
  }
  const until = async (cond: () => boolean): Promise<void> => {
    while (!cond()) await new Promise<void>((resolve) => { wakers.push(resolve) })
  }
  return {
    add: (entries) => {
      for (const e of entries) {
        const slot = { e, done: false }
        slots.push(slot)
        waiting.push(slot)
      }
      startLanes()
    },
    get queued () { return slots.length },
    drained: async () => {
      await until(() => running === 0 && uncommitted === 0 && (failure !== undefined || slots.length === 0))
      if (failure !== undefined) throw failure.err
    },
    stopped: async () => { await until(() => running === 0 && uncommitted === 0) }
  }
}
