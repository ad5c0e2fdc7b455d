#!/usr/bin/env node
// Exchange throughput on loopback: one process serves a 1 GiB scan of 1 MiB leaves from its home, another
// pulls every leaf with PeerClient (each block hashed and checked) and reports MB/s. Configurations run in
// rounds (A B C A B C ...) and the table shows medians, because these machines are noisy.
//
//   npm run build && node bench/tools/bench-throughput.js [--rounds 3] [--gib 1] [--prof DIR] [--only NAME,...] [--json] [--pin]
//
// --pin runs the server on CPU 0 and the client on CPU 1 (taskset), like two one-core machines.
//
// The two sides run as the `ferry` launcher runs Ferry: on $FERRY_NODE, else the checkout's Node 24
// (node_modules/.bin/node), else this process's Node; with the launcher's glibc allocator settings, and with
// --single-threaded-gc when pinned to one CPU. --node PATH picks another runtime (to compare Node 20 with 24);
// --node-arg FLAG (repeatable) adds a flag such as --perf-basic-prof. The bare configurations build the
// node's transport (bulkTransport from @ferry/node) without a home, so they run on any Node; the exchange
// ones open homes, which needs Node 22 or later (better-sqlite3 13 crashes on Node 20). A side that dies
// ends the run with its exit code instead of a wait that never ends.
//
// --json prints one JSON object instead of the table: { name: { mbps (median), runs: [...] } }; the pull
// bench uses it for the transport's ceiling next to rsync.
// Data and the serving home are kept in $TMPDIR/ferry-bench-throughput between runs.
import { spawn } from 'node:child_process'
import { createWriteStream, existsSync, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const SELF = fileURLToPath(import.meta.url)
const MiB = 1024 * 1024
/** Runs during which other processes used more cores than this are left out of the medians. */
const MAX_OTHERS = 0.25

/** name → { server, client } settings. Windows must match on both ends (yamux assumes the peer's initial window). */
const CONFIGS = {
  // Bare libp2p stream (Noise + yamux, no exchange, no disk, no hashing): the transport's ceiling here.
  'bare-256K': { bare: true, streams: 1, initial: 256 * 1024, max: 16 * MiB },
  'bare-1M': { bare: true, streams: 1, initial: MiB, max: 16 * MiB },
  'bare-4M': { bare: true, streams: 1, initial: 4 * MiB, max: 16 * MiB },
  // The bare stream with what any verified receiver must add to it: SHA-256 of each 1 MiB leaf as it arrives
  // (bare-hash), and the leaf written to a file with one writev (bare-hash-write, the file deleted after).
  // No exchange protocol, no catalog, no staging: the floor under `ferry pull`'s receive path on this machine.
  'bare-hash-256K': { bare: true, sink: 'hash', streams: 1, initial: 256 * 1024, max: 16 * MiB },
  'bare-hash-write-256K': { bare: true, sink: 'write', streams: 1, initial: 256 * 1024, max: 16 * MiB },
  // The exchange with the node's defaults (1 leaf-reader worker on 2 cores; blocks hashed in place).
  's1-256K': { streams: 1, initial: 256 * 1024, max: 16 * MiB },
  's2-256K': { streams: 2, initial: 256 * 1024, max: 16 * MiB },
  's4-256K': { streams: 4, initial: 256 * 1024, max: 16 * MiB },
  's8-256K': { streams: 8, initial: 256 * 1024, max: 16 * MiB },
  's1-1M': { streams: 1, initial: MiB, max: 16 * MiB },
  's4-1M': { streams: 4, initial: MiB, max: 16 * MiB },
  's4-4M': { streams: 4, initial: 4 * MiB, max: 16 * MiB },
  // Variants: no worker threads at all; verification on a worker (needs a copy); caller joins `bytes`.
  's4-256K-noworkers': { streams: 4, initial: 256 * 1024, max: 16 * MiB, readers: 0, verifiers: 0 },
  's4-256K-verifyworker': { streams: 4, initial: 256 * 1024, max: 16 * MiB, verifiers: 1 },
  's4-256K-bytes': { streams: 4, initial: 256 * 1024, max: 16 * MiB, bytes: true }
}

/** CPU seconds used by this process's main thread so far (Linux /proc; the other threads are workers, GC, libuv). */
function mainThreadCpu () {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return NaN
  }
}

/** Busy CPU seconds of the whole machine so far (all processes), from /proc/stat. */
function machineBusy () {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    const idle = cpu[3] + cpu[4]
    return (cpu.reduce((a, b) => a + b, 0) - idle) / 100
  } catch {
    return NaN
  }
}

function median (xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/**
 * The data set and the serving home, made in a child on the launcher's Node (a home needs Node 22 or later,
 * whichever Node runs this script or the sides). Returns { home, cidsFile }.
 */
async function prepared (gib) {
  const p = spawn(launcherNode(), [SELF, 'prepare', String(gib)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  p.stdout.setEncoding('utf8').on('data', (d) => { out += d })
  const code = await new Promise((resolve) => p.on('close', (c, signal) => resolve(c ?? signal)))
  if (code !== 0) throw new Error(`preparing the ${gib} GiB data set on ${launcherNode()} failed (exit ${code})`)
  return JSON.parse(out)
}

async function prepare (gib) {
  const base = path.join(os.tmpdir(), 'ferry-bench-throughput')
  const data = path.join(base, `data-${gib}g`)
  const home = path.join(base, `home-${gib}g`)
  const cidsFile = path.join(base, `cids-${gib}g.json`)
  if (existsSync(cidsFile)) return { home, cidsFile, base }
  await fs.rm(base, { recursive: true, force: true })
  await fs.mkdir(data, { recursive: true })
  const files = 8 * gib
  const chunk = Buffer.alloc(MiB)
  for (let f = 0; f < files; f++) {
    const out = createWriteStream(path.join(data, `vol-${String(f).padStart(3, '0')}.raw`))
    for (let i = 0; i < 128; i++) {
      for (let j = 0; j < MiB; j += 4) chunk.writeUInt32LE((f * 1e6 + i * 1e3 + j) >>> 0, j)
      if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve))
    }
    await new Promise((resolve, reject) => out.end((err) => err ? reject(err) : resolve()))
  }
  const { initHome } = await import('@ferry/store')
  const { importDirectory } = await import('@ferry/dag')
  const h = await initHome(home)
  const writer = h.catalog.createScanWriter({ name: 'bench', sourcePath: data, origin: h.peerId.toString() })
  const leaves = []
  const r = await importDirectory(data, {
    sink: {
      putBlocks: async (blocks) => { await h.blocks.putMany(blocks) },
      addEntry: (e) => { writer.addEntry(e) },
      addSource: (p, size, mtimeMs, ls) => { writer.addSource(p, size, mtimeMs, ls); for (const l of ls) leaves.push(l.cid.toString()) }
    }
  })
  writer.commit({ root: r.root, files: r.files, directories: r.directories, symlinks: r.symlinks, bytes: r.bytes, skipped: r.skipped })
  await h.close()
  await fs.writeFile(cidsFile, JSON.stringify(leaves))
  return { home, cidsFile, base }
}

/**
 * A libp2p node with Ferry's transport (bulkTransport) and a fresh identity, no home: the bare stream's
 * ends. Returns the same { libp2p, addrs, stop } as a FerryNode has.
 */
async function bareNode (listen, windows) {
  // Node 20 (measured for comparison only: Ferry needs 22) lacks Promise.withResolvers, which libp2p 3 calls.
  Promise.withResolvers ??= () => {
    const r = {}
    r.promise = new Promise((resolve, reject) => { r.resolve = resolve; r.reject = reject })
    return r
  }
  const { bulkTransport } = await import('@ferry/node')
  const { createLibp2p } = await import('libp2p')
  const { generateKeyPair } = await import('@libp2p/crypto/keys')
  const libp2p = await createLibp2p({ privateKey: await generateKeyPair('Ed25519'), addresses: { listen }, ...bulkTransport(windows) })
  return { libp2p, addrs: () => libp2p.getMultiaddrs().map((a) => a.toString()), stop: async () => { await libp2p.stop() } }
}

/** Child: serve the home (or bare bytes) until stdin closes. Prints the first address. */
async function serve (args) {
  const [homeDir, initial, max, readers, bare] = args
  const windows = { initialStreamWindowSize: Number(initial), maxStreamWindowSize: Number(max) }
  let home
  let node
  if (bare === 'bare') {
    node = await bareNode(['/ip4/127.0.0.1/tcp/0'], windows)
  } else {
    const { openHome } = await import('@ferry/store')
    const { createFerryNode } = await import('@ferry/node')
    home = await openHome(homeDir)
    node = await createFerryNode({
      home,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      open: true,
      yamux: windows,
      leafReaders: readers === 'default' ? undefined : Number(readers)
    })
  }
  await node.libp2p.handle('/bench/bare/1.0.0', async (stream) => {
    const block = Buffer.alloc(MiB, 7)
    for await (const req of stream) {
      let n = new DataView(req.subarray().buffer, req.subarray().byteOffset).getUint32(0)
      while (n-- > 0) if (!stream.send(block)) await stream.onDrain()
      await stream.close()
      return
    }
  }, { maxInboundStreams: 64 })
  process.stdout.write(JSON.stringify({ addr: node.addrs()[0] }) + '\n')
  // "mark" on stdin starts the CPU count; end of stdin stops it and the server.
  let cpu0 = process.cpuUsage()
  let main0 = mainThreadCpu()
  process.stdin.setEncoding('utf8').on('data', () => { cpu0 = process.cpuUsage(); main0 = mainThreadCpu() })
  await new Promise((resolve) => process.stdin.on('end', resolve))
  const cpu = process.cpuUsage(cpu0)
  const main = mainThreadCpu() - main0
  process.stdout.write(JSON.stringify({ cpuUser: cpu.user / 1e6, cpuSys: cpu.system / 1e6, mainBusy: main }) + '\n')
  await node.stop()
  await home?.close()
  process.exit(0)
}

/**
 * What a bare stream's receiver does with the bytes: nothing ('none'), SHA-256 of each 1 MiB leaf ('hash'),
 * or that and the leaf's pieces written to `file` with one writev each at the leaf's offset ('write').
 */
async function leafSink (kind, file) {
  if (kind === 'none') return { add () {}, close () {} }
  const { createHash } = await import('node:crypto')
  const { openSync, writevSync, closeSync } = await import('node:fs')
  const fd = kind === 'write' ? openSync(file, 'w') : undefined
  let hash = createHash('sha256')
  let pieces = []
  let inLeaf = 0
  let offset = 0
  const leafDone = () => {
    hash.digest()
    hash = createHash('sha256')
    if (fd !== undefined) writevSync(fd, pieces, offset)
    offset += inLeaf
    pieces = []
    inLeaf = 0
  }
  const piece = (b) => {
    while (b.byteLength > 0) {
      const take = Math.min(b.byteLength, MiB - inLeaf)
      const part = take === b.byteLength ? b : b.subarray(0, take)
      hash.update(part)
      if (fd !== undefined) pieces.push(part)
      inLeaf += take
      b = b.subarray(take)
      if (inLeaf === MiB) leafDone()
    }
  }
  return {
    add (buf) {
      if (buf instanceof Uint8Array) piece(buf)
      else for (const b of buf) piece(b)
    },
    close () {
      if (inLeaf > 0) leafDone()
      if (fd !== undefined) closeSync(fd)
    }
  }
}

/** Child: pull every leaf and print { bytes, seconds }. */
async function pull (args) {
  const [addr, cidsFile, mode, streams, initial, max, verifiers, useBytes, sinkKind = 'none'] = args
  const windows = { initialStreamWindowSize: Number(initial), maxStreamWindowSize: Number(max) }
  const { CID } = await import('multiformats/cid')
  const cids = JSON.parse(await fs.readFile(cidsFile, 'utf8')).map((c) => CID.parse(c))
  let dir
  let home
  let node
  if (mode === 'bare') {
    node = await bareNode([], windows)
  } else {
    const { initHome } = await import('@ferry/store')
    const { createFerryNode } = await import('@ferry/node')
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-bench-client-'))
    home = await initHome(path.join(dir, 'home'))
    node = await createFerryNode({ home, listen: [], yamux: windows, leafReaders: 0, verifyWorkers: verifiers === 'default' ? undefined : Number(verifiers) })
  }
  let bytes = 0
  let started
  const cpu0 = process.cpuUsage()
  const main0 = mainThreadCpu()
  if (mode === 'bare') {
    const { multiaddr } = await import('@multiformats/multiaddr')
    const count = cids.length
    const per = Math.ceil(count / Number(streams))
    await node.libp2p.dial(multiaddr(addr))
    dir = sinkKind === 'write' ? await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-bench-client-')) : undefined
    started = performance.now()
    await Promise.all(Array.from({ length: Number(streams) }, async (_, s) => {
      const stream = await node.libp2p.dialProtocol(multiaddr(addr), '/bench/bare/1.0.0')
      const req = new Uint8Array(4)
      new DataView(req.buffer).setUint32(0, per)
      stream.send(req)
      const sink = await leafSink(sinkKind, dir === undefined ? undefined : path.join(dir, `stream-${s}`))
      for await (const buf of stream) {
        bytes += buf.byteLength
        sink.add(buf)
      }
      sink.close()
    }))
  } else {
    const client = await node.dialPeer(addr, { streams: Number(streams) })
    started = performance.now()
    let next = 0
    const worker = async () => {
      while (next < cids.length) {
        const cid = cids[next++]
        const r = await client.get(cid)
        if (r.status !== 'ok') throw new Error(`${cid}: ${r.status} ${r.message}`)
        // What a writer needs: the joined bytes, or the chunks as received (writev).
        if (useBytes === '1') bytes += r.bytes.byteLength
        else for (const c of r.chunks) bytes += c.byteLength
      }
    }
    await Promise.all(Array.from({ length: 64 }, worker))
    await client.close()
  }
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpu0)
  const main = mainThreadCpu() - main0
  await node.stop()
  await home?.close()
  if (dir !== undefined) await fs.rm(dir, { recursive: true, force: true })
  process.stdout.write(JSON.stringify({ bytes, seconds, cpuUser: cpu.user / 1e6, cpuSys: cpu.system / 1e6, mainBusy: main }) + '\n')
  process.exit(0)
}

/** The Node the `ferry` launcher would run: $FERRY_NODE, else the checkout's node_modules/.bin/node, else this one. */
function launcherNode () {
  if (process.env.FERRY_NODE) return process.env.FERRY_NODE
  const checkout = path.join(path.dirname(SELF), '..', '..', 'node_modules', '.bin', 'node')
  return existsSync(checkout) ? checkout : process.execPath
}

/** The launcher's glibc allocator settings (packages/cli/bin/ferry), values already in the environment winning. */
const LAUNCHER_ENV = { MALLOC_MMAP_THRESHOLD_: '33554432', MALLOC_TRIM_THRESHOLD_: '268435456', MALLOC_TOP_PAD_: '16777216' }

/**
 * One side as a child process (on CPU `cpu` if given), as the launcher would run it. `line()` resolves with
 * its next line of stdout, or rejects once it has exited without one (so a crash is an error, not a hang).
 */
function child (args, opts, tag, cpu) {
  const prof = opts.prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${opts.prof}`, `--cpu-prof-name=${tag}-${Date.now()}.cpuprofile`]
  const gc = cpu === undefined ? [] : ['--single-threaded-gc']
  const argv = [opts.node, ...gc, ...opts.nodeArgs, ...prof, SELF, ...args]
  const [cmd, ...rest] = cpu === undefined ? argv : ['taskset', '-c', String(cpu), ...argv]
  const p = spawn(cmd, rest, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...LAUNCHER_ENV, ...process.env } })
  let out = ''
  const lines = []
  const waiters = []
  p.stdout.setEncoding('utf8').on('data', (d) => {
    out += d
    let i
    while ((i = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, i)
      out = out.slice(i + 1)
      const w = waiters.shift()
      if (w) w(line)
      else lines.push(line)
    }
  })
  let ended
  const exited = new Promise((resolve) => p.on('close', (code, signal) => {
    ended = `${tag} (${opts.node}) exited ${code ?? signal} without a result`
    for (const w of waiters.splice(0)) w(undefined)
    resolve(code)
  }))
  p.on('error', (err) => { ended = `${tag}: cannot run ${opts.node}: ${err.message}` })
  const take = (l) => { if (l === undefined) throw new Error(ended); return l }
  const line = () => lines.length > 0 ? Promise.resolve(lines.shift()) : ended !== undefined ? Promise.reject(new Error(ended)) : new Promise((resolve) => waiters.push(resolve)).then(take)
  return { p, line, exited }
}

async function main () {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, gib: { type: 'string', default: '1' }, prof: { type: 'string' }, only: { type: 'string' }, json: { type: 'boolean', default: false }, pin: { type: 'boolean', default: false }, node: { type: 'string' }, 'node-arg': { type: 'string', multiple: true, default: [] } } })
  const opts = { prof: values.prof, node: values.node ?? launcherNode(), nodeArgs: values['node-arg'] }
  const names = values.only ? values.only.split(',') : Object.keys(CONFIGS)
  const { home, cidsFile } = await prepared(Number(values.gib))
  const results = Object.fromEntries(names.map((n) => [n, []]))
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const name of names) {
      const c = CONFIGS[name]
      const server = child(['serve', home, String(c.initial), String(c.max), String(c.readers ?? 'default'), c.bare ? 'bare' : 'home'], opts, `server-${name}`, values.pin ? 0 : undefined)
      const { addr } = JSON.parse(await server.line())
      server.p.stdin.write('mark\n')
      const busy0 = machineBusy()
      const wall0 = performance.now()
      const client = child(['pull', addr, cidsFile, c.bare ? 'bare' : 'exchange', String(c.streams ?? 1), String(c.initial), String(c.max), String(c.verifiers ?? 'default'), c.bytes === true ? '1' : '0', c.sink ?? 'none'], opts, `client-${name}`, values.pin ? 1 : undefined)
      const r = JSON.parse(await client.line())
      await client.exited
      server.p.stdin.end()
      const sc = JSON.parse(await server.line())
      // Cores used by other processes during the run (this box is shared): runs above MAX_OTHERS are noise.
      const others = (machineBusy() - busy0 - (r.cpuUser + r.cpuSys) - (sc.cpuUser + sc.cpuSys)) / ((performance.now() - wall0) / 1000)
      await server.exited
      const mbps = r.bytes / 1e6 / r.seconds
      // CPU seconds per GB moved, each side (user + sys, all threads); the server's includes the client's setup time.
      const cl = (r.cpuUser + r.cpuSys) / (r.bytes / 1e9)
      const sv = (sc.cpuUser + sc.cpuSys) / (r.bytes / 1e9)
      // Main-thread CPU seconds per GB: the serial part, which bounds each side on a machine of its own.
      const cm = r.mainBusy / (r.bytes / 1e9)
      const sm = sc.mainBusy / (r.bytes / 1e9)
      results[name].push({ mbps, cpu: (r.cpuUser + r.cpuSys) / r.seconds, c: cl, sv, cm, sm, others })
      console.error(`[others ${others.toFixed(2)} cores] [client user ${r.cpuUser.toFixed(1)} sys ${r.cpuSys.toFixed(1)}; server user ${sc.cpuUser.toFixed(1)} sys ${sc.cpuSys.toFixed(1)}] round ${round + 1} ${name}: ${mbps.toFixed(0)} MB/s (client ${((r.cpuUser + r.cpuSys) / r.seconds * 100).toFixed(0)}% CPU, ${cl.toFixed(2)} CPU-s/GB; server ${sv.toFixed(2)} CPU-s/GB; main thread s/GB client ${cm.toFixed(2)} server ${sm.toFixed(2)})`)
    }
  }
  if (values.json) {
    const out = {}
    for (const name of names) {
      const all = results[name]
      const quiet = all.filter((r) => r.others < MAX_OTHERS)
      const rs = quiet.length > 0 ? quiet : all
      out[name] = { mbps: median(rs.map((r) => r.mbps)), clientCpuSPerGB: median(rs.map((r) => r.c)), serverCpuSPerGB: median(rs.map((r) => r.sv)), runs: all }
    }
    console.log(JSON.stringify(out))
    return
  }
  console.log(`Medians over runs where other processes used under ${MAX_OTHERS} cores (all runs if none).`)
  console.log('| config | median MB/s | runs (MB/s; * = disturbed) | CPU-s/GB client / server | main-thread s/GB client / server |')
  console.log('| --- | ---: | --- | ---: | ---: |')
  for (const name of names) {
    const all = results[name]
    const quiet = all.filter((r) => r.others < MAX_OTHERS)
    const rs = quiet.length > 0 ? quiet : all
    const m = (k) => median(rs.map((r) => r[k])).toFixed(2)
    console.log(`| ${name} | ${median(rs.map((r) => r.mbps)).toFixed(0)} | ${all.map((r) => r.mbps.toFixed(0) + (r.others < MAX_OTHERS ? '' : '*')).join(' ')} | ${m('c')} / ${m('sv')} | ${m('cm')} / ${m('sm')} |`)
  }
}

const [mode, ...rest] = process.argv.slice(2)
if (mode === 'serve') await serve(rest)
else if (mode === 'pull') await pull(rest)
else if (mode === 'prepare') process.stdout.write(JSON.stringify(await prepare(Number(rest[0]))) + '\n')
else {
  await main().catch((err) => {
    console.error(`bench-throughput: ${err.message}`)
    process.exit(1)
  })
}
