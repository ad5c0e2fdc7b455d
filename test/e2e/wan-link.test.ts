/**
 * The WAN emulator (test/support/wan) does what it is asked: ping RTT (median) and one-way UDP loss
 * within 10% of the configured delay and loss. Root only (namespaces, TUN); skipped elsewhere.
 *
 * Loss: N = 40,000 datagrams at p = 5% lose Binomial(N, p) of them: mean 2,000, sd √(N p (1 − p)) ≈ 43.6,
 * so the 10% bound (±200) is 4.6 sd away: a false failure about once in 250,000 runs (and the relay's RNG is
 * seeded, so a given kernel sees the same draws run after run). Loss is counted end to end (datagrams that
 * reached the receiver) against the datagrams that entered the link (the relay's own receive count), so a
 * sender starved on a busy machine, whose own queue drops some before the link, does not count as link loss.
 */
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { createWan, unsupportedReason, type Wan } from '../support/wan/link.js'

const UDP = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'support', 'wan', 'udp-count.js')
const RTT_MS = 40
const LOSS = 0.05
const N = 40_000
const PINGS = 100

function median (xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b)
  const m = v.length >> 1
  return v.length % 2 === 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2
}

/** The RTTs (ms) of PINGS pings from `from` to `to` across `link`. */
function pingRtts (wan: Wan, from: string, to: string, link: number): number[] {
  const [cmd, args] = wan.wrap(from, 'ping', ['-n', '-c', String(PINGS), '-i', '0.01', '-W', '2', wan.addr(to, link)])
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 })
  expect(r.status, r.stderr).toBe(0)
  return [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]))
}

/** How many of N datagrams sent from `from` to `to` across `link` arrived. */
async function udpReceived (wan: Wan, from: string, to: string, link: number): Promise<number> {
  const addr = wan.addr(to, link)
  const recv = spawn(...wan.wrap(to, process.execPath, [UDP, 'recv', addr, '9999', '1500']), { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: recv.stdout })[Symbol.asyncIterator]()
  expect((await lines.next()).value).toBe('ready')
  const sent = spawnSync(...wan.wrap(from, process.execPath, [UDP, 'send', addr, '9999', String(N)]), { stdio: 'inherit', timeout: 20_000 })
  expect(sent.status).toBe(0)
  return Number((await lines.next()).value)
}

describe('WAN link emulator', () => {
  it(`delays by the RTT asked (${RTT_MS} ms) and loses the share asked (${LOSS * 100}%), within 10%`, async (ctx) => {
    const why = unsupportedReason()
    if (why != null) return ctx.skip(why)
    if (spawnSync('ping', ['-V'], { stdio: 'ignore' }).status !== 0) return ctx.skip('ping not found (iputils-ping)')
    // link 0: delay only; link 1: loss only (a lost ping would be lost either way, and 0 delay keeps it quick)
    const wan = await createWan({
      hosts: ['a', 'b', 'c'],
      links: [{ a: 'a', b: 'b', rttMs: RTT_MS, loss: 0 }, { a: 'a', b: 'c', rttMs: 0, loss: LOSS, seed: 7 }],
      maxSeconds: 28
    })
    let stats
    let rtts: number[]
    let received: number
    try {
      rtts = pingRtts(wan, 'a', 'b', 0)
      received = await udpReceived(wan, 'a', 'c', 1)
    } finally {
      stats = await wan.stop()
    }
    expect(rtts.length).toBe(PINGS)
    const rtt = median(rtts)
    expect(rtt).toBeGreaterThan(RTT_MS * 0.9)
    expect(rtt).toBeLessThan(RTT_MS * 1.1)
    const entered = stats[1]?.aToB.rx ?? N
    expect(entered).toBeGreaterThan(N * 0.95)
    const lost = entered - received
    process.stderr.write(`wan-link: median RTT ${rtt} ms of ${RTT_MS}; lost ${lost} of ${entered} (${(100 * lost / entered).toFixed(2)}%; relay says ${stats[1]?.aToB.lost}; ${N} sent)\n`)
    expect(lost, `relay counters ${JSON.stringify(stats[1])}`).toBeGreaterThan(entered * LOSS * 0.9)
    expect(lost, `relay counters ${JSON.stringify(stats[1])}`).toBeLessThan(entered * LOSS * 1.1)
  }, 30_000)
})
