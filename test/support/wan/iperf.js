/**
 * iperf3 over an emulated link (link.js), and the Mathis et al. estimate of one loss-limited TCP stream:
 * throughput ≈ MSS / RTT × 1.22 / √p (Reno; CUBIC and BBR differ, so both are reported beside it).
 */
import { spawn } from 'node:child_process'

/** Mathis's ceiling in bytes/s for `mtu` (IPv4 + TCP with timestamps: 52 bytes of headers), RTT and loss p. */
export function mathisBps (mtu, rttMs, p) {
  return p > 0 ? ((mtu - 52) / (rttMs / 1000)) * (1.22 / Math.sqrt(p)) : Infinity
}

function run (cmd, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (b) => { out += b.toString() })
    child.stderr.on('data', (b) => { err += b.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (code) => { clearTimeout(timer); code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${(err || out).slice(-1000)}`)) })
  })
}

/**
 * One iperf3 TCP run from host `client` to host `server` across link `i` (server side listens on its link
 * address, one test, then exits). Returns { mbps (MB/s = 10^6 bytes/s, receiver side), retransmits, cc }.
 */
export async function iperf3 (wan, { client, server, link = 0, seconds = 5, cc, streams = 1 }) {
  const addr = wan.addr(server, link)
  const port = 5201 + link
  const srv = spawn(...wan.wrap(server, 'iperf3', ['-s', '-1', '-B', addr, '-p', String(port)]), { stdio: 'ignore' })
  try {
    let out = null
    for (let attempt = 0; out == null; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 200))
      try {
        out = await run(...wan.wrap(client, 'iperf3', ['-c', addr, '-p', String(port), '-t', String(seconds), '-P', String(streams), '-J', ...(cc ? ['-C', cc] : [])]), (seconds + 20) * 1000)
      } catch (err) {
        if (attempt >= 10 || !/connect|refused/i.test(String(err))) throw err
      }
    }
    const j = JSON.parse(out)
    if (j.error != null || j.end?.sum_received == null) throw new Error(`iperf3: ${j.error ?? 'no summary'}`)
    return {
      mbps: j.end.sum_received.bits_per_second / 8e6,
      retransmits: j.end.sum_sent.retransmits,
      cc: j.end.sender_tcp_congestion ?? cc ?? null
    }
  } finally {
    srv.kill('SIGKILL')
  }
}
