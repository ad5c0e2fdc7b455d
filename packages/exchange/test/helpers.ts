/**
 * Real pieces for the network tests: libp2p nodes (TCP on 127.0.0.1, Noise, yamux) and a temp store with
 * an imported scan. Tests serve it with `homeSources` from @ferry/node, the very BlockSource/ScanSource a
 * Ferry node serves (a test may import a package above the one it tests; the build graph is not involved).
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { importDirectory } from '@ferry/dag'
import { initHome, type Home } from '@ferry/store'
import type { CID } from 'multiformats/cid'
import { pattern } from '../../../test/support/unit.js'

const cleanups: Array<() => Promise<void>> = []

/** Runs every registered cleanup (call from afterEach/afterAll). */
export async function cleanup (): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {})
}

export async function tempDir (prefix = 'ferry-exchange-'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix))
  cleanups.push(async () => { await fs.rm(dir, { recursive: true, force: true }) })
  return dir
}

/** A started libp2p node listening on loopback. */
export async function makeNode (): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false }
  })
  cleanups.push(async () => { await node.stop() })
  return node
}

export interface TestScan {
  home: Home
  dir: string
  root: CID
  /** Raw leaves by relative file path, in order. */
  leaves: Map<string, CID[]>
  /** dag-pb blocks (file and directory nodes). */
  inner: CID[]
}

/** A home with one imported scan of a small tree (a multi-leaf file, small files, a symlink, a subdir). */
export async function makeScan (): Promise<TestScan> {
  const base = await tempDir()
  const dir = path.join(base, 'scan')
  await fs.mkdir(path.join(dir, 'sub'), { recursive: true })
  await fs.writeFile(path.join(dir, 'big.raw'), pattern(3 * 1024 * 1024 + 1234, 1))
  await fs.writeFile(path.join(dir, 'small.txt'), 'hello ferry\n')
  await fs.writeFile(path.join(dir, 'sub', 'one.bin'), pattern(70_000, 2))
  await fs.writeFile(path.join(dir, 'sub', 'empty'), '')
  await fs.symlink('small.txt', path.join(dir, 'link'))
  const home = await initHome(path.join(base, 'home'))
  cleanups.push(async () => { await home.close() })
  const writer = home.catalog.createScanWriter({ collection: 'c1', name: 'scan', sourcePath: dir, origin: home.peerId.toString() })
  const result = await importDirectory(dir, {
    sink: {
      putBlocks: async (blocks) => { await home.blocks.putMany(blocks) },
      addEntry: (e) => { writer.addEntry(e) },
      addSource: (p, size, mtimeMs, leaves) => { writer.addSource(p, size, mtimeMs, leaves) }
    }
  })
  await writer.commitSigned({ root: result.root, files: result.files, directories: result.directories, symlinks: result.symlinks, bytes: result.bytes, skipped: result.skipped }, home.privateKey)
  const leaves = new Map<string, CID[]>()
  const inner: CID[] = []
  const scan = home.catalog.getScan(result.root)
  for (const e of home.catalog.entries(scan!.id)) {
    if (e.cid.code === 0x70) inner.push(e.cid)
    if (e.type === 'file') leaves.set(e.path, home.catalog.getSource(path.join(dir, e.path))?.leaves.map((l) => l.cid) ?? [])
  }
  return { home, dir, root: result.root, leaves, inner }
}

/** Resolves after `ms`. */
export async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
