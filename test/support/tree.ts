/** Real files on disk for tests, with deterministic pseudo-random content. */
import { createCipheriv, createHash } from 'node:crypto'
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, lstatSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

/** Sizes worth testing around a chunk boundary (1 MiB chunks). */
export const MiB = 1024 * 1024
export const INTERESTING_SIZES = [0, 1, 1024, 16 * 1024 - 1, 16 * 1024 + 1, MiB - 1, MiB, MiB + 1, 2 * MiB, 3 * MiB + 12345]

export function tempDir (prefix = 'ferry-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** Deterministic bytes: the same seed always gives the same content. */
export function bytes (size: number, seed: string): Buffer {
  // AES-128-CTR keystream keyed by the seed: deterministic, incompressible and fast (GB/s)
  const key = createHash('sha256').update(seed).digest()
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32))
  return cipher.update(Buffer.alloc(size))
}

/** Writes files given as { 'a/b.bin': size | Buffer | string, 'empty/': null }. */
export function writeTree (root: string, spec: Record<string, number | Buffer | string | null>): void {
  for (const [rel, content] of Object.entries(spec)) {
    const abs = join(root, rel)
    if (content === null || rel.endsWith('/')) {
      mkdirSync(abs, { recursive: true })
      continue
    }
    mkdirSync(dirname(abs), { recursive: true })
    writeFileSync(abs, typeof content === 'number' ? bytes(content, rel) : content)
  }
}

/** sha256 of every regular file under root, keyed by relative path: compare two trees byte for byte. */
export function hashTree (root: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const abs = join(dir, name)
      const r = rel === '' ? name : `${rel}/${name}`
      const st = lstatSync(abs)
      if (st.isDirectory()) {
        out[`${r}/`] = 'dir'
        walk(abs, r)
      } else if (st.isFile()) out[r] = createHash('sha256').update(readFileSync(abs)).digest('hex')
      else out[r] = 'other'
    }
  }
  walk(root, '')
  return out
}

/** Total bytes used on disk under a path (allocated blocks, like du). */
export function diskUsage (root: string): number {
  let total = 0
  const walk = (p: string): void => {
    const st = lstatSync(p)
    total += st.blocks * 512
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n))
  }
  walk(root)
  return total
}

/**
 * Bytes under `dir` in regular files (how far a pull got, staging included); `allocated` counts the
 * blocks on disk (staged files are sparse until their leaves arrive) instead of the sizes. Each file is
 * counted once however many names it has (as du does): a pull places a file by link(2) to its final name
 * and then unlinks the staged name, and a kill between the two leaves one file under both names. 0 if
 * absent; files that vanish while it walks (placed or removed meanwhile) are skipped.
 */
export function bytesUnder (dir: string, options: { allocated?: boolean } = {}): number {
  let n = 0
  const seen = new Set<string>()
  const walk = (d: string): void => {
    let names: string[] = []
    try { names = readdirSync(d) } catch { return }
    for (const name of names) {
      const p = join(d, name)
      const st = lstatSync(p, { throwIfNoEntry: false })
      if (st == null) continue
      if (st.isDirectory()) walk(p)
      else if (st.isFile()) {
        const inode = `${st.dev}:${st.ino}`
        if (st.nlink > 1 && seen.has(inode)) continue
        seen.add(inode)
        n += options.allocated === true ? st.blocks * 512 : st.size
      }
    }
  }
  walk(dir)
  return n
}

export function cleanup (...dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
}

export { statSync }

/**
 * Writes `count` copies of `piece` to `file` through one descriptor kept open, as a detector or an HDF5
 * writer does, `gapMs` apart; `between()` runs before each piece after the first (the file open, part
 * written). Closes the file at the end; resolves with the number of bytes written.
 */
export async function writeKeptOpen (file: string, piece: Buffer, count: number, gapMs: number, between: () => Promise<void> = async () => {}): Promise<number> {
  const fd = openSync(file, 'w')
  try {
    for (let i = 0; i < count; i++) {
      if (i > 0) {
        await new Promise((resolve) => setTimeout(resolve, gapMs))
        await between()
      }
      writeSync(fd, piece)
    }
  } finally {
    closeSync(fd)
  }
  return count * piece.length
}
