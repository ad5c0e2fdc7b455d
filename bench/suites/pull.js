/**
 * Suite `pull`: Ferry replication against `rsync -a` over ssh, on loopback, same data, side by side.
 *
 * Setup (once per run): a throwaway sshd on a free loopback port (bench/lib/sshd.js), home A with the
 * datasets added (`ferry add`) and `ferry daemon --home A --listen /ip4/127.0.0.1/tcp/0` serving them for the
 * whole run. Both copies read the same dataset files, warm in the page cache, and write to the same disk.
 *
 * 1. Full copy, per dataset, N rounds (default 3; 1 with --quick). Each round: a fresh home B (trusted by A),
 *    then `ferry pull <root> <dest> --from <daemon> --json --home B` and `rsync -a -e ssh host:<dataset>/
 *    <dest>/` into fresh destinations, each first every other round. Ferry's JSON must say complete with
 *    bytesFetched = bytes; both destinations must hold the dataset's files and bytes.
 * 2. No-op: right after each full copy, the same command again into the now complete destination (Ferry
 *    with the same home B). Ferry must fetch nothing. Then that destination is removed (and `sync`) before
 *    the other tool runs, so that neither runs with the other's copy in the page cache; home B is removed
 *    after each round; `sync` runs after every copy (outside the timing), so no run pays for the previous
 *    one's write-back.
 * 3. kill -9 at ~50%, once per dataset: a pull into a fresh destination with a fresh home B is killed with
 *    SIGKILL when the bytes allocated under the destination (`.ferry-partial/` included) reach half the
 *    dataset; then the same command again. Reported: the second run's bytesFetched against the bytes that
 *    were missing at the kill (dataset bytes less those in placed files and in staged blocks).
 *
 * 4. The transport's ceiling: a bare libp2p stream between two Ferry nodes (Noise + yamux with Ferry's
 *    settings, 1 MiB messages, no disk, no hashing, no exchange protocol), N rounds of 1 GiB through
 *    bench/tools/bench-throughput.js. Nothing built on that stack can beat it on this machine, so it
 *    says how much of the rsync goal is reachable at all. Beside it, the same stream with the least a
 *    verified receiver must add (SHA-256 of each 1 MiB leaf, each leaf written to a file with one writev):
 *    the floor under any verified pull on this stack, with no exchange protocol, catalog or staging.
 *
 * With --pin, the servers (the ferry daemon; sshd, its sessions and rsync's server side) run on CPU 0 and the
 * clients (ferry pull; rsync and ssh) on CPU 1, like two one-core machines: neither side can borrow the other's
 * core, as it can on one shared 2-core machine. The transport's ceiling is then pinned the same way.
 *
 * Timing is wall time around the client process (`ferry pull`: Node start-up, dial, plan and all; `rsync`:
 * with its ssh connection). CPU is the client's (rsync and ssh; ferry pull) and the server's (the ferry
 * daemon; sshd with its session and rsync server), from /proc. `others` is what the rest of the machine
 * used meanwhile, both sides left out.
 */
import { spawn } from 'node:child_process'
import { lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { optionGiven } from '../lib/args.js'
import { CORES, onCpu, settle } from '../lib/cpu.js'
import { ensureDataset, listFiles, residentFraction, warm } from '../lib/datasets.js'
import { FERRY, REPO } from '../lib/ferry.js'
import { addScan, initHome, startDaemon, trust, untrust } from '../lib/ferry-node.js'
import { capture, measure } from '../lib/proc.js'
import { startSshd } from '../lib/sshd.js'
import { GiB, KiB, MB, MiB, fixed, humanBytes, mbps, median, round, summariseTimedRuns } from '../lib/stats.js'
import { table } from '../lib/table.js'
import { QUIET_CORES, SCALE_DATASETS, THROUGHPUT_DATASETS } from './import.js'

/** With --pin: the CPUs of the server side and of the client side. */
const SERVER_CPU = 0
const CLIENT_CPU = 1

/** Many small files (issue 12): judged against the many-files goals, not the speed-up of large files. */
const MANY = { manyFiles: true }
export const DATASETS = {
  S: { label: '2,000 x 1 MiB in 20 dirs', spec: THROUGHPUT_DATASETS.S.spec }, // the import suite's S, shared
  L2: { label: '2 x 1 GiB', spec: { kind: 'random-files', files: 2, size: GiB, dirs: 0 } },
  T200k: { label: '200,000 x 0-4 KiB in 400 dirs', spec: SCALE_DATASETS.tree200k.spec, ...MANY } // the import suite's tree, shared
}
export const QUICK_DATASETS = {
  S200: { label: '200 x 1 MiB in 20 dirs', spec: { kind: 'random-files', files: 200, size: MiB, dirs: 20 } },
  L2q: { label: '2 x 128 MiB', spec: { kind: 'random-files', files: 2, size: 128 * MiB, dirs: 0 } },
  T20k: { label: '20,000 x 0-4 KiB in 40 dirs', spec: { kind: 'small-tree', files: 20_000, dirs: 40, maxSize: 4 * KiB }, ...MANY }
}
/** Only with `--datasets M1m`: 10^6 files (about an hour of rsync and ferry on the machine below). */
export const HUGE_DATASETS = {
  M1m: { label: '1,000,000 x 0-1 KiB in 2,000 dirs', spec: { kind: 'small-tree', files: 1_000_000, dirs: 2000, maxSize: KiB }, ...MANY }
}
export const GOALS = {
  // full copy, loopback, warm source cache: at least rsync's speed, pinned and unpinned (issue 15 replaced the
  // earlier 1.5x, shown out of reach on one shared 2-core machine)
  speedupVsRsync: 1.0,
  // many small files: a full copy in at most rsync's time, a no-op in at most twice rsync's, under 300 MB
  manyFilesFullTimeVsRsync: 1.0,
  manyFilesNoopTimeVsRsync: 2.0,
  manyFilesMaxRssBytes: 300 * 1e6
}

/** The datasets of this run: `--datasets` names (from any table), else the quick or the full set. */
function datasetsOf (ctx) {
  if (ctx.datasets == null) return ctx.quick ? QUICK_DATASETS : DATASETS
  const all = { ...DATASETS, ...QUICK_DATASETS, ...HUGE_DATASETS }
  for (const d of ctx.datasets) if (all[d] == null) throw new Error(`unknown dataset ${d} (known: ${Object.keys(all).join(', ')})`)
  return Object.fromEntries(ctx.datasets.map((d) => [d, all[d]]))
}
const DEFAULT_ROUNDS = 3
const QUICK_ROUNDS = 1
/** Kill the interrupted pull when this fraction of the dataset's bytes is allocated under its destination. */
const KILL_AT = 0.5
const POLL_MS = 25
const MIN_RESIDENT = 0.99
const STAGING_DIR = '.ferry-partial'
const TOOLS = ['ferry', 'rsync']

function roundOrder (r) {
  return r % 2 === 0 ? ['ferry', 'rsync'] : ['rsync', 'ferry']
}

/**
 * The Ferry build measured: HEAD, whether packages/ differs from it, when dist was last built, and whether the
 * bundle the launcher runs is older than dist (`tsc -b` without `npm run build`).
 */
export function ferryBuild () {
  const head = capture('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'])
  const changes = capture('git', ['-C', REPO, 'status', '--porcelain', 'packages']).split('\n').filter((l) => l !== '')
  const newest = (sub) => {
    let t = 0
    const walk = (abs) => {
      let names
      try { names = readdirSync(abs) } catch { return }
      for (const n of names) {
        if (n === 'node_modules') continue
        const p = join(abs, n)
        const st = lstatSync(p)
        if (st.isDirectory()) walk(p)
        else if (st.mtimeMs > t) t = st.mtimeMs
      }
    }
    for (const pkg of readdirSync(join(REPO, 'packages'))) walk(join(REPO, 'packages', pkg, sub))
    return t
  }
  const dist = newest('dist')
  const src = newest('src')
  const bundle = newest('bundle')
  return {
    commit: `${head}${changes.length > 0 ? ' with uncommitted changes' : ''}`,
    head,
    changes,
    distBuiltAt: dist > 0 ? new Date(dist).toISOString() : null,
    srcNewerThanDist: src > dist,
    bundleOlderThanDist: bundle < dist
  }
}

/** Allocated bytes of the regular files under `dir` (each inode once); 0 while it does not exist. */
function allocatedUnder (dir) {
  let total = 0
  const seen = new Set()
  const walk = (abs) => {
    let names
    try { names = readdirSync(abs) } catch { return }
    for (const n of names) {
      const p = join(abs, n)
      let st
      try { st = lstatSync(p) } catch { continue } // renamed or removed meanwhile
      if (st.isDirectory()) walk(p)
      else if (st.isFile() && !seen.has(st.ino)) { seen.add(st.ino); total += st.blocks * 512 }
    }
  }
  walk(dir)
  return total
}

/**
 * What an interrupted pull left in `dest`: files under their final names (by size) and staged files in
 * `.ferry-partial/` (by allocated bytes: their blocks are written in place, the rest are holes).
 */
function destState (dest) {
  const seen = new Set()
  const placed = { files: 0, bytes: 0 }
  const staged = { files: 0, bytes: 0 }
  const walk = (abs, inStaging) => {
    let names
    try { names = readdirSync(abs) } catch { return }
    for (const n of names) {
      const p = join(abs, n)
      const st = lstatSync(p)
      if (st.isDirectory()) walk(p, inStaging || (abs === dest && n === STAGING_DIR))
      else if (st.isFile() && !seen.has(st.ino)) {
        seen.add(st.ino)
        if (inStaging) { staged.files++; staged.bytes += Math.min(st.blocks * 512, st.size) } else { placed.files++; placed.bytes += st.size }
      }
    }
  }
  // placed files first, so a file linked under both names counts as placed
  for (const n of (() => { try { return readdirSync(dest) } catch { return [] } })()) {
    if (n === STAGING_DIR) continue
    const p = join(dest, n)
    const st = lstatSync(p)
    if (st.isDirectory()) walk(p, false)
    else if (st.isFile()) { seen.add(st.ino); placed.files++; placed.bytes += st.size }
  }
  walk(join(dest, STAGING_DIR), true)
  return { placed, staged, presentBytes: placed.bytes + staged.bytes }
}

function checkCopy (tool, dataset, dest) {
  const got = listFiles(dest)
  if (got.files.length !== dataset.files.length || got.bytes !== dataset.bytes) {
    throw new Error(`${tool} left ${got.files.length} files / ${got.bytes} bytes in ${dest}, expected ${dataset.files.length} / ${dataset.bytes}`)
  }
}

function rsyncArgs (env, dataset, dest) {
  return ['-a', '-e', env.sshd.rsh, `${env.sshd.host}:${dataset.dir}/`, `${dest}/`]
}

function pullArgs (env, scan, dest, home) {
  return ['pull', scan.root, dest, '--from', env.daemon.addr, '--json', '--home', home]
}

/** [cmd, args] for a client process: on CPU 1 with --pin (see above), else as is. */
function client (ctx, cmd, args) {
  return onCpu(ctx.pin ? CLIENT_CPU : null, cmd, args)
}

function ensureWarm (dataset, state) {
  const resident = residentFraction(dataset)
  if (resident == null) return
  state.minResident = Math.min(state.minResident ?? 1, resident)
  if (resident < MIN_RESIDENT) { warm(dataset); state.rewarms++ }
}

/**
 * One timed run of `tool` ('ferry' or 'rsync'), kind 'full' (fresh dest) or 'noop' (complete dest).
 * Returns the measurement, checked.
 */
async function runOnce (tool, kind, dataset, scan, dest, home, env, ctx) {
  const quiet = await settle({ maxS: ctx.settle })
  const serverCpu = () => tool === 'ferry' ? env.daemon.cpuSeconds() : env.sshd.cpuSeconds()
  const server0 = await serverCpu()
  const [cmd, args] = tool === 'ferry' ? [FERRY, pullArgs(env, scan, dest, home)] : ['rsync', rsyncArgs(env, dataset, dest)]
  const m = await measure(...client(ctx, cmd, args), { probe: ctx.probe })
  const serverS = (await serverCpu()) - server0
  if (m.code !== 0) throw new Error(`${tool} (${kind}) of ${dataset.name} exited ${m.code}:\n${(m.stderr || m.stdout).slice(-2000)}`)
  const run = {
    wallS: m.wallS,
    userS: m.userS,
    sysS: m.sysS,
    serverS,
    maxRssBytes: m.maxRssBytes,
    // the server's CPU is part of the copy, not of the neighbours'
    othersCores: Math.max(0, m.othersCores - serverS / m.wallS),
    settleWaitS: quiet.waitedS,
    busyCoresBefore: quiet.busyCores
  }
  if (tool === 'ferry') {
    const out = JSON.parse(m.stdout)
    const fetched = kind === 'full' ? dataset.bytes : 0
    if (out.complete !== true || out.bytes !== dataset.bytes || out.bytesFetched !== fetched) {
      throw new Error(`ferry pull (${kind}) of ${dataset.name}: complete ${out.complete}, bytes ${out.bytes}, bytesFetched ${out.bytesFetched}; expected complete, ${dataset.bytes}, ${fetched}` +
        (out.problems?.length > 0 ? `; problems: ${JSON.stringify(out.problems.slice(0, 3))}` : ''))
    }
    Object.assign(run, { ferrySeconds: out.seconds, planSeconds: out.planSeconds, bytesFetched: out.bytesFetched, bytesPresent: out.bytesPresent, bytesLocal: out.bytesLocal })
  }
  checkCopy(tool, dataset, dest)
  return run
}

function summariseRuns (runs, bytes) {
  return {
    ...summariseTimedRuns(runs, bytes),
    medianClientCpuS: round(median(runs.map((r) => r.userS + r.sysS))),
    medianServerCpuS: round(median(runs.map((r) => r.serverS))),
    medianPlanS: runs[0].planSeconds == null ? undefined : round(median(runs.map((r) => r.planSeconds)))
  }
}

/** Ferry's speed over rsync's, round by round (rsync's time / ferry's), over all rounds and the quiet ones. */
function speedRatio (runs) {
  const perRound = runs.ferry.map((f, i) => runs.rsync[i].wallS / f.wallS)
  const quiet = runs.ferry.map((f, i) => Math.max(f.othersCores, runs.rsync[i].othersCores) < QUIET_CORES)
  return {
    median: round(median(perRound)),
    perRound: perRound.map((x) => round(x)),
    quietRounds: quiet.filter(Boolean).length,
    quietMedian: round(median(perRound.filter((_, i) => quiet[i])))
  }
}

async function compare (name, def, env, ctx) {
  const { log } = ctx
  const { dataset, scan } = env.datasets[name]
  const rounds = env.rounds
  const cache = { minResident: null, rewarms: 0 }
  const full = { ferry: [], rsync: [] }
  const noop = { ferry: [], rsync: [] }
  const line = (kind, r, tool, run) => log(`[pull] ${name} ${kind.padEnd(4)} round ${r + 1}/${rounds} ${tool.padEnd(5)} ${run.wallS.toFixed(2)} s` +
    (kind === 'full' ? `  ${fixed(mbps(dataset.bytes, run.wallS), 0)} MB/s` : '') +
    `  CPU client ${fixed(run.userS + run.sysS, 1)} s server ${fixed(run.serverS, 1)} s  others ${fixed(run.othersCores, 2)} cores`)
  for (let r = 0; r < rounds; r++) {
    const home = join(env.dir, `home-B-${name}-${r}`)
    const id = initHome(home)
    trust(env.homeA, id)
    const dests = { ferry: join(env.dir, `dest-ferry-${name}`), rsync: join(env.dir, `dest-rsync-${name}`) }
    for (const d of Object.values(dests)) rmSync(d, { recursive: true, force: true })
    capture('sync', [])
    try {
      // each tool's full copy and no-op, then its destination removed before the other tool runs: the second
      // tool of a round paid 3-6 s more system time when the first one's 2 GB were still in the page cache
      // (docs/benchmarks.md, "Pinned pull on a quiet machine, after session 6's merges")
      for (const tool of roundOrder(r)) {
        ensureWarm(dataset, cache)
        const run = await runOnce(tool, 'full', dataset, scan, dests[tool], home, env, ctx)
        full[tool].push({ round: r, ...run })
        line('full', r, tool, run)
        capture('sync', []) // the no-op does not pay for this copy's write-back
        const again = await runOnce(tool, 'noop', dataset, scan, dests[tool], home, env, ctx)
        noop[tool].push({ round: r, ...again })
        line('noop', r, tool, again)
        rmSync(dests[tool], { recursive: true, force: true })
        capture('sync', [])
      }
    } finally {
      for (const d of Object.values(dests)) rmSync(d, { recursive: true, force: true })
      untrust(env.homeA, id)
      rmSync(home, { recursive: true, force: true })
    }
  }
  return {
    dataset: name,
    label: def.label,
    manyFiles: def.manyFiles === true,
    files: dataset.files.length,
    bytes: dataset.bytes,
    cache: { minResidentBeforeRun: cache.minResident == null ? null : round(cache.minResident), rewarms: cache.rewarms },
    full: Object.fromEntries(TOOLS.map((t) => [t, summariseRuns(full[t], dataset.bytes)])),
    fullFerrySpeedOverRsync: speedRatio(full),
    noop: Object.fromEntries(TOOLS.map((t) => [t, summariseRuns(noop[t], dataset.bytes)])),
    noopFerrySpeedOverRsync: speedRatio(noop)
  }
}

/** kill -9 a pull at ~50% on disk, then run the same command again. */
async function killAndResume (name, env, ctx) {
  const { log } = ctx
  const { dataset, scan } = env.datasets[name]
  const home = join(env.dir, `home-B-${name}-kill`)
  const dest = join(env.dir, `dest-kill-${name}`)
  const id = initHome(home)
  trust(env.homeA, id)
  rmSync(dest, { recursive: true, force: true })
  capture('sync', [])
  try {
    ensureWarm(dataset, { minResident: null, rewarms: 0 })
    await settle({ maxS: ctx.settle })
    const args = pullArgs(env, scan, dest, home)
    const started = performance.now()
    const child = spawn(...client(ctx, FERRY, args), { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (b) => { out += b.toString() })
    child.stderr.on('data', (b) => { err = (err + b.toString()).slice(-4000) })
    let exit = null
    const exited = new Promise((resolve) => child.on('close', (code, signal) => { exit = { code, signal }; resolve(exit) }))
    let kill = null
    while (exit == null) {
      const onDisk = allocatedUnder(dest)
      if (onDisk >= KILL_AT * dataset.bytes) {
        child.kill('SIGKILL')
        kill = { atS: (performance.now() - started) / 1000, allocatedBytes: onDisk }
        break
      }
      await sleep(POLL_MS)
    }
    await exited
    if (kill == null) {
      throw new Error(`ferry pull of ${name} ended (${exit.code ?? exit.signal}) before ${KILL_AT * 100}% was on disk: ${(err || out).slice(-1000)}`)
    }
    const state = destState(dest)
    const missingBytes = Math.max(0, dataset.bytes - state.presentBytes)
    log(`[pull] ${name} kill -9 after ${kill.atS.toFixed(1)} s with ${humanBytes(kill.allocatedBytes)} allocated: ${state.placed.files} files placed (${humanBytes(state.placed.bytes)}), ` +
      `${state.staged.files} staged (${humanBytes(state.staged.bytes)}); ${humanBytes(missingBytes)} missing`)
    const second = await resumeRun(dataset, scan, dest, home, env, ctx)
    log(`[pull] ${name} re-run ${second.wallS.toFixed(2)} s: fetched ${humanBytes(second.bytesFetched)} for ${humanBytes(missingBytes)} missing`)
    return {
      dataset: name,
      bytes: dataset.bytes,
      killAtS: round(kill.atS),
      allocatedAtKillBytes: kill.allocatedBytes,
      placedFiles: state.placed.files,
      placedBytes: state.placed.bytes,
      stagedFiles: state.staged.files,
      stagedBytes: state.staged.bytes,
      missingBytes,
      missingPct: round((100 * missingBytes) / dataset.bytes),
      rerun: {
        wallS: round(second.wallS),
        ferrySeconds: round(second.ferrySeconds),
        planSeconds: round(second.planSeconds),
        bytesFetched: second.bytesFetched,
        bytesPresent: second.bytesPresent,
        bytesLocal: second.bytesLocal,
        bytesResumed: second.bytesResumed ?? null,
        othersCores: round(second.othersCores)
      },
      fetchedPct: round((100 * second.bytesFetched) / dataset.bytes),
      fetchedOverMissing: round(second.bytesFetched / missingBytes),
      refetchedBytes: second.bytesFetched - missingBytes
    }
  } finally {
    rmSync(dest, { recursive: true, force: true })
    untrust(env.homeA, id)
    rmSync(home, { recursive: true, force: true })
  }
}

/**
 * The bare libp2p stream's throughput on this machine (see 4. above), and the same stream with each leaf
 * hashed and written (the verified receiver's floor), medians over `rounds` alternating runs.
 */
async function transportCeiling (rounds, ctx) {
  const script = join(REPO, 'bench', 'tools', 'bench-throughput.js')
  await settle({ maxS: ctx.settle })
  const out = await new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [script, '--only', 'bare-256K,bare-hash-write-256K', '--rounds', String(rounds), '--gib', '1', '--json', ...(ctx.pin ? ['--pin'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (b) => { stdout += b.toString() })
    p.stderr.on('data', (b) => { stderr = (stderr + b.toString()).slice(-4000) })
    p.on('close', (code) => code === 0 ? resolve(stdout) : reject(new Error(`bench-throughput exited ${code}: ${stderr}`)))
  })
  const all = JSON.parse(out.trim().split('\n').pop())
  const pick = (r) => ({ mbps: round(r.mbps), clientCpuSPerGB: round(r.clientCpuSPerGB), serverCpuSPerGB: round(r.serverCpuSPerGB), runs: r.runs.map((x) => round(x.mbps)) })
  const r = pick(all['bare-256K'])
  const floor = pick(all['bare-hash-write-256K'])
  ctx.log(`[pull] transport ceiling (bare libp2p stream): ${fixed(r.mbps, 0)} MB/s (runs ${r.runs.map((x) => fixed(x, 0)).join(' ')}); ` +
    `with SHA-256 and a write per leaf: ${fixed(floor.mbps, 0)} MB/s (runs ${floor.runs.map((x) => fixed(x, 0)).join(' ')})`)
  return { ...r, verified: floor }
}

/** The re-run after the kill: like runOnce, but any bytesFetched is accepted (it is what is measured). */
async function resumeRun (dataset, scan, dest, home, env, ctx) {
  const quiet = await settle({ maxS: ctx.settle })
  const server0 = env.daemon.cpuSeconds()
  const m = await measure(...client(ctx, FERRY, pullArgs(env, scan, dest, home)), { probe: ctx.probe })
  const serverS = env.daemon.cpuSeconds() - server0
  if (m.code !== 0) throw new Error(`ferry pull (re-run after kill -9) of ${dataset.name} exited ${m.code}:\n${(m.stderr || m.stdout).slice(-2000)}`)
  const out = JSON.parse(m.stdout)
  if (out.complete !== true || out.bytes !== dataset.bytes) throw new Error(`ferry pull re-run of ${dataset.name}: complete ${out.complete}, bytes ${out.bytes}`)
  checkCopy('ferry pull (re-run)', dataset, dest)
  return {
    wallS: m.wallS,
    serverS,
    othersCores: Math.max(0, m.othersCores - serverS / m.wallS),
    settleWaitS: quiet.waitedS,
    ferrySeconds: out.seconds,
    planSeconds: out.planSeconds,
    bytesFetched: out.bytesFetched,
    bytesPresent: out.bytesPresent,
    bytesLocal: out.bytesLocal,
    bytesResumed: out.bytesResumed // staged bytes re-verified and kept (newer builds report it)
  }
}

export default {
  name: 'pull',
  description: 'ferry pull vs rsync -a over ssh on loopback (full copy, no-op), and a pull resumed after kill -9',

  async run (ctx) {
    const { log } = ctx
    const defs = datasetsOf(ctx)
    const rounds = optionGiven(process.argv.slice(2), 'rounds') ? ctx.rounds : ctx.quick ? QUICK_ROUNDS : DEFAULT_ROUNDS
    const dir = join(ctx.work, 'pull')
    rmSync(join(dir, 'homes'), { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    const buildBefore = ferryBuild()
    log(`[pull] ${rounds} rounds; ferry ${buildBefore.commit}${buildBefore.srcNewerThanDist ? ' (sources newer than dist: not rebuilt)' : ''}${buildBefore.bundleOlderThanDist ? ' (bundle older than dist: run npm run build)' : ''}`)
    const started = performance.now()
    const env = { dir, rounds, homeA: join(dir, 'home-A'), datasets: {} }
    for (const [name, def] of Object.entries(defs)) {
      const dataset = ensureDataset(ctx.work, name, def.spec, log)
      env.datasets[name] = { dataset, scan: null }
    }
    const stopOnSignal = () => {
      // the sshd runs detached from this process group: stop it here, then leave
      try { if (env.sshd != null) process.kill(env.sshd.pid, 'SIGTERM') } catch {}
      try { if (env.daemon != null) process.kill(env.daemon.pid, 'SIGTERM') } catch {}
      process.exit(130)
    }
    process.once('SIGINT', stopOnSignal)
    process.once('SIGTERM', stopOnSignal)
    if (ctx.pin && CORES < 2) throw new Error('--pin needs at least 2 cores')
    const result = { goals: GOALS, rounds, pin: ctx.pin === true, ferry: buildBefore, tools: {}, setup: {}, compare: [], kill: [] }
    try {
      env.sshd = await startSshd(join(dir, 'sshd'), { log, cpu: ctx.pin ? SERVER_CPU : undefined })
      initHome(env.homeA)
      for (const [name, d] of Object.entries(env.datasets)) {
        const t = performance.now()
        d.scan = addScan(env.homeA, d.dataset.dir)
        if (d.scan.bytes !== d.dataset.bytes || d.scan.files !== d.dataset.files.length) {
          throw new Error(`ferry add of ${name}: ${d.scan.files} files / ${d.scan.bytes} bytes, expected ${d.dataset.files.length} / ${d.dataset.bytes}`)
        }
        log(`[pull] ${name}: added to home A in ${((performance.now() - t) / 1000).toFixed(1)} s, root ${d.scan.root}`)
      }
      env.daemon = await startDaemon(env.homeA, { log, cpu: ctx.pin ? SERVER_CPU : undefined })
      result.tools = {
        rsync: capture('rsync', ['--version']).split('\n')[0],
        ssh: env.sshd.version,
        sshCipher: env.sshd.cipher
      }
      result.setup = { sshd: env.sshd.mode, bashrcMasked: env.sshd.bashrcMasked, sshSessionS: round(env.sshd.connectS) }
      for (const [name, def] of Object.entries(defs)) {
        log(`[pull] ${name} (${def.label}): warming the page cache`)
        warm(env.datasets[name].dataset)
        result.compare.push(await compare(name, def, env, ctx))
      }
      for (const name of Object.keys(defs)) result.kill.push(await killAndResume(name, env, ctx))
      // a failure here must not lose the run's results (it did twice on a loaded machine): logged, kept in the JSON
      result.ceiling = await transportCeiling(rounds, ctx).catch((err) => {
        log(`[pull] transport ceiling not measured: ${err.message}`)
        result.ceilingError = err.message
        return undefined
      })
      if (!env.daemon.alive()) throw new Error(`the ferry daemon died during the run: ${env.daemon.stderr}`)
    } finally {
      process.removeListener('SIGINT', stopOnSignal)
      process.removeListener('SIGTERM', stopOnSignal)
      if (env.daemon != null) await env.daemon.stop()
      if (env.sshd != null) await env.sshd.stop()
      rmSync(env.homeA, { recursive: true, force: true })
    }
    const buildAfter = ferryBuild()
    if (buildAfter.distBuiltAt !== buildBefore.distBuiltAt || buildAfter.commit !== buildBefore.commit) {
      result.ferryChangedDuringRun = buildAfter
      log(`[pull] warning: the Ferry build changed during the run (now ${buildAfter.commit}, dist ${buildAfter.distBuiltAt})`)
    }
    result.wallS = round((performance.now() - started) / 1000)
    result.verdicts = verdicts(result)
    return result
  },

  report (result) {
    let out = ''
    const rows = []
    for (const d of result.compare) {
      for (const tool of TOOLS) {
        const t = d.full[tool]
        const ratio = d.fullFerrySpeedOverRsync
        rows.push([
          tool === 'ferry' ? `${d.dataset}  ${d.label}` : '',
          tool === 'ferry' ? 'ferry pull' : 'rsync -a over ssh',
          fixed(t.medianS, 2), fixed(t.mbps, 0), fixed(t.medianClientCpuS, 1), fixed(t.medianServerCpuS, 1), fixed(t.medianOthersCores, 2), fixed(t.medianMaxRssBytes / MB, 0),
          tool === 'ferry' ? '' : `${fixed(ratio.median, 2)}x`,
          tool === 'ferry' ? '' : ratio.quietRounds === 0 ? '— (0)' : `${fixed(ratio.quietMedian, 2)}x (${ratio.quietRounds})`
        ])
      }
    }
    const pinned = result.pin ? ', pinned: servers on CPU 0, clients on CPU 1' : ''
    out += table(`pull: full copy over loopback, warm source cache${pinned}, ${result.rounds} round(s) (medians; MB = 10^6 bytes)`,
      ['dataset', 'tool', 'wall s', 'MB/s', 'client CPU s', 'server CPU s', 'others', 'client RSS MB', 'ferry speed / rsync', 'quiet rounds (n)'], rows, { right: [2, 3, 4, 5, 6, 7, 8, 9] })
    out += `  server: ferry daemon / sshd with its session and rsync server; others: cores the rest of the machine kept busy meanwhile (of ${CORES})\n`
    for (const d of result.compare) {
      out += `  ${d.dataset}: per-round ferry/rsync speed ${d.fullFerrySpeedOverRsync.perRound.map((x) => fixed(x, 2)).join(' ')}; ` +
        `ferry's own time ${fixed(d.full.ferry.medianSelfS, 2)} s (plan ${fixed(d.full.ferry.medianPlanS, 2)} s); ` +
        `min source residency ${d.cache.minResidentBeforeRun == null ? 'n/a' : `${fixed(100 * d.cache.minResidentBeforeRun, 1)}%`}, re-warmed ${d.cache.rewarms}x\n`
    }
    if (result.ceiling != null) {
      const c = result.ceiling
      out += `  transport ceiling, a bare libp2p stream between two Ferry nodes (Noise + yamux, no disk, no hashing): ${fixed(c.mbps, 0)} MB/s ` +
        `(runs ${c.runs.map((x) => fixed(x, 0)).join(' ')}; CPU-s/GB client ${fixed(c.clientCpuSPerGB, 2)}, server ${fixed(c.serverCpuSPerGB, 2)}); ` +
        result.compare.map((d) => `${d.dataset}: ceiling / rsync ${fixed(c.mbps / d.full.rsync.mbps, 2)}x, ferry / ceiling ${fixed(d.full.ferry.mbps / c.mbps, 2)}`).join('; ') + '\n'
      if (c.verified != null) {
        const f = c.verified
        out += `  verified floor, the same stream with SHA-256 of each 1 MiB leaf and one writev per leaf to a file: ${fixed(f.mbps, 0)} MB/s ` +
          `(runs ${f.runs.map((x) => fixed(x, 0)).join(' ')}; CPU-s/GB client ${fixed(f.clientCpuSPerGB, 2)}, server ${fixed(f.serverCpuSPerGB, 2)}); ` +
          result.compare.map((d) => `${d.dataset}: floor / rsync ${fixed(f.mbps / d.full.rsync.mbps, 2)}x, ferry / floor ${fixed(d.full.ferry.mbps / f.mbps, 2)}`).join('; ') + '\n'
      }
    }
    out += '\n' + table('pull: no-op into a complete destination (medians)', ['dataset', 'tool', 'wall s', 'client CPU s', 'server CPU s', 'ferry speed / rsync'],
      result.compare.flatMap((d) => TOOLS.map((tool) => [
        tool === 'ferry' ? `${d.dataset}  ${d.label}` : '',
        tool === 'ferry' ? 'ferry pull (same home)' : 'rsync -a over ssh',
        fixed(d.noop[tool].medianS, 2), fixed(d.noop[tool].medianClientCpuS, 2), fixed(d.noop[tool].medianServerCpuS, 2),
        tool === 'ferry' ? '' : `${fixed(d.noopFerrySpeedOverRsync.median, 2)}x (rounds: ${d.noopFerrySpeedOverRsync.perRound.map((x) => fixed(x, 2)).join(' ')})`
      ])), { right: [2, 3, 4, 5] })
    out += '\n' + table(`pull: kill -9 at ~${KILL_AT * 100}% on disk, then the same command again (once per dataset)`,
      ['dataset', 'killed after s', 'on disk at kill', 'missing at kill', 're-run fetched', 'fetched / missing', 'kept staged', 're-run wall s'],
      result.kill.map((k) => [k.dataset, fixed(k.killAtS, 1), `${humanBytes(k.bytes - k.missingBytes)} (${k.placedFiles} placed + ${k.stagedFiles} staged)`,
        `${humanBytes(k.missingBytes)} (${fixed(k.missingPct, 1)}%)`, `${humanBytes(k.rerun.bytesFetched)} (${fixed(k.fetchedPct, 1)}%)`,
        fixed(k.fetchedOverMissing, 3), k.rerun.bytesResumed == null ? 'n/a' : humanBytes(k.rerun.bytesResumed), fixed(k.rerun.wallS, 2)]), { right: [1, 4, 5, 6, 7] })
    out += `\nferry ${result.ferry.commit}${result.ferryChangedDuringRun != null ? ` (changed during the run: now ${result.ferryChangedDuringRun.commit})` : ''}; ` +
      `${result.tools.rsync}; ${result.tools.ssh}, cipher ${result.tools.sshCipher}; sshd via ${result.setup.sshd}` +
      `${result.setup.bashrcMasked ? ' (~/.bashrc masked)' : ''}, an ssh session costs ${fixed(result.setup.sshSessionS, 2)} s; suite took ${fixed(result.wallS / 60, 1)} min\n`
    out += '\ngoals:\n' + result.verdicts.map((v) => `  ${v.pass == null ? 'n/a ' : v.pass ? 'MET ' : 'MISS'}  ${v.goal}: ${v.value}`).join('\n') + '\n'
    return out
  }
}

/** The many-files goals of one dataset: time against rsync's (full copy, no-op) and peak RSS of both. */
function manyFilesVerdicts (d) {
  const full = d.full.ferry.medianS / d.full.rsync.medianS
  const noop = d.noop.ferry.medianS / d.noop.rsync.medianS
  const perFile = (s) => `${fixed((1000 * s) / d.files, 3)} ms/file`
  return [
    { goal: `${d.dataset} (${d.label}): full copy in <= ${GOALS.manyFilesFullTimeVsRsync}x rsync's time`, value: `${fixed(full, 2)}x (${fixed(d.full.ferry.medianS, 1)} s, ${perFile(d.full.ferry.medianS)}, vs ${fixed(d.full.rsync.medianS, 1)} s)`, pass: full <= GOALS.manyFilesFullTimeVsRsync },
    { goal: `${d.dataset}: no-op in <= ${GOALS.manyFilesNoopTimeVsRsync}x rsync's time`, value: `${fixed(noop, 2)}x (${fixed(d.noop.ferry.medianS, 2)} s vs ${fixed(d.noop.rsync.medianS, 2)} s)`, pass: noop <= GOALS.manyFilesNoopTimeVsRsync },
    ...['full', 'noop'].map((kind) => ({
      goal: `${d.dataset}: ferry pull (${kind}) peak RSS < ${GOALS.manyFilesMaxRssBytes / 1e6} MB`,
      value: `${fixed(d[kind].ferry.medianMaxRssBytes / MB, 0)} MB (rsync ${fixed(d[kind].rsync.medianMaxRssBytes / MB, 0)} MB)`,
      pass: d[kind].ferry.medianMaxRssBytes < GOALS.manyFilesMaxRssBytes
    }))
  ]
}

function verdicts (result) {
  const v = []
  for (const d of result.compare) {
    if (d.manyFiles) {
      v.push(...manyFilesVerdicts(d))
      continue
    }
    const r = d.fullFerrySpeedOverRsync
    const useQuiet = r.quietRounds >= 2
    const x = useQuiet ? r.quietMedian : r.median
    v.push({
      goal: `${d.dataset} (${d.label}): ferry pull >= ${GOALS.speedupVsRsync}x rsync -a over ssh speed`,
      value: `${fixed(x, 2)}x (${fixed(d.full.ferry.mbps, 0)} vs ${fixed(d.full.rsync.mbps, 0)} MB/s), median of ${useQuiet ? `${r.quietRounds} quiet rounds` : 'all rounds (fewer than 2 quiet)'}; all rounds ${fixed(r.median, 2)}x`,
      pass: x >= GOALS.speedupVsRsync
    })
  }
  if (result.ceiling != null) {
    for (const d of result.compare) {
      if (d.manyFiles) continue
      v.push({
        goal: `${d.dataset}: the goal is within the transport's reach (bare libp2p stream >= ${GOALS.speedupVsRsync}x rsync)`,
        value: `${fixed(result.ceiling.mbps / d.full.rsync.mbps, 2)}x (${fixed(result.ceiling.mbps, 0)} vs ${fixed(d.full.rsync.mbps, 0)} MB/s)`,
        pass: result.ceiling.mbps >= GOALS.speedupVsRsync * d.full.rsync.mbps
      })
      const f = result.ceiling.verified
      if (f == null) continue
      v.push({
        goal: `${d.dataset}: the goal is within a verified receiver's reach (bare stream + SHA-256 + write >= ${GOALS.speedupVsRsync}x rsync)`,
        value: `${fixed(f.mbps / d.full.rsync.mbps, 2)}x (${fixed(f.mbps, 0)} vs ${fixed(d.full.rsync.mbps, 0)} MB/s)`,
        pass: f.mbps >= GOALS.speedupVsRsync * d.full.rsync.mbps
      })
    }
  }
  for (const k of result.kill) {
    v.push({
      goal: `${k.dataset}: resume after kill -9 fetches only what was missing`,
      value: `fetched ${humanBytes(k.rerun.bytesFetched)} for ${humanBytes(k.missingBytes)} missing (${fixed(k.fetchedOverMissing, 3)}x; ${k.refetchedBytes > 0 ? `${humanBytes(k.refetchedBytes)} fetched again` : 'nothing fetched twice'})`,
      pass: null
    })
  }
  return v
}
