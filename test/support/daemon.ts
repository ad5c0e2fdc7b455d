/**
 * Real `ferry daemon` processes for end-to-end tests: started on a free loopback port, found through the
 * addresses they print, stopped with SIGTERM (or killed).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { FERRY_BIN } from './ferry.js'

export interface Daemon {
  home: string
  /** Full multiaddrs with /p2p/<PeerId>. */
  addrs: string[]
  /** The loopback TCP multiaddr to pass to --from. */
  addr: string
  peerId: string
  child: ChildProcess
  output: () => string
  stop: () => Promise<void>
  kill: () => Promise<void>
}

/** `env`: more environment for the daemon (the test hooks, e.g. FERRY_TEST_CUT_CONNECTION_AFTER). */
export async function startDaemon (home: string, extra: string[] = [], timeoutMs = 30_000, env: Record<string, string> = {}): Promise<Daemon> {
  const child = spawn(FERRY_BIN, ['daemon', '--home', home, '--listen', '/ip4/127.0.0.1/tcp/0', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FERRY_HOME: undefined, ...env }
  })
  let out = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { out += d })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const deadline = Date.now() + timeoutMs
  let addrs: string[] = []
  while (Date.now() < deadline) {
    addrs = [...out.matchAll(/(\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\w+)/g)].map((m) => m[1] as string)
    if (addrs.length > 0) break
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}:\n${out}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  if (addrs.length === 0) {
    child.kill('SIGKILL')
    throw new Error(`daemon printed no address within ${timeoutMs} ms:\n${out}`)
  }
  const addr = addrs[0] as string
  const peerId = addr.split('/p2p/')[1] as string
  const stopWith = async (sig: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill(sig)
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(t)
  }
  return { home, addrs, addr, peerId, child, output: () => out, stop: async () => { await stopWith('SIGTERM') }, kill: async () => { await stopWith('SIGKILL') } }
}

/** The daemons one suite started, to stop them all in its afterAll/afterEach. */
export class DaemonSet {
  private readonly running: Daemon[] = []

  async start (home: string, extra: string[] = [], env: Record<string, string> = {}): Promise<Daemon> {
    const d = await startDaemon(home, extra, 30_000, env)
    this.running.push(d)
    return d
  }

  async stopAll (): Promise<void> {
    await Promise.all(this.running.splice(0).map(async (d) => { await d.stop() }))
  }
}
