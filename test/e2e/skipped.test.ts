/**
 * Entries that cannot be imported are skipped and reported, never silently left out, never retried forever.
 * Root reads mode-000 files, so these run the CLI as an unprivileged user (nobody) through setpriv.
 */
import { join } from 'node:path'
import { chmodSync, utimesSync } from 'node:fs'
import { spawn, execFileSync } from 'node:child_process'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ferry, json } from '../support/ferry.js'
import { privilegeDropProblem, requireInCi } from '../support/ci.js'
import { MiB, cleanup, tempDir, writeTree } from '../support/tree.js'

/** Why these cannot run here (not root, no setpriv), or undefined. In CI they must run: see ci.ts. */
const cannot = privilegeDropProblem()
const nobody = { uid: 65534, gid: 65534 }

describe('skipped entries (as an unprivileged user)', () => {
  let tmp: string
  let home: string
  beforeEach((ctx) => { if (cannot !== undefined) requireInCi(ctx, cannot) })
  beforeAll(async () => {
    if (cannot !== undefined) return // every test skips (or, in CI, fails) in beforeEach
    tmp = tempDir()
    chmodSync(tmp, 0o777)
    home = join(tmp, 'home')
    expect((await ferry(['init', '--home', home], { asUser: nobody })).code).toBe(0)
  })
  afterAll(() => { if (tmp !== undefined) cleanup(tmp) })

  it('unreadable files and directories and special files are skipped, listed, and exit 3', async () => {
    const scan = join(tmp, 'scan')
    writeTree(scan, {
      'ok/a.bin': 2 * MiB + 3,
      'ok/b.bin': 10,
      'secret/inner.bin': 100,
      'locked.bin': 5000
    })
    execFileSync('mkfifo', [join(scan, 'ok/pipe')])
    chmodSync(join(scan, 'locked.bin'), 0o000)
    chmodSync(join(scan, 'secret'), 0o000)
    const r = await ferry(['add', scan, '--json', '--home', home], { asUser: nobody })
    expect(r.code, r.stderr).toBe(3)
    const out = json(r)
    expect(out.files).toBe(2)
    expect(out.skipped).toEqual([
      { path: 'locked.bin', code: 'EACCES', message: 'permission denied' },
      { path: 'ok/pipe', code: 'ERR_SPECIAL_FILE', message: 'named pipe not imported' },
      { path: 'secret', code: 'EACCES', message: 'permission denied' }
    ])
    // the scan record keeps the list
    const scans = json(await ferry(['scans', '--json', '--home', home], { asUser: nobody }))
    expect(scans.find((s: any) => s.root === out.root)?.skipped).toBe(3)
    // the skipped entries are not in the tree
    const { entries } = json(await ferry(['ls', out.root, '--json', '--home', home], { asUser: nobody }))
    expect(entries.map((e: any) => e.path).sort()).toEqual(['', 'ok', 'ok/a.bin', 'ok/b.bin'])
    // human output says it loudly
    const human = await ferry(['add', scan, '--home', home], { asUser: nobody })
    expect(human.code).toBe(3)
    expect(human.stderr).toContain('3 entries skipped and NOT in this scan')
    expect(human.stderr).toContain('locked.bin: permission denied')
  })

  it('a file that changes while it is read is skipped as changed', async () => {
    const scan = join(tmp, 'growing')
    writeTree(scan, { 'steady.bin': 1000, 'busy.bin': 256 * MiB })
    // another process keeps touching busy.bin while the import runs
    const toucher = spawn(process.execPath, ['-e', `
      const fs = require('fs'); let t = 1e9
      const f = ${JSON.stringify(join(scan, 'busy.bin'))}
      setInterval(() => { t += 1; fs.utimesSync(f, t, t) }, 1)
    `], { stdio: 'ignore' })
    try {
      await new Promise((resolve) => setTimeout(resolve, 200))
      const r = await ferry(['add', scan, '--json', '--home', home], { asUser: nobody })
      expect(r.code, r.stderr).toBe(3)
      const out = json(r)
      expect(out.skipped).toHaveLength(1)
      expect(out.skipped[0]).toMatchObject({ path: 'busy.bin', code: 'ERR_CHANGED' })
      expect(out.files).toBe(1)
    } finally {
      toucher.kill()
    }
    utimesSync(join(scan, 'busy.bin'), 1, 1)
    const calm = await ferry(['add', scan, '--json', '--home', home], { asUser: nobody })
    expect(calm.code).toBe(0)
  })
})
