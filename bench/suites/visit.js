/**
 * Suite `visit` (issue 11): a visit replicated by the daemon through a subscription, on loopback.
 *
 * Setup (once per run): home A with the collection `visit` added (`ferry add <dir>/scan_NN --collection visit
 * --name scan_NN`, one scan per directory of the dataset) and the same files once more as one scan
 * (`ferry add <dir>`), served by `ferry daemon --home A` for the whole run.
 *
 * 1. Latency, N scans one after the other (10; 5 with --quick): a subscriber daemon (home L) subscribed to
 *    the collection `lat`; each round writes nothing new but runs `ferry add <scan dir> --collection lat` at
 *    the source and measures from that process's exit to the first file of the scan under its final name at
 *    the subscriber (fs.watch on the destination, with a 10 ms listing as a fallback), to the task's start
 *    and to its SUCCEEDED (both from the task's record, read through the daemon's API). The next scan is added
 *    once the previous one succeeded.
 * 2. A collection against one pull, R rounds (default 3; 1 with --quick), each first every other round:
 *    `ferry subscribe visit <dest>` to a fresh subscriber daemon (fresh home), timed from the command's start
 *    to the last of its tasks' SUCCEEDED; and `ferry pull <single root> <dest>` of the same files as one scan
 *    (fresh home), timed around the process. Both destinations must hold every file with its size.
 * 3. Memory: during each subscription run the subscriber daemon's VmRSS (/proc/<pid>/status) is sampled
 *    every 100 ms: at the subscription (start), its peak, and when the last task succeeded (end).
 *
 * Timing is wall time on this machine's clock; the task's start and end are the daemon's own timestamps.
 * `sync` runs after each copy, outside the timing.
 */
import { spawn } from 'node:child_process'
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { optionGiven } from '../lib/args.js'
import { settle } from '../lib/cpu.js'
import { ensureDataset, listFiles, warm } from '../lib/datasets.js'
import { FERRY } from '../lib/ferry.js'
import { ferry, initHome, startDaemon, trust, untrust } from '../lib/ferry-node.js'
import { capture, measure } from '../lib/proc.js'
import { MB, MiB, fixed, median, round } from '../lib/stats.js'
import { table } from '../lib/table.js'
import { ferryBuild } from './pull.js'

export const GOALS = {
  firstFileS: 2, // median, from the end of `ferry add` to the first file at the subscriber
  collectionOverPull: 1.3, // a collection through a subscription, against one pull of the same files
  rssSpreadBytes: 50 * 1e6 // the subscriber daemon's RSS: peak within 50 MB of its start
}
const FULL = { scans: 100, filesPerScan: 20, latencyScans: 10, rounds: 3 }
const QUICK = { scans: 20, filesPerScan: 5, latencyScans: 5, rounds: 1 }
const RSS_SAMPLE_MS = 100
const POLL_MS = 10
/**
 * How often the subscriber daemon is asked while the bench waits: rarely, as every request costs it CPU
 * while it works; the times measured are the tasks' own timestamps and the watched first file, not the poll's.
 */
const TASK_POLL_MS = 100
const COLLECTION_POLL_MS = 250
const STAGING_DIR = '.ferry-partial'
/** The pull's phases, as a task's lastRun.phases has them. */
const PHASES = ['record', 'dag', 'reconcile', 'space', 'fetch', 'place', 'finish']
/** Before each timed run, wait at most this long for a quiet machine (the latency rounds are many). */
const LATENCY_SETTLE_MAX_S = 3

/**
 * The tasks of the daemon of `home`, through its HTTP API (GET /v1/tasks with the home's token; docs/api.md),
 * so the bench does not open the catalog itself (better-sqlite3 needs the Node the CLI runs on).
 */
function taskApi (home) {
  const base = JSON.parse(readFileSync(join(home, 'daemon.json'), 'utf8')).api
  const token = readFileSync(join(home, 'api-token'), 'utf8').trim()
  const get = async (path) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) })
    if (!res.ok) throw new Error(`GET ${path} of ${home}: HTTP ${res.status} ${await res.text()}`)
    return await res.json()
  }
  return {
    list: async () => (await get('/v1/tasks?limit=9999')).tasks,
    /** Whether every source of every subscription is `watching` (subscribed and caught up). */
    watching: async () => (await get('/v1/subscriptions')).subscriptions.every((s) => s.sources.length > 0 && s.sources.every((x) => x.state === 'watching')),
    /** The first subscription's task counts ({ scans, queued, active, succeeded, failed, cancelled }): one small answer. */
    counts: async () => (await get('/v1/subscriptions')).subscriptions[0]?.counts
  }
}

/** Waits until the subscriptions of `tasks`' daemon watch their sources. */
async function untilWatching (tasks, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (!await tasks.watching()) {
    if (Date.now() > deadline) throw new Error(`the subscription did not reach its source within ${timeoutMs / 1000} s`)
    await sleep(TASK_POLL_MS)
  }
}

/** Runs `ferry <args>`; resolves with { code, stdout, stderr, exitedAt (Date.now() at its exit) }. */
function run (args) {
  return new Promise((resolve, reject) => {
    const child = spawn(FERRY, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let exitedAt = null
    child.stdout.on('data', (b) => { stdout += b.toString() })
    child.stderr.on('data', (b) => { stderr = (stderr + b.toString()).slice(-4000) })
    child.on('error', reject)
    child.on('exit', () => { exitedAt = Date.now() })
    child.on('close', (code) => resolve({ code, stdout, stderr, exitedAt: exitedAt ?? Date.now() }))
  })
}

async function mustRun (args) {
  const r = await run(args)
  if (r.code !== 0) throw new Error(`ferry ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r
}

/** Whether `dir` (the staging directory left out) holds a regular file under its final name. */
function hasPlacedFile (dir) {
  let names
  try { names = readdirSync(dir) } catch { return false }
  for (const n of names) {
    if (n === STAGING_DIR) continue
    const p = join(dir, n)
    let st
    try { st = lstatSync(p) } catch { continue }
    if (st.isFile() || (st.isDirectory() && hasPlacedFile(p))) return true
  }
  return false
}

/**
 * Watches `root` for the first file placed under `root/<name>`: resolves with { at (Date.now()), by
 * ('watch' or 'poll') }. fs.watch sees the rename at once; the listing every POLL_MS covers directories the
 * recursive watch has not reached yet.
 */
function firstArrival (root, name, timeoutMs) {
  const dir = join(root, name)
  let watcher = null
  let timer = null
  let deadline = null
  const p = new Promise((resolve, reject) => {
    const check = (by) => { if (hasPlacedFile(dir)) resolve({ at: Date.now(), by }) }
    watcher = watch(root, { recursive: true }, (_event, f) => {
      if (f != null && String(f).startsWith(`${name}/`) && !String(f).includes(STAGING_DIR)) check('watch')
    })
    timer = setInterval(() => check('poll'), POLL_MS)
    deadline = setTimeout(() => reject(new Error(`no file of ${name} arrived in ${dir} within ${timeoutMs / 1000} s`)), timeoutMs)
  })
  return p.finally(() => { watcher?.close(); clearInterval(timer); clearTimeout(deadline) })
}

/** Waits until every task in `tasks` matching `pick` has SUCCEEDED, `count` of them; throws on FAILED or CANCELLED. */
async function succeeded (tasks, pick, count, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const mine = (await tasks.list()).filter(pick)
    const bad = mine.find((t) => t.condition === 'FAILED' || t.condition === 'CANCELLED')
    if (bad != null) throw new Error(`task ${bad.taskId} into ${bad.destination} ${bad.condition}: ${bad.reason?.message ?? ''}`)
    if (mine.length >= count && mine.every((t) => t.condition === 'SUCCEEDED')) return mine
    if (Date.now() > deadline) throw new Error(`${mine.filter((t) => t.condition === 'SUCCEEDED').length} of ${count} tasks succeeded within ${timeoutMs / 1000} s`)
    await sleep(TASK_POLL_MS)
  }
}

/** Waits until the subscription's `count` tasks all SUCCEEDED (by its counts); returns the tasks. Throws on a FAILED or CANCELLED one. */
async function subscriptionDone (tasks, count, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const c = await tasks.counts()
    if (c != null && c.failed + c.cancelled > 0) return await succeeded(tasks, (t) => t.collection === 'visit', count, 0) // throws, naming the task
    if (c != null && c.succeeded >= count) return await succeeded(tasks, (t) => t.collection === 'visit', count, 0)
    if (Date.now() > deadline) throw new Error(`${c?.succeeded ?? 0} of ${count} tasks succeeded within ${timeoutMs / 1000} s`)
    await sleep(COLLECTION_POLL_MS)
  }
}

/** Checks that `dest` holds the files of `dir` (same relative paths, same total bytes). */
function checkCopy (what, dir, dest) {
  const want = listFiles(dir)
  const got = listFiles(dest)
  if (got.files.join('\n') !== want.files.join('\n') || got.bytes !== want.bytes) {
    throw new Error(`${what}: ${dest} holds ${got.files.length} files / ${got.bytes} bytes, expected ${want.files.length} / ${want.bytes} as in ${dir}`)
  }
}

/** The VmRSS of `pid` in bytes, or null when it is gone. */
function rssOf (pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m == null ? null : Number(m[1]) * 1024
  } catch {
    return null
  }
}

/** Samples the RSS of `pid` every RSS_SAMPLE_MS until stop(); stop() returns { samples, peakBytes }. */
function sampleRss (pid) {
  const samples = []
  const take = () => {
    const b = rssOf(pid)
    if (b != null) samples.push({ t: Date.now(), bytes: b })
  }
  take()
  const timer = setInterval(take, RSS_SAMPLE_MS)
  return {
    stop: () => {
      clearInterval(timer)
      take()
      return { samples, peakBytes: Math.max(...samples.map((s) => s.bytes)) }
    }
  }
}

/**
 * The subscriber daemon's `pull` settings (config.json): `--connections N` (its tasks open N connections per
 * source) and whatever `--daemon-pull JSON` names (daemonTasks, daemonInflightMiB).
 */
function setPullConfig (home, ctx) {
  if (ctx.connections == null && ctx.daemonPull == null) return
  const file = join(home, 'config.json')
  const cfg = JSON.parse(readFileSync(file, 'utf8'))
  const pull = { ...cfg.pull, ...(ctx.connections != null ? { connections: Number(ctx.connections) } : {}), ...ctx.daemonPull }
  writeFileSync(file, JSON.stringify({ ...cfg, pull }, null, 2))
}

/** A fresh subscriber: home (trusted by A, with A named `src`) and its daemon. */
async function subscriber (env, name, ctx) {
  const home = join(env.dir, 'homes', name)
  const id = initHome(home)
  trust(env.homeA, id)
  ferry(['peer', 'add', 'src', env.daemon.addr, '--home', home])
  setPullConfig(home, ctx)
  const daemon = await startDaemon(home, { log: ctx.log })
  env.daemons.add(daemon)
  return { home, id, daemon }
}

async function dropSubscriber (env, s) {
  await s.daemon.stop()
  env.daemons.delete(s.daemon)
  untrust(env.homeA, s.id)
  rmSync(s.home, { recursive: true, force: true })
}

/** One latency round: add scan `i` of the latency set at the source, follow it to SUCCEEDED at the subscriber. */
async function latencyRound (env, tasks, i, ctx) {
  const name = `lat_${String(i).padStart(2, '0')}`
  const dir = join(env.lat.dir, `scan_${String(i).padStart(2, '0')}`)
  const dest = join(env.dir, 'lat-dest', name)
  const quiet = await settle({ maxS: Math.min(ctx.settle, LATENCY_SETTLE_MAX_S) })
  const arrival = firstArrival(join(env.dir, 'lat-dest'), name, 60_000)
  arrival.catch(() => {}) // awaited below, after the add
  const add = await mustRun(['add', dir, '--collection', 'lat', '--name', name, '--json', '--home', env.homeA])
  const first = await arrival
  const [task] = await succeeded(tasks, (t) => t.destination === dest, 1, 120_000)
  checkCopy(`the subscription's copy of ${name}`, dir, dest)
  const r = {
    scan: name,
    firstFileS: (first.at - add.exitedAt) / 1000,
    seenBy: first.by,
    startedS: (Date.parse(task.started) - add.exitedAt) / 1000,
    succeededS: (Date.parse(task.completed) - add.exitedAt) / 1000,
    busyCoresBefore: quiet.busyCores
  }
  ctx.log(`[visit] ${name}: add exit -> first file ${fixed(r.firstFileS, 3)} s (${r.seenBy}), task started ${fixed(r.startedS, 3)} s, SUCCEEDED ${fixed(r.succeededS, 3)} s`)
  return r
}

/** Part 1: `count` scans added one after the other to a subscribed collection. */
async function latency (env, count, ctx) {
  const sub = await subscriber(env, 'lat', ctx)
  mkdirSync(join(env.dir, 'lat-dest'), { recursive: true })
  const tasks = taskApi(sub.home)
  try {
    await mustRun(['subscribe', 'lat', join(env.dir, 'lat-dest'), '--from', 'src', '--json', '--home', sub.home])
    await untilWatching(tasks, 60_000) // subscribed, and the (empty) collection listed
    const rounds = []
    for (let i = 0; i < count; i++) rounds.push(await latencyRound(env, tasks, i, ctx))
    return { rounds, daemonAlive: sub.daemon.alive() }
  } finally {
    await dropSubscriber(env, sub)
    rmSync(join(env.dir, 'lat-dest'), { recursive: true, force: true })
  }
}

/** Part 2 and 3, the subscription side: subscribe to `visit`, wait for every scan's task to succeed. */
async function viaSubscription (env, round, ctx) {
  const sub = await subscriber(env, `sub-${round}`, ctx)
  const dest = join(env.dir, `sub-dest-${round}`)
  const tasks = taskApi(sub.home)
  try {
    await settle({ maxS: ctx.settle })
    const cpu0 = sub.daemon.cpuSeconds()
    const rss = sampleRss(sub.daemon.pid)
    const t0 = Date.now()
    await mustRun(['subscribe', 'visit', dest, '--from', 'src', '--json', '--home', sub.home])
    const done = await subscriptionDone(tasks, env.scans.length, 30 * 60_000)
    const endAt = Math.max(...done.map((t) => Date.parse(t.completed)))
    const mem = rss.stop()
    const cpuS = sub.daemon.cpuSeconds() - cpu0
    for (const s of env.scans) checkCopy(`the subscription's copy of ${s.name}`, s.dir, join(dest, s.name))
    if (!sub.daemon.alive()) throw new Error(`the subscriber's daemon died: ${sub.daemon.stderr}`)
    const startBytes = mem.samples[0].bytes
    // once the first tenth of the tasks ended: the working set of concurrent pulls is there, a per-task leak is not yet
    const warmAt = done.map((t) => Date.parse(t.completed)).sort((a, b) => a - b)[Math.max(0, Math.ceil(done.length / 10) - 1)]
    const afterWarm = mem.samples.filter((x) => x.t >= warmAt)
    return {
      wallS: (endAt - t0) / 1000,
      tasks: done.length,
      daemonCpuS: cpuS,
      activeS: done.reduce((a, t) => a + t.activeMs, 0) / 1000,
      perTask: perTask(done),
      rss: {
        startBytes,
        peakBytes: mem.peakBytes,
        endBytes: mem.samples.at(-1).bytes,
        warmBytes: afterWarm[0]?.bytes ?? null,
        peakAfterWarmBytes: afterWarm.length > 0 ? Math.max(...afterWarm.map((x) => x.bytes)) : null,
        samples: mem.samples.length,
        series: thin(mem.samples, t0)
      }
    }
  } finally {
    await dropSubscriber(env, sub)
    rmSync(dest, { recursive: true, force: true })
    capture('sync', [])
  }
}

/**
 * Where a task's time goes, medians over the tasks in seconds: ACTIVE (the task's run), the pull's own
 * `seconds` inside it, and from one task's end to the next task's start (the slot left idle).
 */
function perTask (done) {
  const byStart = [...done].sort((a, b) => Date.parse(a.started) - Date.parse(b.started))
  const ends = byStart.map((t) => Date.parse(t.completed)).sort((a, b) => a - b)
  // the i-th start after the first `slots` waits for the (i - slots)-th end; 2 slots (DEFAULT_TASK_CONCURRENCY)
  const gaps = byStart.slice(2).map((t, i) => (Date.parse(t.started) - ends[i]) / 1000)
  return {
    activeS: round(median(done.map((t) => t.activeMs / 1000))),
    pullS: round(median(done.map((t) => t.lastRun?.seconds ?? NaN))),
    startAfterEndS: round(median(gaps)),
    // the pull's own seconds per phase (lastRun.phases), median over the tasks
    phasesS: Object.fromEntries(PHASES.map((p) => [p, round(median(done.map((t) => t.lastRun?.phases?.[p] ?? NaN)), 4)])),
    // from the task's creation (the subscription saw the scan) to its start, and from its start to its pull's start
    queuedS: round(median(done.map((t) => (Date.parse(t.started) - Date.parse(t.requested)) / 1000)), 3),
    outsidePullS: round(median(done.map((t) => t.activeMs / 1000 - (t.lastRun?.seconds ?? NaN))), 4)
  }
}

/** At most 60 RSS samples, as [seconds since t0, MB], for the raw results. */
function thin (samples, t0) {
  const step = Math.max(1, Math.ceil(samples.length / 60))
  return samples.filter((_, i) => i % step === 0 || i === samples.length - 1).map((s) => [round((s.t - t0) / 1000, 2), round(s.bytes / MB, 3)])
}

/** Part 2, the pull side: one `ferry pull` of the single scan into a fresh destination with a fresh home. */
async function viaPull (env, round, ctx) {
  const home = join(env.dir, 'homes', `pull-${round}`)
  const id = initHome(home)
  trust(env.homeA, id)
  const dest = join(env.dir, `pull-dest-${round}`)
  try {
    await settle({ maxS: ctx.settle })
    const m = await measure(FERRY, ['pull', env.single.root, dest, '--from', env.daemon.addr, ...(ctx.connections != null ? ['--connections', String(ctx.connections)] : []), '--json', '--home', home], { probe: ctx.probe })
    if (m.code !== 0) throw new Error(`ferry pull exited ${m.code}: ${(m.stderr || m.stdout).slice(-2000)}`)
    const out = JSON.parse(m.stdout)
    if (out.complete !== true || out.bytesFetched !== env.data.bytes) throw new Error(`ferry pull: complete ${out.complete}, bytesFetched ${out.bytesFetched}, expected ${env.data.bytes}`)
    checkCopy('ferry pull', env.data.dir, dest)
    return { wallS: m.wallS, cpuS: m.userS + m.sysS, maxRssBytes: m.maxRssBytes, othersCores: m.othersCores }
  } finally {
    untrust(env.homeA, id)
    rmSync(home, { recursive: true, force: true })
    rmSync(dest, { recursive: true, force: true })
    capture('sync', [])
  }
}

/** Part 2: `rounds` rounds of subscription and pull, each first every other round. */
async function collection (env, rounds, ctx) {
  const out = []
  for (let r = 0; r < rounds; r++) {
    warm(env.data)
    const row = { round: r }
    for (const kind of r % 2 === 0 ? ['subscription', 'pull'] : ['pull', 'subscription']) {
      row[kind] = kind === 'pull' ? await viaPull(env, r, ctx) : await viaSubscription(env, r, ctx)
    }
    row.ratio = row.subscription.wallS / row.pull.wallS
    const m = row.subscription.rss
    ctx.log(`[visit] round ${r}: subscription ${fixed(row.subscription.wallS, 2)} s, pull ${fixed(row.pull.wallS, 2)} s, ratio ${fixed(row.ratio, 2)}; ` +
      `daemon RSS start ${fixed(m.startBytes / MB, 0)} MB, peak ${fixed(m.peakBytes / MB, 0)} MB, end ${fixed(m.endBytes / MB, 0)} MB`)
    out.push(row)
  }
  return out
}

/** Home A: the collection `visit` (one scan per directory) and the same files as one scan, then its daemon. */
async function setup (env, shape, ctx) {
  initHome(env.homeA)
  const t = performance.now()
  const dirs = readdirSync(env.data.dir).filter((n) => n.startsWith('scan_')).sort()
  if (dirs.length !== shape.scans) throw new Error(`dataset ${env.data.name} has ${dirs.length} scan directories, expected ${shape.scans}`)
  env.scans = []
  for (const name of dirs) {
    const dir = join(env.data.dir, name)
    const r = JSON.parse(ferry(['add', dir, '--collection', 'visit', '--name', name, '--json', '--home', env.homeA]))
    env.scans.push({ name, dir, root: r.root })
  }
  env.single = JSON.parse(ferry(['add', env.data.dir, '--json', '--home', env.homeA]))
  ctx.log(`[visit] added ${env.scans.length} scans and the single scan to home A in ${fixed((performance.now() - t) / 1000, 1)} s`)
  env.daemon = await startDaemon(env.homeA, { log: ctx.log })
  env.daemons.add(env.daemon)
}

/** On SIGINT or SIGTERM: stop the daemons this run started (they would outlive it), then leave. */
function stopOnSignal (env) {
  const stop = () => {
    for (const d of env.daemons) try { process.kill(d.pid, 'SIGTERM') } catch {}
    process.exit(130)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return () => { process.removeListener('SIGINT', stop); process.removeListener('SIGTERM', stop) }
}

function summary (result) {
  const lat = result.latency.rounds
  const c = result.collection
  const rss = c.map((r) => r.subscription.rss)
  return {
    firstFileS: round(median(lat.map((r) => r.firstFileS))),
    startedS: round(median(lat.map((r) => r.startedS))),
    succeededS: round(median(lat.map((r) => r.succeededS))),
    subscriptionS: round(median(c.map((r) => r.subscription.wallS))),
    pullS: round(median(c.map((r) => r.pull.wallS))),
    ratio: round(median(c.map((r) => r.ratio))),
    rssStartBytes: median(rss.map((m) => m.startBytes)),
    rssPeakBytes: Math.max(...rss.map((m) => m.peakBytes)),
    rssEndBytes: median(rss.map((m) => m.endBytes)),
    rssSpreadBytes: Math.max(...rss.map((m) => m.peakBytes - m.startBytes)),
    rssDriftAfterWarmBytes: Math.max(...rss.map((m) => (m.peakAfterWarmBytes ?? NaN) - (m.warmBytes ?? NaN)))
  }
}

function verdicts (result) {
  const s = result.summary
  return [
    { goal: `a new scan's first file at the subscriber within ${GOALS.firstFileS} s of \`ferry add\` (median of ${result.latency.rounds.length})`, value: `${fixed(s.firstFileS, 3)} s (task started ${fixed(s.startedS, 3)} s, SUCCEEDED ${fixed(s.succeededS, 3)} s)`, pass: s.firstFileS <= GOALS.firstFileS },
    { goal: `${result.shape.scans} scans through a subscription in <= ${GOALS.collectionOverPull}x one pull of the same ${result.files} files`, value: `${fixed(s.ratio, 2)}x, the median of the rounds' ratios (${result.collection.map((r) => fixed(r.ratio, 2)).join(' ')}); median times ${fixed(s.subscriptionS, 2)} s and ${fixed(s.pullS, 2)} s`, pass: s.ratio <= GOALS.collectionOverPull },
    { goal: `the subscriber daemon's RSS within ${GOALS.rssSpreadBytes / 1e6} MB of its start across the ${result.shape.scans} tasks`, value: `peak - start ${fixed(s.rssSpreadBytes / MB, 0)} MB (start ${fixed(s.rssStartBytes / MB, 0)}, peak ${fixed(s.rssPeakBytes / MB, 0)}, end ${fixed(s.rssEndBytes / MB, 0)} MB)`, pass: s.rssSpreadBytes <= GOALS.rssSpreadBytes }
  ]
}

export default {
  name: 'visit',
  description: 'a visit through a subscription: latency of a new scan, 100 scans against one pull, the subscriber daemon\'s RSS',

  async run (ctx) {
    const shape = ctx.quick ? QUICK : FULL
    const rounds = optionGiven(process.argv.slice(2), 'rounds') ? ctx.rounds : shape.rounds
    const dir = join(ctx.work, 'visit')
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(join(dir, 'homes'), { recursive: true })
    const build = ferryBuild()
    ctx.log(`[visit] ${shape.scans} scans of ${shape.filesPerScan} x 1 MiB, ${rounds} round(s), ${shape.latencyScans} latency scans; ferry ${build.commit}`)
    const files = shape.scans * shape.filesPerScan
    const env = {
      dir,
      daemons: new Set(),
      homeA: join(dir, 'home-A'),
      data: ensureDataset(ctx.work, `V${shape.scans}x${shape.filesPerScan}`, { kind: 'random-files', files, size: MiB, dirs: shape.scans }, ctx.log),
      lat: ensureDataset(ctx.work, `Vlat${shape.latencyScans}x${shape.filesPerScan}`, { kind: 'random-files', files: shape.latencyScans * shape.filesPerScan, size: MiB, dirs: shape.latencyScans }, ctx.log)
    }
    const started = performance.now()
    const result = { goals: GOALS, shape, rounds, files, bytes: env.data.bytes, ferry: build }
    const unhook = stopOnSignal(env)
    try {
      await setup(env, shape, ctx)
      result.latency = await latency(env, shape.latencyScans, ctx)
      result.collection = await collection(env, rounds, ctx)
      if (!env.daemon.alive()) throw new Error(`the source daemon died during the run: ${env.daemon.stderr}`)
    } finally {
      unhook()
      if (env.daemon != null) await env.daemon.stop()
      rmSync(dir, { recursive: true, force: true })
    }
    result.wallS = round((performance.now() - started) / 1000)
    result.summary = summary(result)
    result.verdicts = verdicts(result)
    return result
  },

  report (result) {
    let out = table(`visit: a new scan at the source, through a subscription (loopback; ${result.shape.filesPerScan} x 1 MiB per scan; seconds from the end of \`ferry add\`)`,
      ['scan', 'first file s', 'seen by', 'task started s', 'SUCCEEDED s', 'busy cores before'],
      result.latency.rounds.map((r) => [r.scan, fixed(r.firstFileS, 3), r.seenBy, fixed(r.startedS, 3), fixed(r.succeededS, 3), fixed(r.busyCoresBefore, 2)]), { right: [1, 3, 4, 5] })
    out += `  medians: first file ${fixed(result.summary.firstFileS, 3)} s, task started ${fixed(result.summary.startedS, 3)} s, SUCCEEDED ${fixed(result.summary.succeededS, 3)} s\n\n`
    out += table(`visit: ${result.shape.scans} scans of ${result.shape.filesPerScan} x 1 MiB through a subscription vs one ferry pull of the ${result.files} files as one scan`,
      ['round', 'subscription s', 'pull s', 'ratio', 'daemon CPU s', 'pull CPU s', 'RSS start MB', 'RSS peak MB', 'RSS end MB', 'pull RSS MB'],
      result.collection.map((r) => [r.round, fixed(r.subscription.wallS, 2), fixed(r.pull.wallS, 2), `${fixed(r.ratio, 2)}x`, fixed(r.subscription.daemonCpuS, 1), fixed(r.pull.cpuS, 1),
        fixed(r.subscription.rss.startBytes / MB, 0), fixed(r.subscription.rss.peakBytes / MB, 0), fixed(r.subscription.rss.endBytes / MB, 0), fixed(r.pull.maxRssBytes / MB, 0)]), { right: [1, 2, 3, 4, 5, 6, 7, 8, 9] })
    out += `  subscription: from \`ferry subscribe\` to the last task's SUCCEEDED; pull: the process; RSS: the subscriber daemon's VmRSS every ${RSS_SAMPLE_MS} ms; MB = 10^6 bytes\n`
    out += `  per task (medians): ACTIVE ${result.collection.map((r) => fixed(r.subscription.perTask?.activeS, 3)).join(' / ')} s, the pull inside it ${result.collection.map((r) => fixed(r.subscription.perTask?.pullS, 3)).join(' / ')} s, ` +
      `next task started after one ended ${result.collection.map((r) => fixed(r.subscription.perTask?.startAfterEndS, 3)).join(' / ')} s (by round)\n`
    out += `  per task, the pull's phases (medians, s, by round): ${PHASES.map((p) => `${p} ${result.collection.map((r) => fixed(r.subscription.perTask?.phasesS?.[p], 3)).join('/')}`).join(', ')}; ` +
      `ACTIVE outside the pull ${result.collection.map((r) => fixed(r.subscription.perTask?.outsidePullS, 3)).join('/')}\n`
    out += `  RSS once the first tenth of the tasks ended, then its peak to the end: ${result.collection.map((r) => `${fixed(r.subscription.rss.warmBytes / MB, 0)} -> ${fixed(r.subscription.rss.peakAfterWarmBytes / MB, 0)} MB`).join('; ')} ` +
      `(growth after the first tenth, at most ${fixed(result.summary.rssDriftAfterWarmBytes / MB, 0)} MB: what a per-task leak would show)\n`
    out += `\nferry ${result.ferry.commit}; suite took ${fixed(result.wallS / 60, 1)} min\n`
    out += '\ngoals:\n' + result.verdicts.map((v) => `  ${v.pass ? 'MET ' : 'MISS'}  ${v.goal}: ${v.value}`).join('\n') + '\n'
    return out
  }
}
