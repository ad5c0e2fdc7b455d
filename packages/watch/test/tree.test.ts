/**
 * `watchTree` on real files and the real native watcher (@parcel/watcher, inotify): a file is settled only
 * once unchanged for the settle time, never while it grows; with the queue of waiting files bounded far
 * below the number of files, every file is still found (rescans), with one kernel watch per directory and
 * none per file.
 */
import { appendFileSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mkdtempSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { watchTree, type SettledFile, type TreeWatch } from '@ferry/watch'

const dirs: string[] = []
const watches: TreeWatch[] = []
afterEach(async () => {
  for (const w of watches.splice(0)) await w.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function temp (): string {
  const d = mkdtempSync(join(tmpdir(), 'ferry-watch-tree-'))
  dirs.push(d)
  return d
}

async function until (cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Kernel inotify watches this process holds (the `inotify wd:` lines of its inotify descriptors). */
function inotifyWatches (): number {
  let n = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    let target = ''
    try { target = readlinkSync(`/proc/self/fd/${fd}`) } catch { continue }
    if (target !== 'anon_inode:inotify') continue
    n += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length
  }
  return n
}

async function start (dir: string, settleMs: number, settled: SettledFile[], extra: { maxPending?: number, rescanMs?: number } = {}): Promise<TreeWatch> {
  const done = new Map<string, string>()
  const w = await watchTree({
    dir,
    settleMs,
    ...extra,
    signal: new AbortController().signal,
    isNew: (rel, size, mtimeMs) => done.get(rel) !== `${size}:${mtimeMs}`,
    onSettled: async (f) => { done.set(f.rel, `${f.size}:${f.mtimeMs}`); settled.push(f); return true },
    onError: (err) => { throw err }
  })
  watches.push(w)
  return w
}

describe('watchTree', () => {
  it('settles a file once it stops changing, never while it grows', async () => {
    const dir = temp()
    const settled: SettledFile[] = []
    await start(dir, 1000, settled)
    const f = join(dir, 'growing.bin')
    writeFileSync(f, Buffer.alloc(1000, 1))
    for (let i = 0; i < 6; i++) {
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(settled).toEqual([])
      appendFileSync(f, Buffer.alloc(1000, 2))
    }
    writeFileSync(join(dir, '.hidden'), 'x')
    writeFileSync(join(dir, 'x.part'), 'x')
    await until(() => settled.length > 0, 10_000, 'growing.bin settled')
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(settled.map((s) => [s.rel, s.size])).toEqual([['growing.bin', 7000]])
  })

  it('finds every one of 100,000 files with at most 10,000 waiting, one kernel watch per directory', async () => {
    const dir = temp()
    const DIRS = 100
    const PER = 1000
    for (let d = 0; d < DIRS; d++) {
      mkdirSync(join(dir, `d${d}`))
      for (let i = 0; i < PER; i++) writeFileSync(join(dir, `d${d}`, `f${i}`), '')
    }
    const settled: SettledFile[] = []
    const before = inotifyWatches()
    const w = await start(dir, 100, settled, { rescanMs: 500 })
    expect(inotifyWatches() - before).toBe(DIRS + 1) // one per directory, none per file
    void w.rescan() // as a watch does when it starts: what was written while nobody watched
    let peakPending = 0
    await until(() => { peakPending = Math.max(peakPending, w.pending); return settled.length >= DIRS * PER }, 120_000, 'every file settled')
    expect(peakPending).toBeLessThanOrEqual(10_000)
    expect(new Set(settled.map((s) => s.rel)).size).toBe(DIRS * PER)
    console.log(`100,000 files: at most ${peakPending} waiting at once`)
  }, 180_000)
})
