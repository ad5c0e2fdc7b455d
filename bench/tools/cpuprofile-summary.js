#!/usr/bin/env node
/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof --cpu-prof-dir DIR ...`, one per thread): for each
 * profile, where the samples went by self time, top functions first.
 *
 *   node --cpu-prof --cpu-prof-dir /tmp/prof packages/cli/dist/bin.js add DIR --home H --json
 *   node bench/tools/cpuprofile-summary.js /tmp/prof/*.cpuprofile [--top 15] [--by function|package]
 */
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'

const args = process.argv.slice(2)
const topAt = args.indexOf('--top')
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 15
const byAt = args.indexOf('--by')
const by = byAt >= 0 ? args.splice(byAt, 2)[1] : 'function' // or 'package': self time per package / node internals

for (const file of args) {
  const p = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map()
  // timeDeltas[i] is the time before sample i; attribute it to that sample's node
  let total = 0
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0
    total += dt
    const n = byId.get(p.samples[i])
    const cf = n.callFrame
    const where = cf.url === '' ? '' : ` ${cf.url.replace(/^file:\/\/.*?\/(packages|node_modules)\//, '$1/')}:${cf.lineNumber + 1}`
    const key = by === 'package' ? packageOf(cf) : `${cf.functionName || '(anonymous)'}${where}`
    self.set(key, (self.get(key) ?? 0) + dt)
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
  process.stdout.write(`\n${basename(file)}: ${(total / 1e6).toFixed(2)} s sampled\n`)
  for (const [k, v] of rows) process.stdout.write(`  ${(100 * v / total).toFixed(1).padStart(5)}%  ${(v / 1e6).toFixed(2).padStart(6)} s  ${k}\n`)
}

function packageOf (cf) {
  if (cf.url === '') return cf.functionName.startsWith('(') ? cf.functionName : '(native)'
  if (cf.url.startsWith('node:')) return 'node: internals'
  const m = cf.url.match(/\/(node_modules\/(?:@[^/]+\/)?[^/]+|packages\/[^/]+)\//)
  return m?.[1] ?? cf.url
}
