/**
 * LeafReaderPool on real worker threads, a real catalog and real files: small leaves asked for together go
 * to a worker in few messages, and every answer is the right leaf's (a reply matched to the wrong request
 * would not hash to its CID), a changed file among them answered as changed.
 */
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LeafReaderPool } from '@ferry/node'
import { addScan, cleanup, makeHome, onCleanup, tempDir } from './helpers.js'

afterEach(cleanup)

const SMALL_FILES = 300

async function smallTree (dir: string): Promise<void> {
  await fs.mkdir(path.join(dir, 'big'), { recursive: true })
  for (let i = 0; i < SMALL_FILES; i++) await fs.writeFile(path.join(dir, `f_${String(i).padStart(3, '0')}.dat`), randomBytes(1 + (i * 37) % 4096))
  await fs.writeFile(path.join(dir, 'big', 'volume.raw'), randomBytes(3 * 1024 * 1024)) // 1 MiB leaves: one message each
}

function digestOf (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

describe('LeafReaderPool', () => {
  it('reads many small leaves in few worker messages, each answer its own leaf, a changed file as changed', async () => {
    const home = await makeHome()
    const dir = path.join(await tempDir(), 'scan')
    await smallTree(dir)
    const scan = await addScan(home, dir)
    await fs.writeFile(path.join(dir, 'f_007.dat'), 'rewritten after the import')
    const pool = new LeafReaderPool({ workers: 1 })
    onCleanup(async () => { await pool.close() })
    const signal = AbortSignal.timeout(30_000)
    const asked = [...scan.files.entries()].flatMap(([file, cids]) => cids.map((cid) => ({ file, cid })))
    const answers = await Promise.all(asked.map(async ({ cid }) => await pool.reader(home, cid, signal)))
    for (const [i, { file, cid }] of asked.entries()) {
      const a = answers[i]!
      if (file === 'f_007.dat') {
        expect(a.status).toBe('changed')
        continue
      }
      expect(a.status, file).toBe('ok')
      if (a.status !== 'ok') continue
      expect(digestOf(a.bytes), file).toBe(Buffer.from(cid.multihash.digest).toString('hex'))
      if (file !== path.join('big', 'volume.raw')) expect(Buffer.from(a.bytes).equals(await fs.readFile(path.join(dir, file))), file).toBe(true)
    }
    const bigLeaves = scan.files.get(path.join('big', 'volume.raw'))!.length
    expect(pool.stats.leaves).toBe(SMALL_FILES + bigLeaves)
    // the small leaves share a handful of messages (at most LEAF_BATCH_LEAVES each); the 1 MiB ones go alone
    expect(pool.stats.messages).toBeLessThanOrEqual(bigLeaves + 4)
  })

  it('still answers a lone small leaf (its batch goes at the end of the turn)', async () => {
    const home = await makeHome()
    const dir = path.join(await tempDir(), 'scan')
    await fs.mkdir(dir, { recursive: true })
    await fs.writeFile(path.join(dir, 'one.txt'), 'one small file\n')
    const scan = await addScan(home, dir)
    const pool = new LeafReaderPool({ workers: 1 })
    onCleanup(async () => { await pool.close() })
    const a = await pool.reader(home, scan.leaves[0]!, AbortSignal.timeout(30_000))
    expect(a.status === 'ok' && Buffer.from(a.bytes).toString()).toBe('one small file\n')
    expect(pool.stats).toEqual({ leaves: 1, messages: 1 })
  })
})
