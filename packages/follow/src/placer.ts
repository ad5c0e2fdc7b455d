/**
 * The placing side of a follow: verified entries are added in seq order as they arrive, and up to
 * `lanes` files are placed at once, each lane taking the next entry as soon as it is free (a file announced
 * while others are being placed starts at once; it never waits for a batch to finish). Two entries of one
 * path are never placed at the same time: a later version waits until the earlier one is done (and an
 * earlier one not yet started when a later one arrives is skipped by `place`, superseded). `record` runs
 * for each entry in seq order, once it and every entry before it are done (the mirror's prefix), inside
 * `commit`.
 */
import type { OpenEntryRow } from '@ferry/exchange'

/** What the placer calls. */
export interface PlacerInit<T> {
  lanes: number
  /** Places one entry (or decides to skip it); what `record` is then given. */
  place: (e: OpenEntryRow) => Promise<T>
  /** Runs for each entry in seq order once it and all before it are done; given what `place` returned. */
  record: (e: OpenEntryRow, placed: T) => void
  /**
   * Runs once an entry is placed: must call `recordDone` (which marks it done and runs `record` for the
   * entries now in order), so the caller can wrap it with its own writes in one transaction.
   */
  commit: (placed: T, recordDone: () => void) => void
  /** Called once, with the first failure (of `place` or `record`); no entry starts after it. */
  onFailure: (err: unknown) => void
}

/** A running placer. */
export interface Placer {
  /** Adds verified entries, in seq order after those added before. */
  add: (entries: OpenEntryRow[]) => void
  /** Entries added and not yet recorded. */
  readonly queued: number
  /** Resolves once every entry added is recorded; rejects with the first failure once no lane runs. */
  drained: () => Promise<void>
  /** Resolves once no lane runs (after a failure or an abort: nothing left half-done). */
  stopped: () => Promise<void>
}

interface Slot<T> { e: OpenEntryRow, done: boolean, placed?: T }

/** Starts a placer (see the module comment). */
export function createPlacer<T> (init: PlacerInit<T>): Placer {
  const slots: Array<Slot<T>> = [] // added, not yet recorded, in seq order
  const waiting: Array<Slot<T>> = [] // not yet started
  const busyPaths = new Set<string>()
  let running = 0
  let failure: { err: unknown } | undefined
  let wakers: Array<() => void> = []
  const notify = (): void => { const w = wakers; wakers = []; for (const f of w) f() }
  const fail = (err: unknown): void => {
    if (failure !== undefined) return
    failure = { err }
    init.onFailure(err)
  }
  const flush = (): void => {
    while (slots.length > 0 && slots[0]!.done) {
      const slot = slots.shift()!
      init.record(slot.e, slot.placed as T)
    }
  }
  const nextStartable = (): Slot<T> | undefined => {
    const i = waiting.findIndex((w) => !busyPaths.has(w.e.path))
    return i < 0 ? undefined : waiting.splice(i, 1)[0]
  }
  const lane = async (): Promise<void> => {
    for (let slot = nextStartable(); slot !== undefined && failure === undefined; slot = nextStartable()) {
      busyPaths.add(slot.e.path)
      try {
        const placed = await init.place(slot.e)
        slot.placed = placed
        init.commit(placed, () => {
          slot.done = true
          flush()
        })
      } catch (err) {
        fail(err)
      } finally {
        busyPaths.delete(slot.e.path)
      }
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
      await until(() => running === 0 && (failure !== undefined || slots.length === 0))
      if (failure !== undefined) throw failure.err
    },
    stopped: async () => { await until(() => running === 0) }
  }
}
