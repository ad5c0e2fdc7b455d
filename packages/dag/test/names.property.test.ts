/**
 * Property tests (fast-check) of the path validator every name from a peer passes before it meets the
 * filesystem: any string (unicode, '..', '/', '\', NUL, long) is either refused, or joins under a
 * destination and resolves inside it; symlink targets accepted as confined never lead outside the
 * destination, checked by creating them on a real filesystem and resolving every chain with realpath.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, posix, relative, resolve, sep } from 'node:path'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { FerryError } from '@ferry/errors'
import { MAX_NAME_BYTES, MAX_PATH_BYTES, pathProblem, pathUnder, peerNameProblem, symlinkTargetProblem } from '@ferry/dag'

const DEST = '/srv/ferry/dest'

/** Pieces hostile names are made of. */
const piece = fc.oneof(
  fc.constantFrom('..', '.', '', '/', '//', '\\', '..\\', '\0', 'a', 'b', 'é', '💾', ' ', '~', '.ferry-partial', 'C:', '%2e%2e', '\u202e', '\uD800', 'x'.repeat(200)),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 8 })
)
const hostilePath = fc.oneof(
  fc.array(piece, { maxLength: 8 }).map((p) => p.join('')),
  fc.array(piece, { minLength: 1, maxLength: 6 }).map((p) => p.join('/')),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 300 })
)

function inside (abs: string, dest: string): boolean {
  const rel = relative(dest, abs)
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !posix.isAbsolute(rel))
}

describe('the path validator (fast-check)', () => {
  it('refuses a path, or joins it to one that resolves inside the destination', () => {
    fc.assert(fc.property(hostilePath, (path) => {
      const problem = pathProblem(path)
      if (problem !== undefined) {
        expect(() => pathUnder(DEST, path)).toThrow(FerryError)
        return
      }
      const abs = pathUnder(DEST, path)
      expect(inside(abs, DEST)).toBe(true)
      expect(abs).toBe(resolve(DEST, path))
      // what was accepted has none of the dangerous shapes
      expect(path.startsWith('/')).toBe(false)
      expect(path.includes('\0') || path.includes('\\')).toBe(false)
      for (const part of path === '' ? [] : path.split('/')) {
        expect(['', '.', '..']).not.toContain(part)
        expect(Buffer.byteLength(part)).toBeLessThanOrEqual(MAX_NAME_BYTES)
      }
      expect(Buffer.byteLength(path)).toBeLessThanOrEqual(MAX_PATH_BYTES)
    }), { numRuns: 20_000 })
  })

  it('names the problem for each hostile shape', () => {
    expect(pathProblem('/etc/passwd')).toMatch(/absolute/)
    expect(pathProblem('a/../../etc')).toMatch(/reserved name '..'/)
    expect(pathProblem('a//b')).toMatch(/empty component/)
    expect(pathProblem('a/./b')).toMatch(/reserved name '.'/)
    expect(pathProblem('a/')).toMatch(/empty component/)
    expect(pathProblem('..\\..\\x')).toMatch(/backslash/)
    expect(pathProblem('a\0b')).toMatch(/NUL/)
    expect(pathProblem('x'.repeat(256))).toMatch(/256 bytes long, the limit is 255/)
    expect(pathProblem('é'.repeat(128))).toMatch(/256 bytes/) // bytes, not characters
    expect(pathProblem(Array.from({ length: 20 }, () => 'x'.repeat(250)).join('/'))).toMatch(/limit is 4096/)
    expect(pathProblem('ok/fine.txt')).toBeUndefined()
    expect(peerNameProblem('x'.repeat(255))).toBeUndefined()
    expect(pathProblem('')).toBeUndefined()
  })

  it('accepts only symlink targets that stay inside, judged on text', () => {
    expect(symlinkTargetProblem('a/l', '/etc')).toMatch(/absolute/)
    expect(symlinkTargetProblem('a/l', '../..')).toMatch(/climbs out/)
    expect(symlinkTargetProblem('l', '..')).toMatch(/climbs out/)
    expect(symlinkTargetProblem('a/l', 's/../..')).toMatch(/after a name/)
    expect(symlinkTargetProblem('a/l', '../b/c')).toBeUndefined()
    expect(symlinkTargetProblem('a/b/l', './../../x')).toBeUndefined()
    expect(symlinkTargetProblem('l', 'vol/recon.h5')).toBeUndefined()
  })

  it('symlinks it accepts never resolve outside the destination, even chained (real filesystem)', () => {
    const names = fc.constantFrom('a', 'b', 'c')
    const relPath = fc.array(names, { minLength: 1, maxLength: 3 }).map((p) => p.join('/'))
    const target = fc.oneof(
      fc.array(fc.constantFrom('..', '.', 'a', 'b', 'c', 'l0', 'l1', 'l2', ''), { minLength: 1, maxLength: 6 }).map((p) => p.join('/')),
      fc.constantFrom('/', '/etc', '/tmp')
    )
    const links = fc.array(fc.tuple(relPath, fc.nat(2), target), { minLength: 1, maxLength: 6 })
    // what the property really exercised: without links made and probes that resolved, it passes vacuously
    const seen = { cases: 0, withLinks: 0, links: 0, resolved: 0, throughLink: 0 }
    fc.assert(fc.property(links, (spec) => {
      seen.cases++
      const tmp = mkdtempSync(join(tmpdir(), 'ferry-links-'))
      const dest = join(tmp, 'dest')
      try {
        mkdirSync(dest)
        const made: string[] = []
        for (const [dir, n, t] of spec) {
          const linkPath = `${dir}/l${n}`
          if (symlinkTargetProblem(linkPath, t) !== undefined) continue
          try {
            mkdirSync(join(dest, dir), { recursive: true })
            symlinkSync(t === '' ? '.' : t, join(dest, linkPath))
            made.push(linkPath)
          } catch { /* a link already there, or a link where a directory was wanted: skip it */ }
        }
        const realDest = realpathSync(dest)
        seen.links += made.length
        if (made.length > 0) seen.withLinks++
        for (const linkPath of made) {
          for (const probe of [linkPath, `${linkPath}/a`, `${linkPath}/l0`, `${linkPath}/l1/..`, dirname(linkPath)]) {
            let real: string
            try {
              real = realpathSync(join(dest, probe))
            } catch {
              continue // dangling or a loop: nothing reached
            }
            seen.resolved++
            if (real !== join(realDest, probe)) seen.throughLink++ // resolved through at least one link
            expect({ probe, real, inside: inside(real, realDest) }).toEqual({ probe, real, inside: true })
          }
        }
      } finally {
        rmSync(tmp, { recursive: true, force: true })
      }
    }), { numRuns: 300 })
    console.log('symlink property:', seen)
    expect(seen.cases).toBe(300)
    expect(seen.withLinks).toBeGreaterThan(100) // about 200 of 300
    expect(seen.links).toBeGreaterThan(150) // about 330
    expect(seen.resolved).toBeGreaterThan(150) // about 390
    expect(seen.throughLink).toBeGreaterThan(20) // about 60
  })
})
