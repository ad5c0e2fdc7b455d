/**
 * Suite `wan`: `ferry pull` against `rsync -a` over ssh across an emulated WAN link (test/support/wan: network
 * namespaces joined by a userspace relay between TUN devices, with a rate, a delay and random loss), same
 * data, side by side. Root only (namespaces, TUN devices); needs iproute2, cc, iperf3, rsync, openssh-server.
 *
 * 1. One link per setting (1 Gbit/s; RTT 20 and 60 ms; loss 0 and 0.1% each way): host `src` serves the
 *    datasets (a throwaway sshd and `ferry daemon` listening on its link address), host `dst` copies them.
 *    First an iperf3 run of the same link (one TCP stream, src to dst, with the congestion control every
 *    run uses: --cc, default cubic), then per dataset N rounds (default 3; 2 with --quick) of `ferry pull --from <src daemon>` and
 *    `rsync -a -e ssh src:<dataset>/ <dest>/`, each first every other round (A B, B A, ...), fresh
 *    destinations and a fresh home B every round.
 * 2. Two sources: hosts `s1` and `s2`, each behind its own 500 Mbit/s link (20 ms, 0% loss) to `dst`, each
 *    with a daemon serving the same scan; `ferry pull --from s1 --from s2` against `--from s1` alone,
 *    alternating the same way.
 *
 * Wall time is around the client process (run with `ip netns exec dst`), CPU is the client's and the server's
 * (the ferry daemon; sshd with its sessions), as in the `pull` suite. Every copy is checked (files, bytes) and
 * bounded by `timeout`. The link emulator's own figures: node test/support/wan/check.js.
 */
import { rmSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { optionGiven } from '../lib/args.js'
import { settle } from '../lib/cpu.js'
import { ensureDataset, listFiles, residentFraction, warm } from '../lib/datasets.js'
import { FERRY } from '../lib/ferry.js'
import { addScan, initHome, startDaemon, trust, untrust } from '../lib/ferry-node.js'
import { capture, measure } from '../lib/proc.js'
import { startSshd } from '../lib/sshd.js'
import { fixed, humanBytes, mbps, median, round } from '../lib/stats.js'
import { table } from '../lib/table.js'
import { iperf3 } from '../../test/support/wan/iperf.js'
import { createWan, unsupportedReason } from '../../test/support/wan/link.js'
import { DATASETS, QUICK_DATASETS, ferryBuild } from './pull.js'

export const LINKS = [
  { rateBps: 1e9, rttMs: 20, loss: 0 },
  { rateBps: 1e9, rttMs: 20, loss: 0.001 },
  { rateBps: 1e9, rttMs: 60, loss: 0 },
  { rateBps: 1e9, rttMs: 60, loss: 0.001 }
]
export const TWO_SOURCES_LINK = { rateBps: 5e8, rttMs: 20, loss: 0 }
export const MTU = 65000
export const GOALS = [
  { rttMs: 60, loss: 0.001, speedup: 3, what: 'ferry pull >= 3x rsync at 60 ms, 0.1% loss' },
  { rttMs: 20, loss: 0, speedup: 1.5, what: 'ferry pull >= 1.5x rsync at 20 ms, 0% loss' }
]
export const TWO_SOURCES_GOAL = 1.8
const RUN_TIMEOUT_S = 1800

const linkLabel = (l) => `${l.rateBps / 1e6} Mbit/s, RTT ${l.rttMs} ms, loss ${l.loss * 100}%`
const order = (r, a, b) => (r % 2 === 0 ? [a, b] : [b, a])

/** A timed client run inside host `host` of `wan`, bounded; throws when it fails or leaves a wrong copy. */
async function timed (wan, host, cmd, args, dataset, dest, ctx) {
  if ((residentFraction(dataset) ?? 1) < 0.99) warm(dataset) // the source is read from the page cache
  await settle({ maxS: ctx.settle })
  const m = await measure(...wan.wrap(host, 'timeout', ['--kill-after=5', String(RUN_TIMEOUT_S), cmd, ...args]), { probe: ctx.probe })
  if (m.code !== 0) throw new Error(`${cmd} ${args.slice(0, 2).join(' ')} exited ${m.code}:\n${(m.stderr || m.stdout).slice(-2000)}`)
  const got = listFiles(dest)
  if (got.files.length !== dataset.files.length || got.bytes !== dataset.bytes) {
    throw new Error(`${cmd} left ${got.files.length} files / ${got.bytes} bytes in ${dest}, expected ${dataset.files.length} / ${dataset.bytes}`)
  }
  return m
}

/**
 * Checks ferry pull's JSON: complete, every byte fetched (at least: with several sources a block may come
 * twice, when a slow request is asked of another peer too; the extra is reported).
 */
function checkPull (m, dataset, { several = false } = {}) {
  const out = JSON.parse(m.stdout)
  if (out.complete !== true || out.bytesFetched < dataset.bytes || (!several && out.bytesFetched !== dataset.bytes)) {
    throw new Error(`ferry pull: complete ${out.complete}, bytesFetched ${out.bytesFetched} of ${dataset.bytes}`)
  }
  return out
}

/** `--connections N` for ferry pull when the bench was given one, else nothing (ferry's default). */
function connectionsArgs (ctx) {
  return ctx.connections != null ? ['--connections', String(ctx.connections)] : []
}

/** One round's copy with `tool` ('ferry' | 'rsync'); returns { wallS, clientCpuS, serverCpuS }. */
async function copyOnce (tool, d, env, home, dest, ctx) {
  const server = tool === 'ferry' ? () => env.daemon.cpuSeconds() : () => env.sshd.cpuSeconds()
  const s0 = await server()
  let m
  if (tool === 'ferry') {
    m = await timed(env.wan, 'dst', FERRY, ['pull', d.scan.root, dest, '--from', env.daemon.addr, ...connectionsArgs(ctx), '--json', '--home', home], d.dataset, dest, ctx)
    checkPull(m, d.dataset)
  } else {
    m = await timed(env.wan, 'dst', 'rsync', ['-a', '-e', env.sshd.rsh, `${env.sshd.host}:${d.dataset.dir}/`, `${dest}/`], d.dataset, dest, ctx)
  }
  return { wallS: round(m.wallS), clientCpuS: round(m.userS + m.sysS), serverCpuS: round((await server()) - s0), othersCores: round(m.othersCores) }
}

/** N alternating rounds of ferry and rsync for one dataset over the current link. */
async function compareOnLink (name, env, ctx) {
  const d = env.datasets[name]
  const runs = { ferry: [], rsync: [] }
  for (let r = 0; r < env.rounds; r++) {
    const home = join(env.dir, `home-B-${name}-${r}`)
    const id = initHome(home)
    trust(env.homeA, id)
    const dests = { ferry: join(env.dir, 'dest-ferry'), rsync: join(env.dir, 'dest-rsync') }
    try {
      for (const tool of order(r, 'ferry', 'rsync')) {
        rmSync(dests[tool], { recursive: true, force: true })
        const run = await copyOnce(tool, d, env, home, dests[tool], ctx)
        runs[tool].push(run)
        ctx.log(`[wan] ${env.label}  ${name} round ${r + 1}/${env.rounds} ${tool.padEnd(5)} ${fixed(run.wallS, 2)} s  ${fixed(mbps(d.dataset.bytes, run.wallS), 1)} MB/s  CPU client ${fixed(run.clientCpuS, 1)} s server ${fixed(run.serverCpuS, 1)} s`)
        rmSync(dests[tool], { recursive: true, force: true })
        capture('sync', [])
      }
    } finally {
      untrust(env.homeA, id)
      rmSync(home, { recursive: true, force: true })
    }
  }
  return { dataset: name, bytes: d.dataset.bytes, ferry: summarise(runs.ferry, d.dataset.bytes), rsync: summarise(runs.rsync, d.dataset.bytes), ratio: ratio(runs.ferry, runs.rsync) }
}

function summarise (runs, bytes) {
  const s = median(runs.map((r) => r.wallS))
  return {
    medianS: round(s),
    mbps: round(mbps(bytes, s)),
    clientCpuS: round(median(runs.map((r) => r.clientCpuS))),
    serverCpuS: round(median(runs.map((r) => r.serverCpuS))),
    runs
  }
}

/** Median over rounds of b's wall time / a's: a's speed over b's. */
function ratio (a, b) {
  const per = a.map((x, i) => b[i].wallS / x.wallS)
  return { median: round(median(per)), perRound: per.map((x) => round(x)) }
}

/** Builds the two-host WAN for `link`, starts sshd and the daemon in `src`, compares every dataset. */
async function linkCase (link, env, ctx) {
  env.label = `${link.rttMs} ms/${link.loss * 100}%`
  ctx.log(`\n[wan] link ${linkLabel(link)}`)
  const wan = await createWan({ hosts: ['dst', 'src'], links: [{ a: 'dst', b: 'src', mtu: MTU, ...link }], maxSeconds: RUN_TIMEOUT_S * 4, cc: ctx.cc })
  env.wan = wan
  const srcAddr = wan.addr('src', 0)
  const result = { link, compare: [] }
  try {
    result.iperf3 = await iperf3(wan, { client: 'src', server: 'dst', seconds: ctx.quick ? 4 : 8 })
    ctx.log(`[wan] iperf3 src -> dst: ${fixed(result.iperf3.mbps, 1)} MB/s, ${result.iperf3.retransmits} retransmits (${result.iperf3.cc})`)
    const src = (c, a) => wan.wrap('src', c, a)
    env.sshd = await startSshd(join(env.dir, 'sshd'), { log: ctx.log, listen: srcAddr, serverWrap: src, clientWrap: (c, a) => wan.wrap('dst', c, a) })
    env.daemon = await startDaemon(env.homeA, { log: ctx.log, listen: srcAddr, wrap: src })
    result.sshSessionS = round(env.sshd.connectS)
    result.sshCipher = env.sshd.cipher
    for (const name of Object.keys(env.datasets)) result.compare.push(await compareOnLink(name, env, ctx))
  } finally {
    if (env.daemon != null) await env.daemon.stop()
    if (env.sshd != null) await env.sshd.stop()
    env.daemon = env.sshd = null
    result.relay = await wan.stop()
  }
  return result
}

/** Two sources behind their own links, `--from` both against `--from` one. */
async function twoSources (env, ctx) {
  const link = TWO_SOURCES_LINK
  ctx.log(`\n[wan] two sources, each ${linkLabel(link)}`)
  const wan = await createWan({ hosts: ['dst', 's1', 's2'], links: [{ a: 'dst', b: 's1', mtu: MTU, ...link, seed: 1 }, { a: 'dst', b: 's2', mtu: MTU, ...link, seed: 2 }], maxSeconds: RUN_TIMEOUT_S * 4, cc: ctx.cc })
  const homeC = join(env.dir, 'home-C')
  const daemons = []
  const result = { link, compare: [] }
  try {
    result.iperf3 = await iperf3(wan, { client: 's1', server: 'dst', link: 0, seconds: ctx.quick ? 4 : 8 })
    initHome(homeC)
    for (const d of Object.values(env.datasets)) addScan(homeC, d.dataset.dir)
    for (const [i, [host, home]] of [['s1', env.homeA], ['s2', homeC]].entries()) {
      daemons.push(await startDaemon(home, { log: ctx.log, listen: wan.addr(host, i), wrap: (c, a) => wan.wrap(host, c, a) }))
    }
    for (const name of Object.keys(env.datasets)) result.compare.push(await twoSourcesRounds(name, wan, daemons, [env.homeA, homeC], env, ctx))
  } finally {
    for (const dm of daemons) await dm.stop()
    result.relay = await wan.stop()
    rmSync(homeC, { recursive: true, force: true })
  }
  return result
}

async function twoSourcesRounds (name, wan, daemons, homes, env, ctx) {
  const d = env.datasets[name]
  const runs = { two: [], one: [] }
  const from = { two: daemons.flatMap((dm) => ['--from', dm.addr]), one: ['--from', daemons[0].addr] }
  for (let r = 0; r < env.rounds; r++) {
    for (const mode of order(r, 'two', 'one')) {
      const home = join(env.dir, `home-B-2src-${mode}`)
      const id = initHome(home)
      for (const h of homes) trust(h, id)
      const dest = join(env.dir, 'dest-2src')
      rmSync(dest, { recursive: true, force: true })
      try {
        const s0 = daemons.map((dm) => dm.cpuSeconds())
        const m = await timed(wan, 'dst', FERRY, ['pull', d.scan.root, dest, ...from[mode], ...connectionsArgs(ctx), '--json', '--home', home], d.dataset, dest, ctx)
        const out = checkPull(m, d.dataset, { several: mode === 'two' })
        const run = { wallS: round(m.wallS), clientCpuS: round(m.userS + m.sysS), serverCpuS: round(daemons.reduce((t, dm, i) => t + dm.cpuSeconds() - s0[i], 0)), extraBytes: out.bytesFetched - d.dataset.bytes }
        runs[mode].push(run)
        ctx.log(`[wan] two sources ${name} round ${r + 1}/${env.rounds} --from ${mode === 'two' ? 'both' : 'one '} ${fixed(run.wallS, 2)} s  ${fixed(mbps(d.dataset.bytes, run.wallS), 1)} MB/s  CPU client ${fixed(run.clientCpuS, 1)} s servers ${fixed(run.serverCpuS, 1)} s${run.extraBytes > 0 ? `  fetched ${run.extraBytes} bytes twice` : ''}`)
      } finally {
        for (const h of homes) untrust(h, id)
        rmSync(home, { recursive: true, force: true })
        rmSync(dest, { recursive: true, force: true })
        capture('sync', [])
      }
    }
  }
  const extra = runs.two.map((r) => r.extraBytes)
  return { dataset: name, bytes: d.dataset.bytes, two: summarise(runs.two, d.dataset.bytes), one: summarise(runs.one, d.dataset.bytes), ratio: ratio(runs.two, runs.one), maxExtraBytes: Math.max(...extra) }
}

/** LINKS, or those named by --links ('60/0.1,20/0': RTT ms / loss %; 'none': none). */
function selectLinks (spec) {
  if (spec == null) return LINKS
  if (spec === 'none') return []
  return spec.split(',').map((p) => {
    const [rtt, loss] = p.split('/').map(Number)
    const l = LINKS.find((x) => x.rttMs === rtt && Math.abs(x.loss * 100 - loss) < 1e-9)
    if (l == null) throw new Error(`--links: no link ${p} (have ${LINKS.map((x) => `${x.rttMs}/${x.loss * 100}`).join(', ')})`)
    return l
  })
}

/**
 * The datasets of this run: `--datasets` names, else the issue's large-file sets (L2 and S; L2q and S200 with
 * --quick). The many-files sets of the pull suite are judged on loopback, not here.
 */
function wanDatasets (ctx) {
  const all = { ...DATASETS, ...QUICK_DATASETS }
  if (ctx.datasets == null) return Object.fromEntries(Object.entries(ctx.quick ? QUICK_DATASETS : DATASETS).filter(([, d]) => d.manyFiles !== true))
  for (const d of ctx.datasets) if (all[d] == null) throw new Error(`unknown dataset ${d} (known: ${Object.keys(all).join(', ')})`)
  return Object.fromEntries(ctx.datasets.map((d) => [d, all[d]]))
}

async function run (ctx) {
  const why = unsupportedReason()
  if (why != null) throw new Error(`the wan suite ${why}`)
  const defs = wanDatasets(ctx)
  const rounds = optionGiven(process.argv.slice(2), 'rounds') ? ctx.rounds : ctx.quick ? 2 : 3
  const dir = join(ctx.work, 'wan')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const env = { dir, rounds, homeA: join(dir, 'home-A'), datasets: {} }
  const result = { rounds, mtu: MTU, cc: ctx.cc, connections: ctx.connections ?? 'default', ferry: ferryBuild(), tools: { rsync: capture('rsync', ['--version']).split('\n')[0], iperf3: capture('iperf3', ['--version']).split('\n')[0] }, links: [] }
  const started = performance.now()
  initHome(env.homeA)
  try {
    for (const [name, def] of Object.entries(defs)) {
      const dataset = ensureDataset(ctx.work, name, def.spec, ctx.log)
      env.datasets[name] = { dataset, label: def.label, scan: addScan(env.homeA, dataset.dir) }
      warm(dataset)
    }
    result.datasets = Object.fromEntries(Object.entries(env.datasets).map(([n, d]) => [n, { label: d.label, files: d.dataset.files.length, bytes: d.dataset.bytes }]))
    for (const link of selectLinks(ctx.links)) result.links.push(await linkCase(link, env, ctx))
    if (ctx.twoSources !== false) result.twoSources = await twoSources(env, ctx)
  } finally {
    rmSync(env.homeA, { recursive: true, force: true })
  }
  result.wallS = round((performance.now() - started) / 1000)
  result.verdicts = verdicts(result)
  return result
}

function verdicts (result) {
  const v = []
  for (const g of GOALS) {
    const l = result.links.find((x) => x.link.rttMs === g.rttMs && x.link.loss === g.loss)
    for (const c of l?.compare ?? []) v.push({ goal: `${c.dataset}: ${g.what}`, value: `${fixed(c.ratio.median, 2)}x (${fixed(c.ferry.mbps, 1)} vs ${fixed(c.rsync.mbps, 1)} MB/s)`, pass: c.ratio.median >= g.speedup })
  }
  for (const c of result.twoSources?.compare ?? []) {
    v.push({ goal: `${c.dataset}: two sources >= ${TWO_SOURCES_GOAL}x one`, value: `${fixed(c.ratio.median, 2)}x (${fixed(c.two.mbps, 1)} vs ${fixed(c.one.mbps, 1)} MB/s)`, pass: c.ratio.median >= TWO_SOURCES_GOAL })
  }
  return v
}

function report (result) {
  const rows = []
  for (const l of result.links) {
    for (const c of l.compare) {
      rows.push([`${l.link.rttMs} ms`, `${l.link.loss * 100}%`, fixed(l.iperf3?.mbps, 1), `${c.dataset}  ${result.datasets[c.dataset].label}`,
        fixed(c.ferry.mbps, 1), fixed(c.rsync.mbps, 1), `${fixed(c.ratio.median, 2)}x`,
        `${fixed(c.ferry.clientCpuS, 1)} / ${fixed(c.ferry.serverCpuS, 1)}`, `${fixed(c.rsync.clientCpuS, 1)} / ${fixed(c.rsync.serverCpuS, 1)}`])
    }
  }
  let out = result.links.length === 0
    ? ''
    : table(`wan: full copy across an emulated ${result.links[0]?.link.rateBps / 1e6} Mbit/s link (MTU ${result.mtu}, ${result.cc}), ${result.rounds} rounds, medians (MB = 10^6 bytes)`,
      ['RTT', 'loss', 'iperf3 MB/s', 'dataset', 'ferry MB/s', 'rsync MB/s', 'ferry / rsync', 'ferry CPU s client / server', 'rsync CPU s client / server'], rows, { right: [2, 4, 5, 6, 7, 8] })
  const t = result.twoSources
  if (t != null) {
    out += '\n' + table(`wan: two sources, each behind its own ${linkLabel(t.link)} link (iperf3 of one: ${fixed(t.iperf3?.mbps, 1)} MB/s)`,
      ['dataset', '--from both MB/s', '--from one MB/s', 'both / one', 'both CPU s client / servers', 'one CPU s client / server', 'fetched twice (max)'],
      t.compare.map((c) => [`${c.dataset}  ${result.datasets[c.dataset].label}`, fixed(c.two.mbps, 1), fixed(c.one.mbps, 1), `${fixed(c.ratio.median, 2)}x`,
        `${fixed(c.two.clientCpuS, 1)} / ${fixed(c.two.serverCpuS, 1)}`, `${fixed(c.one.clientCpuS, 1)} / ${fixed(c.one.serverCpuS, 1)}`, humanBytes(c.maxExtraBytes)]), { right: [1, 2, 3, 4, 5, 6] })
  }
  out += `\nferry ${result.ferry.commit} (--connections ${result.connections ?? 'default'}); ${result.tools.rsync}; ${result.tools.iperf3}; suite took ${fixed(result.wallS / 60, 1)} min\n`
  out += '\ngoals:\n' + result.verdicts.map((v) => `  ${v.pass ? 'MET ' : 'MISS'}  ${v.goal}: ${v.value}`).join('\n') + '\n'
  return out
}

export default {
  name: 'wan',
  description: 'ferry pull vs rsync -a over ssh across an emulated WAN link (1 Gbit/s, 20/60 ms, 0/0.1% loss), and two sources vs one',
  run,
  report
}
