/**
 * During the experiment (issue 13, receiver side), in real processes over real sockets: `ferry pull
 * --collection ID <dest> --follow` replicates the files `ferry watch` publishes while a writer produces
 * them, never shows a file half-written under its final name, takes a file rewritten after it was
 * published (the new version, never a mix), catches up after the follower or the source restarts without
 * fetching again what it has, and verifies the sealed root, which is `ferry add` of the same directory; a
 * subscription follows an open scan; a relay that alters an entry is refused, and a relay that follows from
 * the origin serves the open scan on to a third node.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import Database from 'better-sqlite3'
import { openHome } from '@ferry/store'
import { ferry, initTestHome, json, startFerry, type RunningFerry } from '../support/ferry.js'
import { DaemonSet, type Daemon } from '../support/daemon.js'
import { until } from '../support/api.js'
import { bytes, cleanup, hashTree, tempDir, writeKeptOpen } from '../support/tree.js'

const daemons = new DaemonSet()
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** Every file under `dir` by relative path, skipping the follower's temporary names. */
function finalFiles (dir: string): string[] {
  if (!existsSync(dir)) return []
  return (readdirSync(dir, { recursive: true, withFileTypes: true }))
    .filter((d) => d.isFile() && !d.name.startsWith('.ferry-follow-'))
    .map((d) => relative(dir, join(d.parentPath, d.name)))
}

/**
 * Polls `dir` until stopped: hashes every file under a final name and records any whose bytes are not
 * one complete version the writer wrote (`versions`: path -> hashes of its complete versions).
 */
function watchDest (dir: string, versions: Map<string, Set<string>>): { stop: () => Promise<string[]>, seen: Set<string> } {
  const bad: string[] = []
  const seen = new Set<string>()
  let running = true
  const loop = (async () => {
    while (running) {
      for (const rel of finalFiles(dir)) {
        let data: Buffer
        try { data = readFileSync(join(dir, rel)) } catch { continue }
        seen.add(rel)
        if (!(versions.get(rel)?.has(sha(data)) ?? false)) bad.push(`${rel}: ${data.length} bytes that are no complete version`)
      }
      await new Promise((resolve) => setTimeout(resolve, 30))
    }
  })()
  return { seen, stop: async () => { running = false; await loop; return bad } }
}

function follow (home: string, dest: string, from: string, extra: string[] = [], collection = 'live'): RunningFerry {
  return startFerry(['pull', '--collection', collection, dest, '--from', from, '--follow', '--json', '--home', home, ...extra])
}

describe('ferry pull --collection --follow', () => {
  let tmp: string
  let A: { dir: string, id: string }
  let B: { dir: string, id: string }
  let C: { dir: string, id: string }
  let dA: Daemon

  beforeAll(async () => {
    tmp = tempDir('ferry-follow-')
    A = await initTestHome(tmp, 'source')
    B = await initTestHome(tmp, 'follower')
    C = await initTestHome(tmp, 'oracle')
    expect((await ferry(['trust', B.id, '--home', A.dir])).code).toBe(0)
    expect((await ferry(['trust', C.id, '--home', A.dir])).code).toBe(0)
    dA = await daemons.start(A.dir)
  })
  afterAll(async () => {
    await daemons.stopAll()
    cleanup(tmp)
  })

  /** A new directory `scan` under A's watch (settle 0.5 s) as scan `scan` of `collection`, and a destination for it. */
  async function watched (scan: string, collection: string, destName: string): Promise<{ src: string, dest: string }> {
    const src = join(tmp, scan)
    mkdirSync(src, { recursive: true })
    expect((await ferry(['watch', src, '--collection', collection, '--name', scan, '--settle', '0.5', '--home', A.dir])).code).toBe(0)
    return { src, dest: join(tmp, destName) }
  }

  it('replicates files as a writer produces them, whole, a slow file and a rewritten one; the seal verifies and equals ferry add', async () => {
    const src = join(tmp, 'scan1')
    const dest = join(tmp, 'dest1')
    mkdirSync(join(src, 'raw'), { recursive: true })
    // settle 1.5 s: the volume's pieces come 150 ms apart, so it is never complete at the source before its end
    expect((await ferry(['watch', src, '--collection', 'live', '--name', 'scan1', '--settle', '1.5', '--home', A.dir])).code).toBe(0)
    const versions = new Map<string, Set<string>>()
    const wrote = (rel: string, data: Buffer): void => {
      writeFileSync(join(src, rel), data)
      if (!versions.has(rel)) versions.set(rel, new Set())
      versions.get(rel)!.add(sha(data))
    }
    const f = follow(B.dir, dest, dA.addr)
    const poll = watchDest(join(dest, 'scan1'), versions)
    // a writer: 15 frames, one every 150 ms, of sizes around the chunk boundaries
    const sizes = [1000, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024 + 5]
    for (let i = 0; i < 15; i++) {
      wrote(`raw/f${String(i).padStart(2, '0')}.tif`, bytes(sizes[i % sizes.length]! + i, `f${i}`))
      await new Promise((resolve) => setTimeout(resolve, 150))
    }
    // a volume written slowly in pieces through one open descriptor, 150 ms apart (a tenth of the settle
    // time): 20 x 128 KiB over ~3 s, complete only when closed
    await writeKeptOpen(join(src, 'volume.h5'), bytes(128 * 1024, 'vol'), 20, 150)
    versions.set('volume.h5', new Set([sha(readFileSync(join(src, 'volume.h5')))]))
    await until(async () => existsSync(join(dest, 'scan1', 'volume.h5')) && existsSync(join(dest, 'scan1', 'raw', 'f14.tif')) ? true : undefined, 60_000, 'the writer\'s files at the follower')
    // rewritten after it arrived: the new version replaces it, never a mix
    wrote('raw/f03.tif', bytes(2 * 1024 * 1024 + 7, 'f3-rewritten'))
    const newer = sha(readFileSync(join(src, 'raw/f03.tif')))
    await until(async () => sha(readFileSync(join(dest, 'scan1', 'raw/f03.tif'))) === newer ? true : undefined, 60_000, 'the rewritten f03 at the follower')

    const sealed = await ferry(['seal', '--collection', 'live', '--name', 'scan1', '--json', '--home', A.dir])
    expect(sealed.code, sealed.stderr).toBe(0)
    const r = await f.exited
    const bad = await poll.stop()
    expect(r.code, r.stderr).toBe(0)
    expect(bad).toEqual([])
    expect(poll.seen.size).toBe(16)
    const added = await ferry(['add', src, '--collection', 'live', '--name', 'scan1', '--json', '--home', C.dir])
    expect(json(added).root).toBe(json(sealed).root)
    const out = json(r)
    expect(out).toMatchObject({ collection: 'live', complete: true })
    expect(out.scans).toHaveLength(1)
    expect(out.scans[0]).toMatchObject({ name: 'scan1', root: json(added).root, complete: true, files: 16, bytesFetched: 0 })
    expect(hashTree(join(dest, 'scan1'))).toEqual(hashTree(src))
    expect(r.stderr).toMatch(/scan1\/raw\/f00\.tif .*, lag \d+ ms/)
    const lags = [...r.stderr.matchAll(/scan1\/\S+ .*, lag (\d+) ms/g)].map((m) => Number(m[1])).sort((x, y) => x - y)
    console.log(`follow: lag from publication to verified arrival (${lags.length} files): median ${lags[lags.length >> 1]} ms, max ${lags[lags.length - 1]} ms`)
    const v = await ferry(['verify', join(dest, 'scan1'), json(added).root, '--home', B.dir])
    expect(v.code, v.stdout + v.stderr).toBe(0)
    // a scan already sealed when the follow starts is pulled as any scan, and the follow ends
    const late = await follow(C.dir, join(tmp, 'dest1-late'), dA.addr).exited
    expect(late.code, late.stderr).toBe(0)
    expect(json(late).scans).toMatchObject([{ name: 'scan1', root: json(added).root, complete: true, followed: { files: 0, fetched: 0, reused: 0 } }])
    expect(late.stderr).toMatch(/scan1: sealed, pulling it/)
    expect(hashTree(join(tmp, 'dest1-late', 'scan1'))).toEqual(hashTree(src))
  })

  it('catches up without fetching again after the follower is killed, and after the source daemon restarts', async () => {
    const { src, dest } = await watched('scan2', 'restart', 'dest2')
    const size = 1024 * 1024 + 3
    for (let i = 0; i < 4; i++) writeFileSync(join(src, `a${i}.bin`), bytes(size, `a${i}`))
    const first = follow(B.dir, dest, dA.addr, [], 'restart')
    // a line on stderr once each file is placed and journaled
    await until(async () => (first.stderr().match(/scan2\/a\d\.bin .*lag/g) ?? []).length >= 4 ? true : undefined, 60_000, 'the first four files at the follower')
    first.kill('SIGKILL')
    await first.exited
    const before = hashTree(join(dest, 'scan2'))
    for (let i = 0; i < 2; i++) writeFileSync(join(src, `b${i}.bin`), bytes(size, `b${i}`))

    const second = follow(B.dir, dest, dA.addr, [], 'restart')
    await until(async () => finalFiles(join(dest, 'scan2')).length >= 6 ? true : undefined, 60_000, 'the files written while the follower was down')
    // the source goes down and comes back on the same port, while the follower waits
    const port = dA.addr.split('/tcp/')[1]!.split('/')[0]!
    await dA.stop()
    writeFileSync(join(src, 'c0.bin'), bytes(size, 'c0'))
    dA = await daemons.start(A.dir, ['--listen', `/ip4/127.0.0.1/tcp/${port}`])
    await until(async () => existsSync(join(dest, 'scan2', 'c0.bin')) ? true : undefined, 90_000, 'the file written while the source was down')
    const sealed = await ferry(['seal', '--collection', 'restart', '--name', 'scan2', '--json', '--home', A.dir])
    expect(sealed.code, sealed.stderr).toBe(0)
    const r = await second.exited
    expect(r.code, r.stderr).toBe(0)
    expect(json(r).scans).toHaveLength(1)
    const scan = json(r).scans[0]
    // what the first run placed is not fetched again: 3 files and their bytes, 4 reused from the journal
    expect(scan.followed).toEqual({ files: 3, fetched: 3 * size, reused: 4 })
    expect(scan).toMatchObject({ root: json(sealed).root, complete: true, files: 7, bytesFetched: 0 })
    for (const [path, hash] of Object.entries(before)) expect(hashTree(join(dest, 'scan2'))[path]).toBe(hash)
    expect(hashTree(join(dest, 'scan2'))).toEqual(hashTree(src))
    expect(r.stderr).toMatch(/unreachable/)
  })

  it('a subscription follows an open scan as it is acquired, shows it, and its task completes on the verified seal', async () => {
    const D = await initTestHome(tmp, 'subscriber')
    expect((await ferry(['trust', D.id, '--home', A.dir])).code).toBe(0)
    expect((await ferry(['peer', 'add', 'src', dA.addr, '--home', D.dir])).code).toBe(0)
    const dD = await daemons.start(D.dir)
    const dest = join(tmp, 'visit')
    const sub = await ferry(['subscribe', 'live2', dest, '--from', 'src', '--json', '--home', D.dir])
    expect(sub.code, sub.stderr).toBe(0)
    const src = join(tmp, 'scan3')
    mkdirSync(src, { recursive: true })
    expect((await ferry(['watch', src, '--collection', 'live2', '--name', 'scan3', '--settle', '0.5', '--home', A.dir])).code).toBe(0)
    for (let i = 0; i < 3; i++) writeFileSync(join(src, `p${i}.tif`), bytes(700_000 + i, `p${i}`))
    // the files land while the scan is still open: no task yet, the subscription shows the open scan
    await until(async () => finalFiles(join(dest, 'scan3')).length === 3 ? true : undefined, 60_000, 'the open scan\'s files at the subscriber')
    for (let i = 0; i < 3; i++) expect(sha(readFileSync(join(dest, 'scan3', `p${i}.tif`)))).toBe(sha(readFileSync(join(src, `p${i}.tif`))))
    const view = await until(async () => {
      const [s] = json(await ferry(['subscriptions', '--json', '--home', D.dir])).subscriptions
      return s.openScans[0]?.arrived === 3 ? s : undefined
    }, 30_000, 'the open scan in ferry subscriptions')
    expect(view.state).toBe('REPLICATING')
    expect(view.openScans).toEqual([{ collection: 'live2', name: 'scan3', published: 3, arrived: 3, lagMs: expect.any(Number), backlogBytes: 0 }])
    expect((await ferry(['subscriptions', '--home', D.dir])).stdout).toMatch(/open: scan3: 3 of 3 files arrived, lag \d+ ms/)
    expect(view.counts.scans).toBe(0)

    const sealed = await ferry(['seal', '--collection', 'live2', '--name', 'scan3', '--json', '--home', A.dir])
    expect(sealed.code, sealed.stderr).toBe(0)
    const done = await until(async () => {
      const [s] = json(await ferry(['subscriptions', '--json', '--home', D.dir])).subscriptions
      return s.counts.succeeded === 1 ? s : undefined
    }, 60_000, 'the sealed scan\'s task to succeed')
    expect(done).toMatchObject({ state: 'OK', openScans: [], counts: { scans: 1, succeeded: 1 } })
    const tasks = json(await ferry(['tasks', '--json', '--home', D.dir])).tasks
    expect(tasks).toHaveLength(1)
    expect(tasks[0]).toMatchObject({ root: json(sealed).root, destination: join(dest, 'scan3'), condition: 'SUCCEEDED' })
    expect(hashTree(join(dest, 'scan3'))).toEqual(hashTree(src))
    const shown = await ferry(['task', tasks[0].taskId, '--json', '--home', D.dir])
    expect(json(shown).openScans).toEqual([{ collection: 'live2', name: 'scan3', published: 3, arrived: 3, lagMs: expect.any(Number), backlogBytes: 0 }])
    expect(json(shown).lastRun.bytesFetched).toBe(0) // the task's pull found every file the follow placed
    expect((await ferry(['task', tasks[0].taskId, '--home', D.dir])).stdout).toMatch(/followed {5}scan3 while open: 3 files arrived of 3 published, last lag \d+ ms/)
    await dD.stop()
  })

  it('a subscriber\'s daemon killed mid-scan catches up after its restart: what it placed is not fetched again', async () => {
    const D = await initTestHome(tmp, 'subscriber2')
    expect((await ferry(['trust', D.id, '--home', A.dir])).code).toBe(0)
    expect((await ferry(['peer', 'add', 'src', dA.addr, '--home', D.dir])).code).toBe(0)
    let dD = await daemons.start(D.dir)
    const { src, dest } = await watched('scan9', 'live4', 'visit4')
    expect((await ferry(['subscribe', 'live4', dest, '--from', 'src', '--home', D.dir])).code).toBe(0)
    for (let i = 0; i < 3; i++) writeFileSync(join(src, `q${i}.tif`), bytes(600_000 + i, `q${i}`))
    await until(async () => finalFiles(join(dest, 'scan9')).length === 3 ? true : undefined, 60_000, 'the first three files at the subscriber')
    const inodes = (): Record<string, number> => Object.fromEntries(finalFiles(join(dest, 'scan9')).map((f) => [f, statSync(join(dest, 'scan9', f)).ino]))
    const placed = inodes()
    await dD.kill() // SIGKILL, mid-scan
    for (let i = 3; i < 5; i++) writeFileSync(join(src, `q${i}.tif`), bytes(600_000 + i, `q${i}`)) // while it is down
    dD = await daemons.start(D.dir)
    await until(async () => finalFiles(join(dest, 'scan9')).length === 5 ? true : undefined, 60_000, 'the files written while the subscriber was down')
    const sealed = await ferry(['seal', '--collection', 'live4', '--name', 'scan9', '--json', '--home', A.dir])
    expect(sealed.code, sealed.stderr).toBe(0)
    await until(async () => json(await ferry(['subscriptions', '--json', '--home', D.dir])).subscriptions[0].counts.succeeded === 1 ? true : undefined, 60_000, 'the sealed scan\'s task')
    const [task] = json(await ferry(['tasks', '--json', '--home', D.dir])).tasks
    expect(task).toMatchObject({ root: json(sealed).root, destination: join(dest, 'scan9'), condition: 'SUCCEEDED' })
    expect(json(await ferry(['task', task.taskId, '--json', '--home', D.dir])).lastRun.bytesFetched).toBe(0)
    const after = inodes()
    for (const [f, ino] of Object.entries(placed)) expect(after[f], f).toBe(ino) // the same files, never placed again
    expect(hashTree(join(dest, 'scan9'))).toEqual(hashTree(src))
    await dD.stop()
  })

  it('refuses an entry a relay altered, and one it dropped: nothing is placed, exit 4', async () => {
    const src = join(tmp, 'scan4')
    mkdirSync(src, { recursive: true })
    expect((await ferry(['watch', src, '--collection', 'live3', '--name', 'scan4', '--settle', '0.5', '--home', A.dir])).code).toBe(0)
    writeFileSync(join(src, 'a.bin'), bytes(5000, 'a'))
    writeFileSync(join(src, 'b.bin'), bytes(6000, 'b'))
    const { open, entries } = await until(async () => {
      const home = await openHome(A.dir)
      try {
        const o = home.catalog.open.find('live3', 'scan4')
        const e = o === undefined ? [] : home.catalog.open.entries(o.id, -1, 100)
        return o !== undefined && e.length === 2 ? { open: o, entries: e } : undefined
      } finally {
        await home.close()
      }
    }, 30_000, 'both files published')
    // a relay: a real Ferry node that offers the origin's open scan with its signed entries passed on, one altered
    const R = await initTestHome(tmp, 'relay')
    expect((await ferry(['trust', B.id, '--home', R.dir])).code).toBe(0)
    const db = new Database(join(R.dir, 'catalog.db'))
    const scanId = Number(db.prepare('INSERT INTO scans (collection, name, source_path, origin, created, state) VALUES (?, ?, ?, ?, ?, \'importing\')').run('live3', 'scan4', '/relay', open.origin, open.created).lastInsertRowid)
    const openId = Number(db.prepare('INSERT INTO open_scans (collection, name, origin, source_path, created, scan_id, key) VALUES (?, ?, ?, ?, ?, ?, ?)').run('live3', 'scan4', open.origin, '/relay', open.created, scanId, open.key.toString()).lastInsertRowid)
    for (const e of entries) {
      const size = e.seq === 1 ? e.size + 1 : e.size // entry 1 says one byte more than the origin signed
      db.prepare('INSERT INTO open_entries (open_id, seq, path, cid, size, mode, mtime_ms, published, signature, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(openId, e.seq, e.path, Buffer.from(e.cid.bytes), size, e.mode, e.mtimeMs, e.published, Buffer.from(e.signature), e.version)
    }
    db.close()
    const dR = await daemons.start(R.dir)
    const dest = join(tmp, 'dest4')
    const r = await follow(B.dir, dest, dR.addr, [], 'live3').exited
    expect(r.code, r.stderr).toBe(4)
    // entry 1 is whichever file the watch published second (the two are written together)
    expect(r.stderr).toContain(`Refusing entry 1 ("${entries[1]!.path}") of scan4: the signature does not match`)
    expect(finalFiles(join(dest, 'scan4'))).toEqual([]) // entries are verified before any is acted on
    // the same relay drops entry 0 instead (the one it altered restored): the gap is refused
    const db2 = new Database(join(R.dir, 'catalog.db'))
    db2.prepare('UPDATE open_entries SET size = ? WHERE open_id = ? AND seq = 1').run(entries[1]!.size, openId)
    db2.prepare('DELETE FROM open_entries WHERE open_id = ? AND seq = 0').run(openId)
    db2.close()
    const gap = await follow(B.dir, join(tmp, 'dest4b'), dR.addr, [], 'live3').exited
    expect(gap.code, gap.stderr).toBe(4)
    expect(gap.stderr).toMatch(/entry 1 arrived where entry 0 was due/)
    expect(finalFiles(join(tmp, 'dest4b', 'scan4'))).toEqual([])
    await dR.stop()
  })

  it('a follower killed between its renames and its commit records those files at restart, checked against their entries: no conflict', async () => {
    const { src, dest } = await watched('scan8', 'crash', 'dest8')
    const size = 1024 * 1024 + 5
    for (let i = 0; i < 3; i++) writeFileSync(join(src, `a${i}.bin`), bytes(size, `crash${i}`))
    // the first run kills itself once its first group is renamed into place, before the group's commit
    const first = startFerry(['pull', '--collection', 'crash', dest, '--from', dA.addr, '--follow', '--json', '--home', B.dir], { env: { FERRY_TEST_FOLLOW_KILL_BEFORE_COMMIT: '1' } })
    expect((await first.exited).code).toBe(128)
    const left = finalFiles(join(dest, 'scan8'))
    expect(left.length).toBeGreaterThan(0)
    for (const rel of left) expect(readFileSync(join(dest, 'scan8', rel)).equals(readFileSync(join(src, rel)))).toBe(true)
    // what SIGKILL leaves of a file in flight, whether or not this kill caught one: a temporary name of a dead pid
    const dead = spawnSync('true').pid
    writeFileSync(join(dest, 'scan8', `.ferry-follow-a1.bin.${dead}.0badc0de`), bytes(4096, 'half'))

    const second = follow(B.dir, dest, dA.addr, [], 'crash')
    await until(async () => /scan8: open, following/.test(second.stderr()) ? true : undefined, 60_000, 'the second run following the open scan')
    writeFileSync(join(src, 'a3.bin'), bytes(size, 'crash3')) // placed after the three: the entries before it are taken
    await until(async () => /scan8\/a3\.bin .*lag/.test(second.stderr()) ? true : undefined, 60_000, 'a3.bin at the follower')
    const sealed = await ferry(['seal', '--collection', 'crash', '--name', 'scan8', '--json', '--home', A.dir])
    expect(sealed.code, sealed.stderr).toBe(0)
    const r = await second.exited
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).not.toMatch(/not placed by Ferry/)
    expect(r.stderr).toMatch(/scan8: removed \d+ temporary files? an earlier follower left when it was killed/)
    const scan = json(r).scans[0]
    // the files the killed run placed are hashed against their entries and recorded, not fetched again
    expect(scan.followed).toEqual({ files: 4 - left.length, fetched: (4 - left.length) * size, reused: left.length })
    expect(scan).toMatchObject({ root: json(sealed).root, complete: true, files: 4, bytesFetched: 0 })
    expect(hashTree(join(dest, 'scan8'))).toEqual(hashTree(src))
    const home = await openHome(B.dir)
    try {
      for (let i = 0; i < 4; i++) expect(home.catalog.followed.get(join(dest, 'scan8', `a${i}.bin`))?.size).toBe(size)
    } finally {
      await home.close()
    }
  })

  it('stops cleanly on SIGINT (exit 130, no temporary file left) and a second run goes on from there', async () => {
    const { src, dest } = await watched('scan5', 'stop', 'dest5')
    writeFileSync(join(src, 'a.bin'), bytes(2 * 1024 * 1024, 'a'))
    const f = follow(B.dir, dest, dA.addr, [], 'stop')
    await until(async () => /scan5\/a\.bin .*lag/.test(f.stderr()) ? true : undefined, 60_000, 'a.bin at the follower')
    f.kill('SIGINT')
    const r = await f.exited
    expect(r.code, r.stderr).toBe(130)
    expect(readdirSync(join(dest, 'scan5'))).toEqual(['a.bin'])
    writeFileSync(join(src, 'b.bin'), bytes(3000, 'b'))
    const again = follow(B.dir, dest, dA.addr, [], 'stop')
    await until(async () => existsSync(join(dest, 'scan5', 'b.bin')) ? true : undefined, 60_000, 'b.bin at the follower')
    expect((await ferry(['seal', '--collection', 'stop', '--name', 'scan5', '--home', A.dir])).code).toBe(0)
    const done = await again.exited
    expect(done.code, done.stderr).toBe(0)
    expect(json(done).scans[0].followed).toEqual({ files: 1, fetched: 3000, reused: 1 })
    expect(hashTree(join(dest, 'scan5'))).toEqual(hashTree(src))
  })

  it('--idle runs from the last scan done: a next scan started soon after a long one was sealed is followed too', async () => {
    // the first scan stays open longer than the idle time; the second starts 1 s after the follower has
    // verified the first's seal
    const srcs = [join(tmp, 'idle1'), join(tmp, 'idle2')]
    const dest = join(tmp, 'dest-idle')
    const f = follow(B.dir, dest, dA.addr, ['--idle', '8'], 'idle')
    for (const [i, src] of srcs.entries()) {
      mkdirSync(src, { recursive: true })
      expect((await ferry(['watch', src, '--collection', 'idle', '--name', `idle${i + 1}`, '--settle', '0.5', '--home', A.dir])).code).toBe(0)
      writeFileSync(join(src, 'a.bin'), bytes(100_000 + i, `idle${i}`))
      await until(async () => existsSync(join(dest, `idle${i + 1}`, 'a.bin')) ? true : undefined, 60_000, `idle${i + 1}/a.bin at the follower`)
      if (i === 0) await new Promise((resolve) => setTimeout(resolve, 10_000))
      expect((await ferry(['seal', '--collection', 'idle', '--name', `idle${i + 1}`, '--home', A.dir])).code).toBe(0)
      if (i > 0) continue
      // the next scan starts 1 s after the follower is done with this one (well inside the idle time)
      await until(async () => /idle1: sealed into \S+, verified/.test(f.stderr()) ? true : undefined, 60_000, 'idle1 sealed at the follower')
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    const r = await f.exited
    expect(r.code, r.stderr).toBe(0)
    expect(json(r).scans.map((s: { name: string }) => s.name).sort()).toEqual(['idle1', 'idle2'])
    for (const [i, src] of srcs.entries()) expect(hashTree(join(dest, `idle${i + 1}`))).toEqual(hashTree(src))
  })

  it('a relay following from the origin serves the open scan on: a third node follows it there, verified as the origin\'s', async () => {
    const R = await initTestHome(tmp, 'relay2')
    const E = await initTestHome(tmp, 'far')
    expect((await ferry(['trust', R.id, '--home', A.dir])).code).toBe(0)
    expect((await ferry(['trust', E.id, '--home', R.dir])).code).toBe(0)
    const dR = await daemons.start(R.dir) // serves what the relay's follow writes into its catalog
    const src = join(tmp, 'scan6')
    mkdirSync(src, { recursive: true })
    expect((await ferry(['watch', src, '--collection', 'relayed', '--name', 'scan6', '--settle', '0.5', '--home', A.dir])).code).toBe(0)
    const relay = follow(R.dir, join(tmp, 'relay-store'), dA.addr, [], 'relayed')
    const far = follow(E.dir, join(tmp, 'far-store'), dR.addr, [], 'relayed')
    for (let i = 0; i < 4; i++) {
      writeFileSync(join(src, `f${i}.bin`), bytes(i === 2 ? 2 * 1024 * 1024 + 9 : 100_000 + i, `r${i}`))
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    // the far node gets every file through the relay while the scan is open
    await until(async () => finalFiles(join(tmp, 'far-store', 'scan6')).length === 4 ? true : undefined, 60_000, 'the files at the far node, through the relay')
    expect(hashTree(join(tmp, 'far-store', 'scan6'))).toEqual(hashTree(src))
    const sealed = await ferry(['seal', '--collection', 'relayed', '--name', 'scan6', '--json', '--home', A.dir])
    expect(sealed.code, sealed.stderr).toBe(0)
    const [r, e] = await Promise.all([relay.exited, far.exited])
    expect(r.code, r.stderr).toBe(0)
    expect(e.code, e.stderr).toBe(0)
    expect(json(e).scans[0]).toMatchObject({ root: json(sealed).root, complete: true, files: 4, bytesFetched: 0 })
    const prov = await ferry(['provenance', json(sealed).root, '--json', '--home', E.dir])
    expect(prov.stdout).toContain(A.id) // signed by the origin, whichever node relayed it
    await dR.stop()
  })
})
