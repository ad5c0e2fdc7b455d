import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach } from 'vitest'

const dirs: string[] = []

/** A fresh temporary directory, removed after the test. */
export async function tempDir (): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ferry-store-'))
  dirs.push(dir)
  return dir
}

afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true })
})

/** A CID with the given codec over `bytes`. */
export async function cidOf (bytes: Uint8Array, code = 0x70): Promise<CID> {
  return CID.createV1(code, await sha256.digest(bytes))
}

/** A pseudo dag-pb block (the store does not parse nodes, it only hashes them). */
export async function block (seed: string): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new TextEncoder().encode(`node:${seed}`)
  return { cid: await cidOf(bytes), bytes }
}

/** A raw-leaf CID for `seed`. */
export async function leafCid (seed: string): Promise<CID> {
  return await cidOf(new TextEncoder().encode(`leaf:${seed}`), 0x55)
}

/** Expects `p` to reject with a FerryError of `code`; returns it. */
export async function rejectsWith (p: Promise<unknown> | (() => unknown), code: string): Promise<Error & { code: string }> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    const e = err as Error & { code: string }
    if (e.name !== 'FerryError' || e.code !== code) throw new Error(`expected FerryError ${code}, got ${e.name} ${e.code}: ${e.message}`, { cause: err })
    return e
  }
  throw new Error(`expected FerryError ${code}, but it succeeded`)
}
