/**
 * A scan of many small files (issue 12): 20,000 files of 0-4 KiB in 40 directories, pulled between real
 * daemons, killed with SIGKILL mid-way, resumed, and compared byte for byte; then pulled again as a no-op.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FERRY_BIN, ferry, initTestHome, json } from '../support/ferry.js'
import { DaemonSet, type Daemon } from '../support/daemon.js'
import { bytes, cleanup, hashTree, tempDir } from '../support/tree.js'

const FILES = 20_000
const DIRS = 40
const MAX_SIZE = 4096
const PULL_TIMEOUT_MS = 240_000

/** Files under their final names in `dest` (one level of directories, staging left out). */
function placedFiles (dest: string): number {
  let n = 0
  let dirs: string[] = []
  try { dirs = readdirSync(dest) } catch { return 0 }
  for (const d of dirs) {
    if (d === '.ferry-partial') continue
    try { n += readdirSync(join(dest, d)).length } catch {}
  }
  return n
}

/** Bytes of the files under their final names in `dest` (as `placedFiles`). */
function placedBytes (dest: string): number {
  let n = 0
  for (const d of readdirSync(dest)) {
    if (d === '.ferry-partial') continue
    for (const f of readdirSync(join(dest, d))) n += statSync(join(dest, d, f)).size
  }
  return n
}

/** Each file under its final name in `dest` (as `placedFiles`) with its ctime: a chmod or utimes changes it. */
function placedCtimes (dest: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const d of readdirSync(dest)) {
    if (d === '.ferry-partial') continue
    for (const f of readdirSync(join(dest, d))) out.set(join(d, f), statSync(join(dest, d, f)).ctimeMs)
  }
  return out
}

/** The transfer package's PLACED_ROWS_FLUSH: files placed and not yet recorded as Ferry's at most. */
const PLACED_ROWS_FLUSH = 1024

describe('a scan of 20,000 small files', () => {
  const daemons = new DaemonSet()
  let tmp: string
  let scan: string
  let root: string
  let source: Daemon
  let puller: { dir: string, id: string }

  beforeAll(async () => {
    tmp = tempDir()
    scan = join(tmp, 'many')
    // one pool of bytes, every file a distinct slice with its index in front (as the bench's small tree)
    const pool = bytes(1024 * 1024, 'many-files')
    for (let d = 0; d < DIRS; d++) mkdirSync(join(scan, `dir_${String(d).padStart(3, '0')}`), { recursive: true })
    for (let i = 0; i < FILES; i++) {
      const size = (i * 2654435761) % (MAX_SIZE + 1)
      const start = (i * 40503) % (pool.length - MAX_SIZE)
      const buf = Buffer.from(pool.subarray(start, start + size))
      if (size >= 4) buf.writeUInt32LE(i, 0)
      writeFileSync(join(scan, `dir_${String(i % DIRS).padStart(3, '0')}`, `f_${String(i).padStart(5, '0')}.dat`), buf)
    }
    const A = await initTestHome(tmp, 'source')
    puller = await initTestHome(tmp, 'puller')
    const added = json(await ferry(['add', scan, '--json', '--home', A.dir], { timeoutMs: PULL_TIMEOUT_MS }))
    expect(added.files).toBe(FILES)
    root = added.root
    await ferry(['trust', puller.id, '--home', A.dir])
    source = await daemons.start(A.dir)
  }, PULL_TIMEOUT_MS)
  afterAll(async () => {
    await daemons.stopAll()
    cleanup(tmp)
  })

  it('kill -9 mid-way, then the same command resumes; the copy is byte for byte; a re-pull is a no-op', async () => {
    const dest = join(tmp, 'dest')
    const args = ['pull', root, dest, '--from', source.addr, '--json', '--home', puller.dir]
    const child = spawn(FERRY_BIN, args, { stdio: 'ignore', env: { ...process.env, FERRY_HOME: undefined } })
    const exited = new Promise((resolve) => child.on('exit', resolve))
    const deadline = Date.now() + PULL_TIMEOUT_MS
    while (placedFiles(dest) < FILES * 0.3 && Date.now() < deadline && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 50))
    child.kill('SIGKILL')
    await exited
    const before = placedFiles(dest)
    const bytesBefore = placedBytes(dest)
    const ctimes = placedCtimes(dest)
    expect(before).toBeGreaterThan(0)
    expect(before).toBeLessThan(FILES) // killed mid-way, not after the end

    const out = json(await ferry(args, { timeoutMs: PULL_TIMEOUT_MS }))
    expect(out.complete).toBe(true)
    expect(out.files).toBe(FILES)
    expect(out.problems).toEqual([])
    // nothing fetched twice: what it fetched is what it did not find at the destination or staged
    expect(out.bytesFetched + out.bytesPresent + out.bytesResumed + out.bytesLocal).toBe(out.bytes)
    // every file placed before the kill is complete and verified (a name appears only then): all are kept
    expect(out.bytesPresent).toBeGreaterThanOrEqual(bytesBefore)
    expect(hashTree(dest)).toEqual(hashTree(scan))
    // the killed run recorded what it placed as it went, so the resume trusted those files (quick check)
    // instead of hashing each again and re-setting its mode and mtime (which would change its ctime); only
    // those placed after its last record are hashed
    const untouched = [...ctimes].filter(([path, ctime]) => statSync(join(dest, path)).ctimeMs === ctime).length
    expect(untouched).toBeGreaterThanOrEqual(before - PLACED_ROWS_FLUSH)

    const again = json(await ferry(args, { timeoutMs: PULL_TIMEOUT_MS }))
    expect(again.complete).toBe(true)
    expect(again.bytesFetched).toBe(0)
    expect(again.bytesPresent).toBe(out.bytes)
  }, 3 * PULL_TIMEOUT_MS)
})
