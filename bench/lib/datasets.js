/**
 * Benchmark datasets, generated once into the work dir and reused while their spec is unchanged.
 *
 * Each dataset lives in `<work>/<name>/`; `<work>/<name>.spec.json` is written last and marks a complete
 * dataset (so it never sits inside the tree that gets imported). Content is pseudo-random AES-128-CTR
 * keystream keyed by the dataset and file name: fast to make (no /dev/urandom), reproducible, and
 * incompressible / non-deduplicating like detector data.
 */
import { createCipheriv, createHash } from 'node:crypto'
import {
  closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, rmSync,
  truncateSync, writeFileSync, writeSync
} from 'node:fs'
import { join, relative } from 'node:path'
import { capture } from './proc.js'
import { GiB, MiB } from './stats.js'

/** Bump when a generator changes what it writes, so stale datasets are remade. */
const GENERATOR_VERSION = 1

/** A stream of pseudo-random bytes: AES-128-CTR keystream keyed by `seed`. */
export function keystream (seed) {
  const key = createHash('sha256').update(String(seed)).digest().subarray(0, 16)
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
  let zeros = Buffer.alloc(0)
  return (n) => {
    if (zeros.length < n) zeros = Buffer.alloc(n)
    return cipher.update(zeros.subarray(0, n))
  }
}

/** Deterministic small PRNG (mulberry32) for sizes and offsets. */
function prng (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const pad = (n, w) => String(n).padStart(w, '0')

/** `files` random files of `size` bytes, spread over `dirs` sub-directories (0: all at the top). */
function makeRandomFiles (dir, name, { files, size, dirs }) {
  const chunk = 8 * MiB
  for (let i = 0; i < files; i++) {
    const sub = dirs > 0 ? join(dir, `scan_${pad(i % dirs, 2)}`) : dir
    mkdirSync(sub, { recursive: true })
    const file = join(sub, size >= GiB ? `volume_${pad(i, 2)}.bin` : `proj_${pad(i, 5)}.raw`)
    const next = keystream(`${name}/${i}`)
    const fd = openSync(file, 'w')
    try {
      for (let off = 0; off < size; off += chunk) writeSync(fd, next(Math.min(chunk, size - off)))
    } finally {
      closeSync(fd)
    }
  }
}

/** One sparse file: all holes, so it reads as zeros without touching the disk. */
function makeSparse (dir, name, { size }) {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'sparse.bin')
  writeFileSync(file, '')
  truncateSync(file, size)
}

/** Many small files (sizes uniform in [0, maxSize]) over `dirs` directories, in one process. */
function makeSmallTree (dir, name, { files, dirs, maxSize }) {
  const pool = keystream(name)(4 * MiB)
  const rand = prng(0xfe77)
  const perDir = Math.ceil(files / dirs)
  for (let d = 0; d < dirs; d++) {
    const sub = join(dir, `dir_${pad(d, 3)}`)
    mkdirSync(sub, { recursive: true })
    for (let f = 0; f < perDir && d * perDir + f < files; f++) {
      const size = Math.floor(rand() * (maxSize + 1))
      const start = Math.floor(rand() * (pool.length - maxSize))
      const buf = Buffer.from(pool.subarray(start, start + size))
      if (size >= 4) buf.writeUInt32LE(d * perDir + f, 0) // every file distinct
      writeFileSync(join(sub, `f_${pad(f, 4)}.dat`), buf)
    }
  }
}

const GENERATORS = { 'random-files': makeRandomFiles, sparse: makeSparse, 'small-tree': makeSmallTree }

/** Every regular file under `dir`: relative paths (sorted) and total bytes and allocated bytes. */
export function listFiles (dir) {
  const files = []
  let bytes = 0
  let allocated = 0
  const walk = (abs) => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name)
      const st = lstatSync(p)
      if (st.isDirectory()) walk(p)
      else if (st.isFile()) { files.push(relative(dir, p)); bytes += st.size; allocated += st.blocks * 512 }
    }
  }
  walk(dir)
  return { files, bytes, allocated }
}

/**
 * Makes sure dataset `name` with `spec` exists in `work`; returns { name, dir, files, bytes, generated }.
 * `log` gets progress lines.
 */
export function ensureDataset (work, name, spec, log = () => {}) {
  const dir = join(work, name)
  const stampFile = join(work, `${name}.spec.json`)
  const want = { ...spec, generator: GENERATOR_VERSION }
  let stamp
  try { stamp = JSON.parse(readFileSync(stampFile, 'utf8')) } catch {}
  if (stamp != null && JSON.stringify(stamp.spec) === JSON.stringify(want) && existsSync(dir)) {
    const listing = listFiles(dir)
    if (listing.files.length === stamp.files && listing.bytes === stamp.bytes) {
      return { name, dir, ...listing, generated: false }
    }
  }
  log(`generating dataset ${name} in ${dir} ...`)
  const t = performance.now()
  rmSync(stampFile, { force: true })
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  GENERATORS[spec.kind](dir, name, spec)
  capture('sync', [])
  const listing = listFiles(dir)
  writeFileSync(stampFile, JSON.stringify({ spec: want, files: listing.files.length, bytes: listing.bytes }, null, 2) + '\n')
  log(`  ${listing.files.length} files, ${listing.bytes} bytes in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  return { name, dir, ...listing, generated: true }
}

/** Reads every file once (8 MiB reads into one buffer) so the timed runs find them in the page cache. */
export function warm (dataset) {
  const buf = Buffer.allocUnsafe(8 * MiB)
  for (const rel of dataset.files) {
    const fd = openSync(join(dataset.dir, rel), 'r')
    try {
      while (readSync(fd, buf, 0, buf.length, null) > 0) { /* discard */ }
    } finally {
      closeSync(fd)
    }
  }
}

/**
 * Fraction of the dataset's bytes resident in the page cache, from util-linux `fincore` (null when it is
 * missing). Sparse files are not cached the same way; do not ask for them.
 */
export function residentFraction (dataset) {
  if (capture('fincore', ['--version']) === '') return null
  let resident = 0
  const batch = 500
  for (let i = 0; i < dataset.files.length; i += batch) {
    const out = capture('fincore', ['--bytes', '--noheadings', '--raw', '-o', 'RES', ...dataset.files.slice(i, i + batch)], { cwd: dataset.dir, maxBuffer: 64 * MiB })
    for (const line of out.split('\n')) if (line !== '') resident += Number(line)
  }
  return dataset.bytes > 0 ? resident / dataset.bytes : 1
}

/** du-like: allocated bytes (st_blocks * 512) of everything under `path`, itself included. */
export function diskUsage (path) {
  const st = lstatSync(path)
  let total = st.blocks * 512
  if (st.isDirectory()) for (const name of readdirSync(path)) total += diskUsage(join(path, name))
  return total
}
