/**
 * The client's scan reader on its own: it does no I/O, so each case hands it the messages a peer would send
 * (already decoded) and checks where it ends: the record, the entries, or the error of the state it was in.
 * Over real streams, the same reader is exercised by the scan tests in exchange.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { MAX_SCAN_ENTRIES, scanReader, type ScanEntry, type ScanFrames, type ScanServerMessage, type WireScanRecord } from '@ferry/exchange'

const ROOT = CID.createV1(0x70, await sha256.digest(new TextEncoder().encode('root')))
const OTHER = CID.createV1(0x70, await sha256.digest(new TextEncoder().encode('other')))
const LEAF = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode('leaf')))

type Msg = Exclude<ScanServerMessage, { type: 'error' }>

const record = (over: Partial<WireScanRecord> = {}): Msg => ({
  type: 'scan-record',
  record: { root: ROOT, collection: 'c', name: 'n', origin: 'P', files: 2, directories: 1, symlinks: 0, bytes: 3, created: 1, skipped: 1, ...over }
})
const entry = (path: string): ScanEntry => ({ path, type: 'file', size: 1, mode: 0o644, mtimeMs: 1, cid: LEAF })
const skipped = (n: number): Msg => ({ type: 'scan-skipped', skipped: Array.from({ length: n }, (_, i) => ({ path: `s${i}`, code: 'EACCES', message: 'no' })) })
const entries = (...paths: string[]): Msg => ({ type: 'scan-entries', entries: paths.map(entry) })
const end = (n: number, s = 1): Msg => ({ type: 'scan-end', entries: n, skipped: s })

/** Frames from a list; counts the credits granted. */
function frames (msgs: Msg[]): ScanFrames & { granted: number } {
  const queue = [...msgs]
  const f = {
    granted: 0,
    read: async (): Promise<Msg> => {
      const m = queue.shift()
      if (m === undefined) throw new Error('read past the last message')
      return m
    },
    grant: () => { f.granted++ }
  }
  return f
}

/** Runs the reader through every state; returns the paths read and the credits granted, or throws. */
async function readAll (msgs: Msg[]): Promise<{ paths: string[], skipped: number, granted: number }> {
  const f = frames(msgs)
  const atSkipped = await scanReader(f, { root: ROOT, peer: 'P', what: 'scan' }).next()
  expect(atSkipped.state).toBe('skipped')
  const at = await atSkipped.next()
  expect(at.state).toBe('entries')
  const paths: string[] = []
  while (true) {
    const step = await at.next()
    if (step.state === 'end') {
      expect(step.entries).toBe(paths.length)
      return { paths, skipped: at.record.skipped.length, granted: f.granted }
    }
    paths.push(...step.entries.map((e) => e.path))
  }
}

describe('scanReader', () => {
  it('reads record → skipped → entries → end, granting a credit per frame taken', async () => {
    const r = await readAll([record(), skipped(1), entries('a', 'b'), entries('c'), end(3)])
    expect(r).toEqual({ paths: ['a', 'b', 'c'], skipped: 1, granted: 3 })
  })

  it('reads a scan without skipped entries or entries', async () => {
    expect(await readAll([record({ skipped: 0 }), end(0, 0)])).toEqual({ paths: [], skipped: 0, granted: 0 })
  })

  it.each<[string, Msg[], string, RegExp]>([
    // state record
    ['NOT_FOUND for the root', [{ type: 'status', cid: ROOT, status: 'not-found', message: 'no' }], 'ERR_ROOT_NOT_FOUND', /is not on peer P/],
    ['another frame first', [entries('a')], 'ERR_PROTOCOL', /did not start scan with SCAN_RECORD/],
    ['a record of another root', [record({ root: OTHER })], 'ERR_PROTOCOL', /answered for root/],
    ['too many skipped announced', [record({ skipped: MAX_SCAN_ENTRIES + 1 })], 'ERR_PROTOCOL', /announced \d+ skipped entries/],
    // state skipped
    ['entries before all skipped', [record({ skipped: 2 }), skipped(1), entries('a')], 'ERR_PROTOCOL', /sent scan-entries before all 2 skipped/],
    ['more skipped than announced', [record({ skipped: 1 }), skipped(2)], 'ERR_PROTOCOL', /sent 2 skipped entries for scan, announced 1/],
    // state entries
    ['a second record among the entries', [record(), skipped(1), entries('a'), record()], 'ERR_PROTOCOL', /sent scan-record inside the entries/],
    ['an end that counts other entries', [record(), skipped(1), entries('a'), end(2)], 'ERR_PROTOCOL', /claiming 2 entries and 1 skipped, but sent 1 and 1/],
    ['an end that counts other skipped', [record(), skipped(1), end(0, 0)], 'ERR_PROTOCOL', /claiming 0 entries and 0 skipped, but sent 0 and 1/]
  ])('fails on %s', async (_name, msgs, code, message) => {
    const err = await readAll(msgs).then(() => undefined, (e: unknown) => e)
    expect(err).toMatchObject({ code })
    expect((err as Error).message).toMatch(message)
  })
})
