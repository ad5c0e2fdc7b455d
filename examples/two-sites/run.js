// The main job, on one machine: two Ferry sites with separate homes on loopback. Site A (the beamline)
// imports a sample scan and serves it; site B (home) pulls it by its root, verifies it and prints the
// summary. Run with `npm run demo`. Everything lives in a temporary directory removed at the end.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeSampleScan } from '../sample-scan.js'

const bin = fileURLToPath(new URL('../../packages/cli/bin/ferry', import.meta.url)) // the `ferry` command
const work = mkdtempSync(join(tmpdir(), 'ferry-two-sites-'))
const siteA = join(work, 'site-A-diamond')
const siteB = join(work, 'site-B-campus')

function ferry (home, ...args) {
  console.log(`\n[${home === siteA ? 'A' : 'B'}] $ ferry ${args.join(' ')}`)
  const r = spawnSync(bin, [...args, '--home', home], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
  process.stdout.write(r.stdout.length > 2000 ? r.stdout.slice(0, 2000) + '  ...\n' : r.stdout)
  if (r.status !== 0 && !args.includes('verify')) throw new Error(`ferry ${args[0]} exited with ${r.status}`)
  return { code: r.status, stdout: r.stdout.trim() }
}

let daemon
try {
  const scan = join(work, 'beamline', '20261125_DLS_i13_0001')
  const { files, bytes } = writeSampleScan(scan)
  console.log(`Sample scan: ${files} files, ${(bytes / 1e6).toFixed(1)} MB in ${scan}`)
  ferry(siteA, 'init')
  ferry(siteB, 'init')
  const idB = ferry(siteB, 'id').stdout
  ferry(siteA, 'trust', idB, '--name', 'campus')
  const root = ferry(siteA, 'add', scan, '--collection', '20261125_DLS_i13').stdout

  console.log('\n[A] $ ferry daemon --listen /ip4/127.0.0.1/tcp/0')
  daemon = spawn(bin, ['daemon', '--home', siteA, '--listen', '/ip4/127.0.0.1/tcp/0'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const addr = await new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`daemon printed no address:\n${out}`)), 30_000)
    daemon.stdout.setEncoding('utf8').on('data', (d) => {
      out += d
      process.stdout.write(d)
      const m = out.match(/(\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\w+)/)
      if (m != null) { clearTimeout(timer); resolve(m[1]) }
    })
    daemon.on('exit', (code) => reject(new Error(`daemon exited with ${code}`)))
  })

  const dest = join(work, 'campus-store', '20261125_DLS_i13_0001')
  ferry(siteB, 'pull', root, dest, '--from', addr)
  const ok = ferry(siteB, 'verify', dest, root)
  ferry(siteB, 'scans')
  console.log(ok.code === 0
    ? `\nDone: site B holds scan ${root}, verified byte for byte, and now serves it to others.`
    : '\nVERIFY FAILED')
  process.exitCode = ok.code
} finally {
  daemon?.kill('SIGTERM')
  await new Promise((resolve) => setTimeout(resolve, 500))
  rmSync(work, { recursive: true, force: true })
}
