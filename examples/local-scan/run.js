// Ferry on one machine: import a sample scan, list it, prove a copy matches, and catch a corrupted copy.
// Run with `npm run demo`. Everything happens in a temporary directory that is removed at the end.
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeSampleScan } from '../sample-scan.js'

const bin = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'ferry-demo-'))
const home = join(work, 'home')

function ferry (...args) {
  console.log(`\n$ ferry ${args.join(' ')}`)
  const r = spawnSync(process.execPath, [bin, ...args, '--home', home], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
  process.stdout.write(r.stdout.length > 1500 ? r.stdout.slice(0, 1500) + '  ...\n' : r.stdout)
  return { code: r.status, stdout: r.stdout }
}

try {
  const scan = join(work, '20261125_DLS_i13_0001')
  const { files, bytes } = writeSampleScan(scan)
  console.log(`Sample scan: ${files} files, ${(bytes / 1e6).toFixed(1)} MB in ${scan}`)
  ferry('init')
  const root = ferry('add', scan, '--collection', '20261125_DLS_i13').stdout.trim()
  ferry('scans')
  ferry('ls', root)
  const copy = join(work, 'copy-off-the-disk')
  cpSync(scan, copy, { recursive: true })
  const ok = ferry('verify', copy, root)
  const fd = openSync(join(copy, 'processed/tomo_recon.h5'), 'r+')
  writeSync(fd, Buffer.from('oops'), 0, 4, 30_000_000)
  closeSync(fd)
  rmSync(join(copy, 'raw/proj_0042.tif'))
  const bad = ferry('verify', copy, root)
  console.log(`\nverify exit codes: intact copy ${ok.code}, damaged copy ${bad.code} (0 = matches, 4 = differs)`)
  process.exitCode = ok.code === 0 && bad.code === 4 ? 0 : 1
} finally {
  rmSync(work, { recursive: true, force: true })
}
