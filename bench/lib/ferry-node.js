/**
 * Ferry nodes for the replication bench, driven through the real CLI (the `packages/cli/bin/ferry` launcher):
 * homes (init, id, trust, untrust, add) and a long-running `ferry daemon` on loopback.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { onCpu, processCpuSeconds } from './cpu.js'
import { CLI, FERRY } from './ferry.js'

/** Runs `ferry <args...>` to completion and returns its stdout (throws with its stderr on failure). */
export function ferry (args, options = {}) {
  if (!existsSync(CLI)) throw new Error(`${CLI} not found: build it (npm run build)`)
  try {
    return execFileSync(FERRY, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, ...options }).toString()
  } catch (err) {
    throw new Error(`ferry ${args.join(' ')} failed (exit ${err.status}): ${String(err.stderr ?? '').slice(-2000)}`)
  }
}

/** A fresh, initialised home at `home`; returns its peer id. */
export function initHome (home) {
  rmSync(home, { recursive: true, force: true })
  ferry(['init', '--home', home])
  return peerId(home)
}

export function peerId (home) {
  return ferry(['id', '--home', home]).trim().split(/\s+/)[0]
}

/** `ferry add <dir> --home <home> --json`: returns the scan's record ({ root, files, bytes, ... }). */
export function addScan (home, dir) {
  return JSON.parse(ferry(['add', dir, '--home', home, '--json']))
}

export function trust (home, id) { ferry(['trust', id, '--home', home]) }
export function untrust (home, id) { ferry(['untrust', id, '--home', home]) }

/**
 * Starts `ferry daemon --home <home> --listen /ip4/<listen>/tcp/0 --json` (listen: 127.0.0.1 unless given) and
 * waits for its JSON line; `wrap` ((cmd, args) -> [cmd, args], e.g. `ip netns exec <ns>`) runs it elsewhere.
 * Returns { pid, peerId, addr (the loopback multiaddr ending in /p2p/<id>), cpuSeconds(), stop() }. With `cpu`,
 * the daemon and all its threads run on that CPU only (taskset).
 */
export async function startDaemon (home, { log = () => {}, timeoutS = 60, cpu, listen = '127.0.0.1', wrap = (c, a) => [c, a] } = {}) {
  const [cmd, args] = wrap(...onCpu(cpu, FERRY, ['daemon', '--home', home, '--listen', `/ip4/${listen}/tcp/0`, '--json']))
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (b) => { stderr = (stderr + b.toString()).slice(-4000) })
  let exited = null
  const exit = new Promise((resolve) => child.on('close', (code, signal) => { exited = { code, signal }; resolve(exited) }))
  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ferry daemon did not print its addresses in ${timeoutS} s: ${stderr}`)), timeoutS * 1000)
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const j = JSON.parse(line)
        if (Array.isArray(j.addrs)) { clearTimeout(timer); resolve(j) }
      } catch {}
    })
    exit.then((e) => { clearTimeout(timer); reject(new Error(`ferry daemon exited (${e.code ?? e.signal}): ${stderr}`)) })
  })
  const addr = info.addrs.find((a) => a.startsWith(`/ip4/${listen}/tcp/`))
  if (addr == null) throw new Error(`ferry daemon lists no address on ${listen}: ${info.addrs.join(' ')}`)
  log(`[ferry] daemon pid ${child.pid} at ${addr}`)
  return {
    pid: child.pid,
    peerId: info.peerId,
    addr,
    get stderr () { return stderr },
    alive () { return exited == null },
    cpuSeconds () { return processCpuSeconds(child.pid) },
    async stop () {
      if (exited != null) return exited
      child.kill('SIGTERM')
      const e = await Promise.race([exit, sleep(10_000).then(() => null)])
      if (e != null) return e
      child.kill('SIGKILL')
      return await exit
    }
  }
}
