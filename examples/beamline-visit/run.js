// During the experiment, on one machine: a beamline node (A) and a campus node (B) with separate homes on
// loopback. A's daemon watches three scans of a visit as they are acquired (frames appearing over time,
// one volume written slowly in pieces), and seals each when done; B follows the collection
// (`ferry pull --collection ... --follow`) and prints each file's lag as it lands, then each scan's sealed
// root, verified. Run with `npm run demo:live`. Everything lives in a temporary directory removed at the end.
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../../packages/cli/bin/ferry', import.meta.url)) // the `ferry` command
const work = mkdtempSync(join(tmpdir(), 'ferry-beamline-visit-'))
const siteA = join(work, 'site-A-beamline')
const siteB = join(work, 'site-B-campus')
const collection = '20261202_i13_visit'
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function ferry (home, ...args) {
  console.log(`[${home === siteA ? 'A' : 'B'}] $ ferry ${args.join(' ')}`)
  const r = spawnSync(bin, [...args, '--home', home], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ferry ${args[0]} exited with ${r.status}`)
  return r.stdout.trim()
}

async function startDaemon () {
  console.log('[A] $ ferry daemon --listen /ip4/127.0.0.1/tcp/0')
  const daemon = spawn(bin, ['daemon', '--home', siteA, '--listen', '/ip4/127.0.0.1/tcp/0'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const addr = await new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`daemon printed no address:\n${out}`)), 30_000)
    daemon.stdout.setEncoding('utf8').on('data', (d) => {
      out += d
      const m = out.match(/(\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\w+)/)
      if (m != null) { clearTimeout(timer); resolve(m[1]) }
    })
    daemon.on('exit', (code) => reject(new Error(`daemon exited with ${code}`)))
  })
  return { daemon, addr }
}

/** One scan as a detector writes it: `frames` projections, one every `everyMs`; with `volume`, an HDF5-like file in pieces. */
async function acquire (name, frames, everyMs, volume) {
  const dir = join(work, 'beamline', name)
  mkdirSync(join(dir, 'raw'), { recursive: true })
  ferry(siteA, 'watch', dir, '--collection', collection, '--name', name, '--settle', '0.5')
  for (let i = 0; i < frames; i++) {
    writeFileSync(join(dir, 'raw', `proj_${String(i).padStart(4, '0')}.tif`), randomBytes(2 * 1024 * 1024))
    await sleep(everyMs)
  }
  if (volume) { // 16 pieces of 1 MiB, 300 ms apart, through one open descriptor: published once closed
    const fd = openSync(join(dir, 'recon.h5'), 'w')
    for (let i = 0; i < 16; i++) {
      writeSync(fd, randomBytes(1024 * 1024))
      await sleep(300)
    }
    closeSync(fd)
  }
  await sleep(1500) // the last files are published (at their close; else once unchanged for the settle time, 0.5 s)
  return dir
}

let daemon
let follower
try {
  ferry(siteA, 'init')
  ferry(siteB, 'init')
  ferry(siteA, 'trust', ferry(siteB, 'id'), '--name', 'campus')
  const started = await startDaemon()
  daemon = started.daemon
  const dest = join(work, 'campus-store', collection)
  console.log(`[B] $ ferry pull --collection ${collection} ${dest} --from ${started.addr} --follow --idle 5`)
  follower = spawn(bin, ['pull', '--collection', collection, dest, '--from', started.addr, '--follow', '--idle', '5', '--home', siteB], { stdio: ['ignore', 'inherit', 'inherit'] })
  const exited = new Promise((resolve) => follower.on('exit', (code) => resolve(code)))
  const scans = [['scan_0001', 12, 250, false], ['scan_0002', 6, 250, true], ['scan_0003', 12, 150, false]]
  for (const [name, frames, everyMs, volume] of scans) {
    await acquire(name, frames, everyMs, volume)
    ferry(siteA, 'seal', '--collection', collection, '--name', name)
  }
  const code = await exited
  follower = undefined
  let ok = code === 0
  for (const [name] of scans) {
    const r = spawnSync(bin, ['verify', join(dest, name), rootOf(name), '--home', siteB], { encoding: 'utf8' })
    console.log(`[B] ferry verify ${join(dest, name)}: ${r.status === 0 ? 'matches its sealed root' : `FAILED (${r.status})`}`)
    ok &&= r.status === 0
  }
  console.log(ok ? '\nDone: every file arrived while its scan was acquired; each scan verified against its sealed root.' : '\nFAILED')
  process.exitCode = ok ? 0 : 1
} finally {
  follower?.kill('SIGTERM')
  daemon?.kill('SIGTERM')
  await sleep(500)
  rmSync(work, { recursive: true, force: true })
}

/** The sealed root of `name` at A. */
function rootOf (name) {
  const list = JSON.parse(spawnSync(bin, ['scans', '--collection', collection, '--json', '--home', siteA], { encoding: 'utf8' }).stdout)
  const rows = Array.isArray(list) ? list : list.scans
  return rows.find((s) => s.name === name).root
}
