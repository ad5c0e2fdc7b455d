import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { initHome, openHome } from '@ferry/store'
import { block, leafCid, tempDir } from './helpers.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

// Runs in a child process: waits for a common start time, then writes one scan (many small transactions,
// interleaving with the other process) and puts blocks, half of them shared with the other process.
const CHILD = `
import { openHome, openCatalog } from '@ferry/store'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
const [dir, tag, n, startAt] = process.argv.slice(1)
const N = Number(n)
const enc = new TextEncoder()
const cid = async (s, code) => CID.createV1(code, await sha256.digest(enc.encode(s)))
const home = await openHome(dir)
const catalog = openCatalog(dir + '/catalog.db', { flushRows: 300 })
const shared = await cid('leaf:shared', 0x55)
const blocks = []
for (let i = 0; i < 1000; i++) { const bytes = enc.encode('node:' + (i % 2 === 0 ? 'shared-' + i : tag + '-' + i)); blocks.push({ cid: CID.createV1(0x70, await sha256.digest(bytes)), bytes }) }
const root = await cid('root:' + tag, 0x70)
while (Date.now() < Number(startAt)) await new Promise(r => setTimeout(r, 5))
const began = Date.now()
const w = catalog.createScanWriter({ name: tag, sourcePath: '/src/' + tag, origin: home.peerId.toString() })
const putting = home.blocks.putMany(blocks)
w.addEntry({ path: '', type: 'directory', size: 0, mode: 0o40755, mtimeMs: 1, cid: root })
for (let i = 0; i < N; i++) {
  w.addEntry({ path: 'f' + i, type: 'file', size: 4, mode: 0o100644, mtimeMs: i, cid: root })
  w.addSource('/src/' + tag + '/f' + i, 4, i, [{ cid: shared, offset: 0, length: 4 }])
  if (i % 1000 === 0) await new Promise(r => setImmediate(r))
}
w.commit({ root, files: N, directories: 1, symlinks: 0, bytes: 4 * N, skipped: [] })
const ended = Date.now()
await putting
process.stdout.write(JSON.stringify({ began, ended }))
catalog.close()
await home.close()
`

interface ChildResult { code: number | null, stderr: string, stdout: string }

function runChild (args: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    let stdout = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('close', code => { resolve({ code, stderr, stdout }) })
  })
}

describe('two processes on one home', () => {
  it('write scans and blocks at the same time without errors or corruption', async () => {
    const dir = await tempDir()
    await (await initHome(dir)).close()
    const N = 15_000
    const startAt = String(Date.now() + 1500)
    const [a, b] = await Promise.all([runChild([dir, 'a', String(N), startAt]), runChild([dir, 'b', String(N), startAt])])
    expect({ code: a.code, stderr: a.stderr }).toEqual({ code: 0, stderr: '' })
    expect({ code: b.code, stderr: b.stderr }).toEqual({ code: 0, stderr: '' })
    // The two imports really ran at the same time.
    const ta = JSON.parse(a.stdout) as { began: number, ended: number }
    const tb = JSON.parse(b.stdout) as { began: number, ended: number }
    expect(ta.began < tb.ended && tb.began < ta.ended).toBe(true)

    const db = new Database(path.join(dir, 'catalog.db'))
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    expect(db.pragma('foreign_key_check')).toEqual([])
    db.close()

    const home = await openHome(dir)
    const scans = home.catalog.listScans()
    expect(scans.map(s => s.name).sort()).toEqual(['a', 'b'])
    for (const s of scans) {
      expect(s.files).toBe(N)
      let count = 0
      for (const _ of home.catalog.entries(s.id)) count++
      expect(count).toBe(N + 1)
    }
    expect(home.catalog.findLeaf(await leafCid('shared'))).toHaveLength(2 * N)
    for (let i = 0; i < 1000; i++) {
      const { cid, bytes } = await block(i % 2 === 0 ? `shared-${i}` : `a-${i}`)
      expect(Buffer.from(await home.blocks.get(cid)).equals(Buffer.from(bytes))).toBe(true)
    }
    await home.close()
  })
})

// Runs in a child process: relaxed commits (no fsync) of a pull's journal and a task's progress and events,
// then the process kills itself with SIGKILL, closing nothing.
const RELAXED_CHILD = `
import { openCatalog } from '@ferry/store'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
const [dir] = process.argv.slice(1)
const catalog = openCatalog(dir + '/catalog.db')
const root = CID.createV1(0x70, await sha256.digest(new TextEncoder().encode('root')))
const pull = catalog.pulls.open(root, '/dest')
catalog.pulls.phaseDone(pull.id, 'dag')
catalog.placed.record([{ path: '/dest/f', size: 4, mtimeMs: 1, ctimeMs: 2, ino: 3 }])
const { task } = catalog.tasks.create({ taskId: 't1', root: root.toString(), destination: '/dest', sources: ['/ip4/127.0.0.1/tcp/1'], deadline: Date.now() + 60_000 })
catalog.tasks.progress(task.taskId, { succeeded: 7, bytesTransferred: 123 })
for (let i = 0; i < 3; i++) catalog.tasks.addEvent(task.taskId, 'note', 'line ' + i)
process.kill(process.pid, 'SIGKILL')
`

describe('relaxed commits', () => {
  it('survive the process being killed with SIGKILL: journal phase, placed file, task progress and events', async () => {
    const dir = await tempDir()
    await (await initHome(dir)).close()
    const child = await new Promise<{ signal: NodeJS.Signals | null, stderr: string }>((resolve, reject) => {
      const c = spawn(process.execPath, ['--input-type=module', '-e', RELAXED_CHILD, dir], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      c.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
      c.on('error', reject)
      c.on('close', (_code, signal) => { resolve({ signal, stderr }) })
    })
    expect(child).toEqual({ signal: 'SIGKILL', stderr: '' })
    const home = await openHome(dir)
    try {
      const pull = home.catalog.pulls.getById(1)
      expect(pull).toMatchObject({ dest: '/dest', state: 'active', phase: 'dag' })
      expect(home.catalog.placed.trusted('/dest/f', { size: 4, mtimeMs: 1, ctimeMs: 2, ino: 3 })).toBe(true)
      expect(home.catalog.tasks.get('t1')).toMatchObject({ condition: 'QUEUED', succeeded: 7, bytesTransferred: 123 })
      expect(home.catalog.tasks.events('t1').map((e) => e.message)).toEqual(['line 0', 'line 1', 'line 2'])
    } finally {
      await home.close()
    }
    const db = new Database(path.join(dir, 'catalog.db'))
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    db.close()
  }, 30_000)
})
