#!/usr/bin/env node
/**
 * `node test/support/wan/check.js [--seconds S]`: the emulator against iperf3, the configured rate and the
 * Mathis estimate, on a two-host link at each of a few settings. Prints a Markdown table (as quoted in
 * docs/benchmarks.md). Root only.
 */
import { parseArgs } from 'node:util'
import { iperf3, mathisBps } from './iperf.js'
import { createWan, unsupportedReason } from './link.js'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' } } })
const seconds = Number(values.seconds)
const MTU = 65000
const CASES = [
  { rttMs: 20, loss: 0, rateBps: 1e9 },
  { rttMs: 60, loss: 0, rateBps: 1e9 },
  { rttMs: 20, loss: 0.001, rateBps: 1e9 },
  { rttMs: 60, loss: 0.001, rateBps: 1e9 },
  { rttMs: 60, loss: 0.01, rateBps: 1e9 },
  { rttMs: 20, loss: 0, rateBps: 5e8 }
]
const CCS = ['reno', 'cubic', 'bbr']

async function main () {
  const why = unsupportedReason()
  if (why != null) throw new Error(why)
  const rows = []
  for (const c of CASES) {
    const wan = await createWan({ hosts: ['a', 'b'], links: [{ a: 'a', b: 'b', mtu: MTU, ...c }], maxSeconds: 20 + CCS.length * (seconds + 15) })
    try {
      const got = {}
      for (const cc of CCS) got[cc] = await iperf3(wan, { client: 'a', server: 'b', seconds, cc })
      const m = Math.min(mathisBps(MTU, c.rttMs, c.loss), c.rateBps / 8) / 1e6
      rows.push(`| ${c.rateBps / 1e6} Mbit/s | ${c.rttMs} ms | ${c.loss * 100}% | ${(c.rateBps / 8e6).toFixed(1)} | ${Number.isFinite(mathisBps(MTU, c.rttMs, c.loss)) ? (mathisBps(MTU, c.rttMs, c.loss) / 1e6).toFixed(1) : '∞'} | ${m.toFixed(1)} | ` +
        CCS.map((cc) => `${got[cc].mbps.toFixed(1)} (${got[cc].retransmits})`).join(' | ') + ' |')
      process.stderr.write(rows.at(-1) + '\n')
    } finally {
      const stats = await wan.stop()
      process.stderr.write(`  relay: ${JSON.stringify(stats)}\n`)
    }
  }
  process.stdout.write(`| rate | RTT | loss | rate MB/s | Mathis MB/s | min(rate, Mathis) | ${CCS.map((c) => `iperf3 ${c} MB/s (retr)`).join(' | ')} |\n`)
  process.stdout.write(`| --- | --- | --- | --- | --- | --- | ${CCS.map(() => '---').join(' | ')} |\n`)
  process.stdout.write(rows.join('\n') + '\n')
}

main().catch((err) => { process.stderr.write(`${err.stack}\n`); process.exitCode = 1 })
