/** Temp homes with a scan, daemons in child processes, and cleanup. */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { importDirectory } from '@ferry/dag'
import { initHome, type Home } from '@ferry/store'
import type { CID } from 'multiformats/cid'
import { pattern } from '../../../test/support/unit.js'

const cleanups: Array<() => Promise<void>> = []

export async function cleanup (): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {})
}

export function onCleanup (fn: () => Promise<void>): void {
  cleanups.push(fn)
}

export async function tempDir (prefix = 'ferry-node-'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix))
  cleanups.push(async () => { await fs.rm(dir, { recursive: true, force: true }) })
  return dir
}

/** Writes a small tree under `dir`: a 2.5 MiB file, a small file and a subdirectory. */
export async function writeTree (dir: string, seed = 1): Promise<void> {
  await fs.mkdir(path.join(dir, 'sub'), { recursive: true })
  await fs.writeFile(path.join(dir, 'volume.raw'), pattern(2.5 * 1024 * 1024, seed))
  await fs.writeFile(path.join(dir, 'notes.txt'), `scan ${seed}\n`)
  await fs.writeFile(path.join(dir, 'sub', 'proj.tif'), pattern(10_000, seed + 1))
}

/** Imports `dir` into `home` as a scan of `collection`; returns its root, every leaf CID, the leaves of each file by relative path and the inner nodes. */
export async function addScan (home: Home, dir: string, name = 'scan', collection: string | null = 'c1'): Promise<{ root: CID, leaves: CID[], files: Map<string, CID[]>, nodes: CID[] }> {
  const writer = home.catalog.createScanWriter({ collection, name, sourcePath: dir, origin: home.peerId.toString() })
  const files = new Map<string, CID[]>()
  const nodes: CID[] = []
  const r = await importDirectory(dir, {
    sink: {
      putBlocks: async (blocks) => {
        writer.addNodes(blocks.map((b) => b.cid)) // as `ferry add` does
        nodes.push(...blocks.map((b) => b.cid))
        await home.blocks.putMany(blocks)
      },
      addEntry: (e) => { writer.addEntry(e) },
      addSource: (p, size, mtimeMs, ls) => { writer.addSource(p, size, mtimeMs, ls); files.set(path.relative(dir, p), ls.map((l) => l.cid)) }
    }
  })
  await writer.commitSigned({ root: r.root, files: r.files, directories: r.directories, symlinks: r.symlinks, bytes: r.bytes, skipped: r.skipped }, home.privateKey)
  return { root: r.root, leaves: [...files.values()].flat(), files, nodes }
}

/** A fresh home (closed on cleanup). */
export async function makeHome (): Promise<Home> {
  const home = await initHome(path.join(await tempDir(), 'home'))
  cleanups.push(async () => { await home.close() })
  return home
}

export const DAEMON_SCRIPT = fileURLToPath(new URL('./fixtures/daemon.js', import.meta.url))
export const FERRY_BIN = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url))

export interface Daemon {
  child: ChildProcess
  /** Its addresses as printed. */
  addrs: string[]
  stdout: () => string
  stderr: () => string
  /** Resolves with the exit code. */
  exited: Promise<number | null>
}

/** Starts a daemon child on `homeDir`; resolves once it printed its addresses (or exited). */
export async function startDaemon (homeDir: string, env: Record<string, string> = {}): Promise<Daemon> {
  const child = spawn(process.execPath, [DAEMON_SCRIPT, homeDir], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code) }))
  cleanups.push(async () => {
    if (child.exitCode === null) child.kill('SIGKILL')
    await exited
  })
  const ready = new Promise<void>((resolve) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d
      if (/Listening on:\n(\s+\/\S+\n)+/.test(out)) resolve()
    })
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d })
    void exited.then(() => { resolve() })
  })
  await ready
  await new Promise((resolve) => setTimeout(resolve, 50)) // the rest of the address lines
  const addrs = out.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('/'))
  return { child, addrs, stdout: () => out, stderr: () => err, exited }
}

export async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
