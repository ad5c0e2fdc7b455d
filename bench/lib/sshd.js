/**
 * A throwaway OpenSSH server on a free loopback port, for comparisons with `rsync -a` over ssh. Everything
 * it needs lives in one directory: its config, a fresh host key, a fresh client key (the only authorized
 * key), a known_hosts naming the host key, a client config, the PID file and the log. Ciphers and key
 * exchange stay at OpenSSH's defaults.
 *
 * sshd insists on its privilege-separation directory /run/sshd. When `unshare` works (root), sshd starts
 * inside a private mount namespace with a small tmpfs on /run, so the real /run is untouched; inside that
 * namespace the login user's ~/.bashrc is also masked (bind-mounted over by /dev/null), because bash sources
 * it for every command run over ssh and a heavy one (root's here runs `pyenv init`: ~2 s) would add a
 * fixed cost to every rsync that says nothing about rsync. Otherwise /run/sshd is created (and removed
 * again at stop if it was made here) and ~/.bashrc is left alone: `connectS` shows what a session costs.
 *
 * Stopped by the PID in its PID file; the directory is removed then.
 *
 * For the WAN suite, `listen` (an address), `serverWrap` and `clientWrap` ((cmd, args) -> [cmd, args], e.g.
 * `ip netns exec <ns>`) put sshd in one network namespace and the test sessions in another.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { onCpu, processCpuSeconds } from './cpu.js'
import { median } from './stats.js'

const SSHD = '/usr/sbin/sshd'
const HOST_ALIAS = 'ferry-bench-sshd'

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort () {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

const same = (cmd, args) => [cmd, args]

/** Running (a zombie waiting for its parent counts as gone). */
function isAlive (pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/**
 * Starts the server in `dir` (emptied first). Returns { host, port, pid, rsh, mode, connectS, cipher, stop(),
 * cpuSeconds() }: `host` is an alias to use as `host:path` with `rsync -e <rsh>`; `cpuSeconds()` is the CPU
 * time of sshd and of every finished session (their rsync servers included), for the server's share.
 */
export async function startSshd (dir, { log = () => {}, cpu, listen = '127.0.0.1', serverWrap = same, clientWrap = same } = {}) {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} not found: install openssh-server (apt-get install openssh-server)`)
  if (/\s/.test(dir)) throw new Error(`the sshd directory must not contain spaces: ${dir}`)
  const f = (name) => join(dir, name)
  // one left running by an interrupted run: stop it if its command line names this directory's config
  try {
    const old = Number(readFileSync(f('sshd.pid'), 'utf8').trim())
    if (old > 0 && readFileSync(`/proc/${old}/cmdline`, 'utf8').includes(f('sshd_config'))) await stopPid(old)
  } catch {}
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  for (const key of ['host_key', 'client_key']) {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `ferry-bench-${key}`, '-f', f(key)], { stdio: 'ignore' })
  }
  writeFileSync(f('authorized_keys'), readFileSync(f('client_key.pub')))
  const port = await freePort()
  writeFileSync(f('sshd_config'), [
    `Port ${port}`,
    `ListenAddress ${listen}`,
    `HostKey ${f('host_key')}`,
    `PidFile ${f('sshd.pid')}`,
    `AuthorizedKeysFile ${f('authorized_keys')}`,
    'UsePAM no',
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'UseDNS no',
    'LogLevel ERROR',
    ''
  ].join('\n'))
  const hostPub = readFileSync(f('host_key.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ')
  writeFileSync(f('known_hosts'), `[${listen}]:${port} ${hostPub}\n`)
  writeFileSync(f('ssh_config'), [
    `Host ${HOST_ALIAS}`,
    `  HostName ${listen}`,
    `  Port ${port}`,
    `  User ${userInfo().username}`,
    `  IdentityFile ${f('client_key')}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${f('known_hosts')}`,
    '  GlobalKnownHostsFile /dev/null',
    '  StrictHostKeyChecking yes',
    '  BatchMode yes',
    ''
  ].join('\n'))

  const sshdArgs = `${SSHD} -f ${f('sshd_config')} -E ${f('sshd.log')}`
  // sshd forks into the background once listening: the parent's exit means it is up (or failed)
  const inNamespace = 'mount -t tmpfs -o size=1m,mode=755 ferry-bench-run /run && mkdir -m 755 /run/sshd && ' +
    'if [ -f "$HOME/.bashrc" ]; then mount --bind /dev/null "$HOME/.bashrc"; fi && ' +
    `${sshdArgs} -t && exec ${sshdArgs}`
  let mode = 'unshare'
  let madeRunSshd = false
  // with `cpu`, sshd and every session it forks (rsync's server side) run on that CPU only
  let r = spawnSync(...serverWrap(...onCpu(cpu, 'unshare', ['-m', '--propagation', 'private', 'sh', '-c', inNamespace])), { encoding: 'utf8' })
  if (r.status !== 0) {
    log(`[sshd] unshare failed (${(r.stderr || r.error?.message || '').trim()}); using /run/sshd instead`)
    mode = 'run-sshd'
    if (!existsSync('/run/sshd')) { mkdirSync('/run/sshd', { mode: 0o755 }); madeRunSshd = true }
    r = spawnSync(...serverWrap(...onCpu(cpu, 'sh', ['-c', `${sshdArgs} -t && exec ${sshdArgs}`])), { encoding: 'utf8' })
  }
  let pid = null
  for (let i = 0; i < 100 && pid == null; i++) {
    try { pid = Number(readFileSync(f('sshd.pid'), 'utf8').trim()) || null } catch { await sleep(50) }
  }
  let log_ = ''
  try { log_ = readFileSync(f('sshd.log'), 'utf8') } catch {}
  if (r.status !== 0 || pid == null) {
    if (madeRunSshd) rmSync('/run/sshd', { recursive: true, force: true })
    throw new Error(`sshd did not start (exit ${r.status}): ${r.stderr}${log_}`)
  }
  const rsh = `ssh -F ${f('ssh_config')}`

  // cost of a session (connect, authenticate, run `true`) and the cipher OpenSSH picks by default
  const times = []
  let cipher = null
  for (let i = 0; i < 3; i++) {
    const t = performance.now()
    const s = spawnSync(...clientWrap('ssh', ['-F', f('ssh_config'), ...(i === 0 ? ['-v'] : []), HOST_ALIAS, 'true']), { encoding: 'utf8' })
    times.push((performance.now() - t) / 1000)
    if (s.status !== 0) {
      await stopPid(pid)
      if (madeRunSshd) rmSync('/run/sshd', { recursive: true, force: true })
      throw new Error(`ssh to the throwaway sshd failed (exit ${s.status}): ${s.stderr.slice(-2000)}`)
    }
    if (i === 0) cipher = s.stderr.match(/server->client cipher: (\S+)/)?.[1] ?? null
  }
  log(`[sshd] pid ${pid} on ${listen}:${port} (${mode}), cipher ${cipher}, a session takes ${median(times).toFixed(2)} s`)

  return {
    host: HOST_ALIAS,
    port,
    pid,
    rsh,
    mode,
    bashrcMasked: mode === 'unshare',
    cipher,
    connectS: median(times),
    version: spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim(), // ssh -V prints on stderr
    /** CPU seconds of sshd and its finished sessions; waits (up to 2 s) for running sessions to end first. */
    async cpuSeconds () {
      for (let i = 0; i < 40 && hasChildren(pid); i++) await sleep(50)
      return processCpuSeconds(pid, { children: true })
    },
    async stop () {
      let p = pid
      try { p = Number(readFileSync(f('sshd.pid'), 'utf8').trim()) || pid } catch {}
      await stopPid(p)
      if (madeRunSshd) rmSync('/run/sshd', { recursive: true, force: true })
      rmSync(dir, { recursive: true, force: true }) // throwaway keys and config
    }
  }
}

function hasChildren (pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim() !== ''
  } catch {
    return false
  }
}

async function stopPid (pid) {
  if (!isAlive(pid)) return
  process.kill(pid, 'SIGTERM')
  for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(50)
  if (isAlive(pid)) process.kill(pid, 'SIGKILL')
}
