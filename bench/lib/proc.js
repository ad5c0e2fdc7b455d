/**
 * Runs a child process and measures it: wall time (from this process, high resolution), user and system
 * CPU seconds, and peak RSS. Peak RSS is the child's ru_maxrss: for a Node process that is the whole
 * process, every thread (worker threads included) shares it.
 *
 * Two probes, the same figures: GNU `/usr/bin/time -f '%U %S %M' -o FILE` (preferred), or a python3 wrapper
 * that reads resource.getrusage(RUSAGE_CHILDREN) after the child exits.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { busySeconds } from './cpu.js'

const PY_WRAPPER = `
import resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[2:])
wall = time.perf_counter() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], 'w') as f:
    f.write('%f %f %d %f\\n' % (u.ru_utime, u.ru_stime, u.ru_maxrss, wall))
sys.exit(r.returncode if r.returncode >= 0 else 128 - r.returncode)
`

/** Which probe to use: the forced one, else GNU time if it works, else python3, else none. */
export function detectRssProbe (forced) {
  const works = (cmd, args) => {
    try { execFileSync(cmd, args, { stdio: 'ignore' }); return true } catch { return false }
  }
  const gnu = existsSync('/usr/bin/time') && works('/usr/bin/time', ['-f', '%M', '-o', '/dev/null', 'true'])
  const py = works('python3', ['-c', 'import resource'])
  if (forced === 'gnu-time' && !gnu) throw new Error('--rss gnu-time: /usr/bin/time (GNU time) not usable')
  if (forced === 'python' && !py) throw new Error('--rss python: python3 not usable')
  if (forced != null) return forced
  return gnu ? 'gnu-time' : py ? 'python' : 'none'
}

export function describeProbe (probe) {
  return {
    'gnu-time': "GNU time: /usr/bin/time -f '%U %S %M' (ru_maxrss of the child)",
    python: 'python3 resource.getrusage(RUSAGE_CHILDREN) around the child (ru_maxrss)',
    none: 'not measured (neither GNU time nor python3 found)'
  }[probe]
}

let counter = 0

/**
 * Runs `cmd args` to completion and returns { code, wallS, userS, sysS, maxRssBytes, othersCores, stdout,
 * stderr }; othersCores is the average number of cores busy with other processes during the run.
 * Output is captured whole; use it for commands that print little (digests, JSON).
 */
export async function measure (cmd, args, { cwd, probe = 'none', env } = {}) {
  const out = join(tmpdir(), `ferry-bench-rusage-${process.pid}-${counter++}.txt`)
  let argv
  if (probe === 'gnu-time') argv = ['/usr/bin/time', '-f', '%U %S %M', '-o', out, cmd, ...args]
  else if (probe === 'python') argv = ['python3', '-c', PY_WRAPPER, out, cmd, ...args]
  else argv = [cmd, ...args]

  const busyBefore = busySeconds()
  const started = process.hrtime.bigint()
  const { code, stdout, stderr } = await new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const so = []
    const se = []
    child.stdout.on('data', (b) => so.push(b))
    child.stderr.on('data', (b) => se.push(b))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({
      code: code ?? 128,
      signal,
      stdout: Buffer.concat(so).toString(),
      stderr: Buffer.concat(se).toString()
    }))
  })
  let wallS = Number(process.hrtime.bigint() - started) / 1e9
  const busyAfter = busySeconds()

  let userS = NaN
  let sysS = NaN
  let maxRssBytes = NaN
  if (probe !== 'none' && existsSync(out)) {
    // GNU time prefixes "Command exited with non-zero status N" on failure: the figures are the last line.
    const last = readFileSync(out, 'utf8').trim().split('\n').pop().trim().split(/\s+/).map(Number)
    rmSync(out, { force: true })
    ;[userS, sysS] = last
    maxRssBytes = last[2] * 1024 // ru_maxrss is in KiB on Linux
    if (probe === 'python') wallS = last[3] // leave python's own start-up out of the wall time
  }
  // cores the rest of the machine kept busy meanwhile (the wrapper and this process count as others: ~0)
  const othersCores = busyBefore == null || !Number.isFinite(userS) ? NaN : Math.max(0, (busyAfter - busyBefore - userS - sysS) / wallS)
  return { code, wallS, userS, sysS, maxRssBytes, othersCores, stdout, stderr }
}

/** Runs a command for its output (versions, facts); '' if it fails. */
export function capture (cmd, args, options = {}) {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options }).toString().trim()
  } catch {
    return ''
  }
}
