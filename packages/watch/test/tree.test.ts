/**
 * `watchTree` on real files and the real native watcher (@parcel/watcher, inotify): a file is settled only
 * once unchanged for the settle time, never while it grows; with the queue of waiting files bounded far
 * below the number of files, every file is still found (rescans), with one kernel watch per directory and
 * none per file; with inotifywait, a file closed after writing (or renamed in) is settled at once, one still
 * open never, and the inotifywait child ends with the watch.
 */
import { appendFileSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mkdtempSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { closeSync, openSync, renameSync, writeSync } from 'node:fs'
import { recordParser, watchTree, type SettledFile, type TreeWatch } from '@ferry/watch'

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

async function start (dir: string, settleMs: number, settled: SettledFile[], extra: { maxPending?: number, rescanMs?: number, closeEvents?: false } = {}): Promise<TreeWatch> {
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
    await start(dir, 1000, settled, { closeEvents: false }) // appendFileSync closes after every piece
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

  it('settles a file the moment its writer closes it (settle 60 s), never while open; inotifywait ends with the watch', async (ctx) => {
    if (spawnSync('inotifywait', ['--help'], { stdio: 'ignore' }).error !== undefined) ctx.skip('needs inotifywait (Debian package inotify-tools); the e2e test requires it in CI')
    const dir = temp()
    mkdirSync(join(dir, 'sub dir'))
    const settled: SettledFile[] = []
    const w = await start(dir, 60_000, settled)
    expect(w.closeEvents).toBe(true)
    expect(inotifywaitChildren()).toHaveLength(1)
    const name = 'sub dir/frame\n1.raw'
    const fd = openSync(join(dir, name), 'w')
    for (let i = 0; i < 5; i++) {
      writeSync(fd, Buffer.alloc(100_000, i))
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(settled).toEqual([])
    closeSync(fd)
    await until(() => settled.length === 1, 10_000, 'the closed file settled')
    expect(settled[0]).toMatchObject({ rel: name, size: 500_000 })
    writeFileSync(join(dir, '.tmp-2'), 'renamed')
    renameSync(join(dir, '.tmp-2'), join(dir, 'two'))
    await until(() => settled.length === 2, 10_000, 'the renamed file settled')
    expect(settled[1]).toMatchObject({ rel: 'two', size: 7 })
    await w.close()
    expect(inotifywaitChildren()).toEqual([])
  })
})

describe('recordParser', () => {
  it('splits NUL-separated (events, path) records however the chunks fall', () => {
    const got: Array<[string, string]> = []
    const parse = recordParser((e, f) => { got.push([e, f]) })
    const all = Buffer.from('CLOSE_WRITE,CLOSE\0/d/a b\0MOVED_TO\0/d/new\nline\0MOVED_TO,ISDIR\0/d/x\0')
    for (let i = 0; i < all.length; i += 3) parse(all.subarray(i, i + 3))
    expect(got).toEqual([['CLOSE_WRITE,CLOSE', '/d/a b'], ['MOVED_TO', '/d/new\nline'], ['MOVED_TO,ISDIR', '/d/x']])
    expect(() => { parse(Buffer.alloc(70_000, 0x41)) }).toThrow(/without a separator/)
  })
})

/** Pids of inotifywait processes whose parent is this process. */
function inotifywaitChildren (): number[] {
  const pids: number[] = []
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue
    let stat = ''
    try { stat = readFileSync(`/proc/${p}/stat`, 'utf8') } catch { continue }
    const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat)
    if (m?.[1] === 'inotifywait' && Number(m[2]) === process.pid) pids.push(Number(p))
  }
  return pids
}
