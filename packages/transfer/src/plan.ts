import type { FileLeaf } from '@ferry/dag'
import type { PlanFileRow } from '@ferry/store'
import { safeMode } from './fs-safe.js'
import type { WorkItem } from './queue.js'
import { bitmapFor, hasBit, type StagedFile } from './staging.js'

/**
 * The scan's files by index, as the plan reads them: the pull's plan on disk (`PullPlan`), which pages them
 * (so a file's row is read again when asked for after its page left the cache).
 */
export interface PlanFiles {
  readonly fileCount: number
  file: (index: number) => PlanFileRow | undefined
}

/** A file's state in the plan: 0 (the default) not to stage (present, in conflict or blocked), or: */
const STAGE = 1
const DONE = 2

/**
 * The files a pull still has to stage, kept compact: one byte of state per file of the scan, and a leaf
 * bitmap only for files an earlier run left partly staged. A file's `StagedFile` (the object the queue, the
 * staging and the sink share) exists only while it is being written: made when its first leaf is read
 * from the plan or copied locally, dropped once it is placed (or found in conflict), so the staged files
 * held at once follow the work queue's window, not the scan. `maxLive` counts the most held at once.
 */
export class StagePlan {
  private readonly state: Uint8Array
  private readonly resumed = new Map<number, Uint8Array>()
  private readonly live = new Map<number, StagedFile>()
  private readonly ids = new WeakMap<StagedFile, number>()
  /** Files to stage (set by `add`). */
  count = 0
  /** Leaves still to write, and their bytes (set by `add`). */
  missingLeaves = 0
  missingBytes = 0
  /** The most `StagedFile`s held at once (what the queue's window bounds; tests count it). */
  maxLive = 0

  constructor (private readonly files: PlanFiles) {
    this.state = new Uint8Array(files.fileCount)
  }

  /** File `index` of the scan is to be staged; `done`: the leaves an earlier run staged that re-verified. */
  add (index: number, done?: Uint8Array): void {
    const leaves = this.files.file(index)?.leaves ?? []
    this.state[index] = STAGE
    this.count++
    if (done !== undefined && done.some((b) => b !== 0)) this.resumed.set(index, done)
    for (let i = 0; i < leaves.length; i++) {
      if (done !== undefined && hasBit(done, i)) continue
      this.missingLeaves++
      this.missingBytes += leaves[i]?.length ?? 0
    }
  }

  /** The indexes of the files still to stage, in file order. */
  * indexes (): Generator<number> {
    for (let i = 0; i < this.state.length; i++) if (this.state[i] === STAGE) yield i
  }

  /** File `index`'s staged file: the one being written, else a new one (with what an earlier run staged). */
  open (index: number): StagedFile {
    const held = this.live.get(index)
    if (held !== undefined) return held
    const f = this.files.file(index) as PlanFileRow
    const done = this.resumed.get(index) ?? bitmapFor(f.leaves.length)
    this.resumed.delete(index) // the staged file's bitmap is the truth from now on
    let remaining = 0
    for (let i = 0; i < f.leaves.length; i++) if (!hasBit(done, i)) remaining++
    const file: StagedFile = { path: f.path, cid: f.cid, size: f.size, mode: safeMode(f.mode, false), mtimeMs: f.mtimeMs, leaves: f.leaves, done, remaining, writing: 0, dirty: false }
    this.live.set(index, file)
    this.ids.set(file, index)
    if (this.live.size > this.maxLive) this.maxLive = this.live.size
    return file
  }

  /** A file is placed, or in conflict: nothing more is written to it, and the plan forgets it. */
  release (file: StagedFile): void {
    const index = this.ids.get(file)
    if (index === undefined) return
    this.state[index] = DONE
    this.live.delete(index)
  }

  /** The index in the scan of a file this plan opened (undefined for another object). */
  indexOf (file: StagedFile): number | undefined {
    return this.ids.get(file)
  }

  /** Staged files held now. */
  get held (): number {
    return this.live.size
  }

  /** Whether file `index` is still to stage (not placed yet in this run). */
  pending (index: number): boolean {
    return this.state[index] === STAGE
  }

  /** Leaf `leaf` of file `index` is not written yet. */
  missing (index: number, leaf: number): boolean {
    if (this.state[index] !== STAGE) return false
    const done = this.live.get(index)?.done ?? this.resumed.get(index)
    return done === undefined || !hasBit(done, leaf)
  }

  /** The path of file `index` of the scan. */
  pathOf (index: number): string {
    return this.files.file(index)?.path ?? `#${index}`
  }

  /** The leaves of file `index`. */
  leavesOf (index: number): readonly FileLeaf[] {
    return this.files.file(index)?.leaves ?? []
  }

  /**
   * The leaves still to write, in file order, as work items made one at a time: each file's staged file is
   * opened when its first missing leaf is read, so a reader that holds a window of items holds about as
   * many files.
   */
  * items (): Generator<WorkItem> {
    for (const index of this.indexes()) {
      const leaves = this.leavesOf(index)
      for (let i = 0; i < leaves.length; i++) {
        if (!this.missing(index, i)) continue
        const file = this.open(index)
        yield { file, index: i, leaf: file.leaves[i] as FileLeaf, inflight: 0, done: false, failed: false }
      }
    }
  }

  /**
   * Files with nothing left to write (only to place): those an earlier run staged completely, and empty
   * files. Opened one at a time as the reader asks (it places each before asking for the next).
   */
  * completeAlready (): Generator<StagedFile> {
    for (const index of this.indexes()) {
      const leaves = this.leavesOf(index)
      const done = this.resumed.get(index)
      if (leaves.length === 0 || (done !== undefined && leaves.every((_, i) => hasBit(done, i)))) yield this.open(index)
    }
  }
}
