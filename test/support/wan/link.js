/**
 * Emulated WAN on one machine: network namespaces ("hosts") joined by point-to-point links, each link one
 * ferry-wan-relay process (relay.c: delay, Bernoulli loss, rate, bottleneck queue) between two TUN devices.
 * Plain ESM JavaScript so both the vitest tests and bench/ (run by node without a compile step) use it.
 *
 * Names: namespace `fwan-<owner pid>-<host>`, TUN device `wan<i>` for link i in both of its namespaces,
 * link i's addresses 10.77.<i+1>.1 (side a) and 10.77.<i+1>.2 (side b), /24. They exist only inside the
 * namespaces. The relay's PID file is /run/ferry-wan/<owner pid>-<i>.pid. `cleanupLeftovers()` removes
 * namespaces and relays whose owner process is gone (an interrupted run), so it is safe while another run is
 * live. Every run is bounded: the relay exits after `maxSeconds` or when its parent dies, and `stop()` also
 * runs from process 'exit'.
 *
 * Needs root, /dev/net/tun, iproute2 and cc.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const PREFIX = 'fwan-'
const RUN_DIR = '/run/ferry-wan'
const RELAY_SRC = join(dirname(fileURLToPath(import.meta.url)), 'relay.c')
/** TCP buffer limits set in every namespace (min default max): like a tuned data-transfer node. */
export const TCP_MEM = { rmem: '4096 131072 67108864', wmem: '4096 16384 67108864' }
/**
 * Congestion control set in every namespace. A new namespace inherits the host's, which may be BBR (it is
 * on the machines this was written on): BBR does not back off on random loss, so loss would hardly matter.
 * CUBIC is Linux's default, what most sites run, and loss-based like the Mathis model. A namespace other than
 * the host's may only choose one listed in the host's net.ipv4.tcp_allowed_congestion_control, so
 * allowCongestionControl() adds it there when missing (that list only says what unprivileged sockets may
 * pick; the host's default is left alone).
 */
export const DEFAULT_CC = 'cubic'

/** Adds `cc` to the host's allowed congestion controls if it is not there yet. */
export function allowCongestionControl (cc) {
  const key = '/proc/sys/net/ipv4/tcp_allowed_congestion_control'
  const allowed = readFileSync(key, 'utf8').trim().split(/\s+/)
  if (!allowed.includes(cc)) writeFileSync(key, [...allowed, cc].join(' '))
}

/** Why the emulator cannot run here, or null when it can. */
export function unsupportedReason () {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TUN devices)'
  try { accessSync('/dev/net/tun', constants.R_OK | constants.W_OK) } catch { return 'no /dev/net/tun' }
  for (const [cmd, args] of [['ip', ['-V']], ['cc', ['--version']]]) {
    if (spawnSync(cmd, args, { stdio: 'ignore' }).status !== 0) return `${cmd} not found (iproute2, gcc)`
  }
  return null
}

/** Compiles relay.c once per source version into the temp dir; returns the binary's path. */
export function buildRelay () {
  const src = readFileSync(RELAY_SRC)
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 12)
  const dir = join(tmpdir(), 'ferry-wan')
  const bin = join(dir, `ferry-wan-relay-${hash}`)
  if (existsSync(bin)) return bin
  mkdirSync(dir, { recursive: true })
  const tmp = `${bin}.${process.pid}.tmp`
  execFileSync('cc', ['-O2', '-Wall', '-o', tmp, RELAY_SRC], { stdio: ['ignore', 'ignore', 'pipe'] })
  renameSync(tmp, bin)
  return bin
}

function ip (args, { check = true } = {}) {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (check && r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${(r.stderr || '').trim()}`)
  return r.stdout ?? ''
}

/** Running (a zombie, which an init that does not reap may keep for ever, counts as gone). */
function alive (pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/** Kills every process inside namespace `ns` (all were started there by a harness), then deletes it. */
function removeNamespace (ns) {
  for (const pid of ip(['netns', 'pids', ns], { check: false }).split(/\s+/).filter(Boolean).map(Number)) {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
  ip(['netns', 'del', ns], { check: false })
}

function killRelay (pidFile) {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim())
    if (pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('ferry-wan-relay')) process.kill(pid, 'SIGKILL')
  } catch {}
  rmSync(pidFile, { force: true })
}

/** Removes namespaces and relays left by runs whose owner process is gone (or, with `all`, every one). */
export function cleanupLeftovers ({ all = false } = {}) {
  const stale = (owner) => all || !alive(owner)
  for (const line of ip(['netns', 'list'], { check: false }).split('\n')) {
    const ns = line.split(/\s+/)[0]
    const m = ns?.match(/^fwan-(\d+)-/)
    if (m != null && stale(Number(m[1]))) removeNamespace(ns)
  }
  let files = []
  try { files = readdirSync(RUN_DIR) } catch {}
  for (const f of files) {
    const m = f.match(/^(\d+)-\d+\.pid$/)
    if (m != null && stale(Number(m[1]))) killRelay(join(RUN_DIR, f))
  }
}

/** The namespace's setup: loopback up, TCP buffer limits, congestion control, no IPv6 (no stray packets on the links). */
function setupNamespace (ns, tcpMem, cc) {
  ip(['netns', 'add', ns])
  ip(['-n', ns, 'link', 'set', 'lo', 'up'])
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv4.tcp_rmem=${tcpMem.rmem}`, `net.ipv4.tcp_wmem=${tcpMem.wmem}`,
    `net.ipv4.tcp_congestion_control=${cc}`, 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { stdio: ['ignore', 'ignore', 'pipe'] })
}

/** Starts link `i`'s relay and waits for its "ready" line. */
async function startRelay (bin, i, link, nsA, nsB, maxSeconds, owner) {
  const dev = `wan${i}`
  const delayMs = link.rttMs / 2
  const args = ['--ns-a', `/run/netns/${nsA}`, '--dev-a', dev, '--ns-b', `/run/netns/${nsB}`, '--dev-b', dev,
    '--delay-ms', String(delayMs), '--loss', String(link.loss ?? 0), '--rate-bps', String(link.rateBps ?? 0),
    '--queue-bytes', String(link.queueBytes ?? defaultQueue(link)), '--seed', String(link.seed ?? i + 1),
    '--max-seconds', String(maxSeconds)]
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  mkdirSync(RUN_DIR, { recursive: true })
  const pidFile = join(RUN_DIR, `${owner}-${i}.pid`)
  writeFileSync(pidFile, `${child.pid}\n`)
  let stderr = ''
  child.stderr.on('data', (b) => { stderr += b.toString() })
  const lines = []
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)))
  const rl = createInterface({ input: child.stdout })
  await new Promise((resolve, reject) => {
    rl.on('line', (l) => { lines.push(l); if (l === 'ready') resolve() })
    exited.then((code) => reject(new Error(`ferry-wan-relay for link ${i} exited (${code}): ${stderr.trim()}`)))
  })
  const mtu = String(link.mtu ?? 65000)
  for (const [ns, side] of [[nsA, 1], [nsB, 2]]) {
    ip(['-n', ns, 'link', 'set', dev, 'mtu', mtu, 'txqueuelen', '1000', 'up'])
    ip(['-n', ns, 'addr', 'add', `10.77.${i + 1}.${side}/24`, 'dev', dev])
  }
  return { child, pidFile, exited, lines, get stderr () { return stderr } }
}

/** Bottleneck queue: one bandwidth-delay product, at least 256 KiB. */
function defaultQueue (link) {
  return Math.max(256 * 1024, Math.round(((link.rateBps ?? 0) / 8) * (link.rttMs / 1000)))
}

/**
 * Builds the WAN: `hosts` (names), `links` ([{ a, b, rttMs, loss, rateBps, mtu?, queueBytes?, seed? }], a and b
 * host names). Returns { ns(host), addr(host, linkIndex), wrap(host, cmd, args) -> [cmd, args] running inside
 * that host, links: [{ a, b, ... }], cc, stop() -> relay counters per link }. `cc`: TCP congestion control in
 * every namespace (DEFAULT_CC unless given).
 */
export async function createWan ({ hosts, links, maxSeconds = 600, tcpMem = TCP_MEM, cc = DEFAULT_CC }) {
  cleanupLeftovers()
  const owner = process.pid
  const names = Object.fromEntries(hosts.map((h) => [h, `${PREFIX}${owner}-${h}`]))
  const bin = buildRelay()
  const relays = []
  let stopped = false
  const hardStop = () => {
    if (stopped) return
    stopped = true
    for (const r of relays) { try { r.child.kill('SIGKILL') } catch {} rmSync(r.pidFile, { force: true }) }
    for (const ns of Object.values(names)) removeNamespace(ns)
  }
  process.once('exit', hardStop)
  try {
    allowCongestionControl(cc)
    for (const ns of Object.values(names)) setupNamespace(ns, tcpMem, cc)
    for (const [i, link] of links.entries()) relays.push(await startRelay(bin, i, link, names[link.a], names[link.b], maxSeconds, owner))
  } catch (err) {
    hardStop()
    throw err
  }
  const ns = (host) => { if (names[host] == null) throw new Error(`no host ${host}`); return names[host] }
  return {
    links,
    cc,
    ns,
    addr (host, i) { return `10.77.${i + 1}.${links[i].a === host ? 1 : 2}` },
    wrap (host, cmd, args = []) { return ['ip', ['netns', 'exec', ns(host), cmd, ...args]] },
    /** Stops the relays (their counters, one object per link) and removes the namespaces. */
    async stop () {
      if (stopped) return []
      const stats = []
      for (const r of relays) {
        r.child.kill('SIGTERM')
        const code = await Promise.race([r.exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 3000))])
        if (code === 'timeout') r.child.kill('SIGKILL')
        const last = r.lines.filter((l) => l.startsWith('{')).pop()
        stats.push(last != null ? JSON.parse(last) : null)
      }
      hardStop()
      process.removeListener('exit', hardStop)
      return stats
    }
  }
}
