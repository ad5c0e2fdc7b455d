#!/usr/bin/env node
/**
 * Ferry benchmarks: `node bench/run.js [suite...] [--rounds N] [--quick]` (see --help), or `npm run bench`.
 * Prints a table per suite and writes the raw results, with the machine's facts, to
 * bench/results/latest.json. How to read the figures: docs/benchmarks.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { parseCli } from './lib/args.js'
import { REPO, makeDriver } from './lib/ferry.js'
import { machineFacts } from './lib/machine.js'
import { describeProbe, detectRssProbe } from './lib/proc.js'
import { SUITES } from './suites/index.js'

const log = (line) => process.stderr.write(`${line}\n`)

async function main () {
  const opts = parseCli(process.argv.slice(2), SUITES.map((s) => s.name))
  if (opts.help != null) { process.stdout.write(opts.help + '\n'); return 0 }
  mkdirSync(opts.work, { recursive: true })
  const probe = detectRssProbe(opts.rss)
  const driver = makeDriver(opts.driver, join(opts.work, 'homes'))
  const ctx = { ...opts, probe, driver, log }
  const machine = machineFacts(opts.work)
  log(`ferry bench: ${opts.suites.join(', ')}; ${opts.rounds} rounds${opts.quick ? ', quick' : ''}${opts.pin ? ', pinned (servers CPU 0, clients CPU 1)' : ''}; work dir ${opts.work}`)
  log(`machine: ${machine.cpu}, ${machine.cores} cores, ${(machine.ramBytes / 2 ** 30).toFixed(0)} GiB RAM, ${machine.kernel}, node ${machine.node}`)
  log(`peak RSS: ${describeProbe(probe)}`)

  const results = {
    schema: 1,
    machine,
    options: { suites: opts.suites, rounds: opts.rounds, quick: opts.quick, settleMaxS: opts.settle, pin: opts.pin, driver: opts.driver, rssProbe: describeProbe(probe) },
    suites: {}
  }
  const out = opts.out ?? join(REPO, 'bench', 'results', 'latest.json')
  const save = () => {
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, JSON.stringify(results, null, 2) + '\n')
  }
  for (const suite of SUITES.filter((s) => opts.suites.includes(s.name))) {
    log(`\n== suite ${suite.name}: ${suite.description}`)
    const result = await suite.run(ctx)
    results.suites[suite.name] = result
    save() // keep what is done if a later suite fails
    process.stdout.write(`\n${suite.report(result, ctx)}`)
  }
  results.finished = new Date().toISOString()
  save()
  process.stdout.write(`\nmachine: ${machine.cpu} (${machine.cpuFlags.join(' ')}), ${machine.cores} cores, ${(machine.ramBytes / 2 ** 30).toFixed(1)} GiB, ` +
    `${machine.kernel}, node ${machine.node}, ${machine.openssl}, ${machine.coreutils}; ${machine.date}\n`)
  process.stdout.write(`raw results: ${out}\n`)
  return 0
}

main().then((code) => { process.exitCode = code }, (err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
})
