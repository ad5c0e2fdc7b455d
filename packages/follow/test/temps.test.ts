/**
 * The follower's temporary names (temps.ts): each carries its writer's pid; the sweep removes those of a
 * process that is not running, anywhere under the scan's directory, and leaves a running process's, files
 * of other names, and what lies behind a symbolic link.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { checkPath, sweepTemps, tempNameFor, tempOwner } from '@ferry/follow'

const dirs: string[] = []
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })

describe('follower temporary files', () => {
  it('names a temporary file beside its final one with this pid', () => {
    const t = tempNameFor('/data/scan/sub/a.bin')
    expect(t).toMatch(new RegExp(`^/data/scan/sub/\\.ferry-follow-a\\.bin\\.${process.pid}\\.[0-9a-f]{8}$`))
    expect(tempOwner(basename(t))).toBe(process.pid)
    expect(tempOwner('a.bin.123.0badc0de')).toBeUndefined()
    expect(tempOwner('.ferry-follow-a.bin.0badc0de')).toBeUndefined() // no pid
  })

  it('removes the ones of a dead process at any depth, keeps a live one\'s, other names and what a symlink leads to', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ferry-temps-'))
    const outside = mkdtempSync(join(tmpdir(), 'ferry-temps-out-'))
    dirs.push(root, outside)
    const dead = spawnSync('true').pid
    const sleeper = spawn('sleep', ['30'])
    try {
      mkdirSync(join(root, 'scan', 'a', 'b'), { recursive: true })
      const put = (rel: string): string => { writeFileSync(join(root, 'scan', rel), 'x'); return rel }
      const gone = [put(`.ferry-follow-top.bin.${dead}.0badc0de`), put(`a/b/.ferry-follow-deep.bin.${dead}.12345678`)]
      const kept = [put(`a/.ferry-follow-mine.bin.${process.pid}.aaaaaaaa`), put(`a/.ferry-follow-other.bin.${sleeper.pid!}.bbbbbbbb`), put('a/b/deep.bin'), put(`.ferry-follow-nopid.${dead}`)]
      writeFileSync(join(outside, `.ferry-follow-far.bin.${dead}.cccccccc`), 'x')
      symlinkSync(outside, join(root, 'scan', 'link'))
      const removed = await sweepTemps(join(root, 'scan'))
      expect(removed.sort()).toEqual(gone.sort())
      for (const rel of gone) expect(existsSync(join(root, 'scan', rel))).toBe(false)
      for (const rel of kept) expect(existsSync(join(root, 'scan', rel))).toBe(true)
      expect(existsSync(join(outside, `.ferry-follow-far.bin.${dead}.cccccccc`))).toBe(true)
      expect(await sweepTemps(join(root, 'missing'))).toEqual([])
    } finally {
      sleeper.kill()
    }
  })

  it('refuses a published path with any part named as a follower\'s temporary file', () => {
    expect(() => { checkPath('sub/.ferry-follow-x.bin.1.0badc0de') }).toThrow(/not a plain relative path/)
    expect(() => { checkPath('.ferry-follow-x') }).toThrow(/not a plain relative path/)
    expect(() => { checkPath('sub/x.bin') }).not.toThrow()
  })
})
