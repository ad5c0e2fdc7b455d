/**
 * Signed scan records between real daemons in separate processes (issue 4, part 2): a scan relayed by a third
 * node still verifies as its origin's, and a tampered record is refused by the puller and by `verify`.
 */
import { join } from 'node:path'
import { chmodSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ferry, initTestHome, json } from '../support/ferry.js'
import { DaemonSet, type Daemon } from '../support/daemon.js'
import { MiB, cleanup, hashTree, tempDir, writeTree } from '../support/tree.js'

const daemons = new DaemonSet()
const home = initTestHome
const daemon = async (dir: string, extra: string[] = []): Promise<Daemon> => await daemons.start(dir, extra)

/** Runs SQL on a home's catalog.db behind Ferry's back (no daemon may be running on it). */
function tamper (homeDir: string, sql: string, ...params: unknown[]): number {
  const db = new Database(join(homeDir, 'catalog.db'))
  try {
    return db.prepare(sql).run(...params).changes
  } finally {
    db.close()
  }
}

describe('signed scan records across three sites', () => {
  let tmp: string
  let scan: string
  let root: string
  let A: { dir: string, id: string }
  let B: { dir: string, id: string }
  let C: { dir: string, id: string }
  let dA: Daemon
  let dB: Daemon
  let atB: string
  let atC: string

  beforeAll(async () => {
    tmp = tempDir()
    scan = join(tmp, '20261125_DLS_i13_0042')
    const spec: Record<string, number | null> = { 'empty/': null, 'recon/vol.h5': 3 * MiB + 17, 'meta/scan.nxs': 21_400, 'meta/zero.txt': 0 }
    for (let i = 0; i < 12; i++) spec[`raw/proj_${String(i).padStart(4, '0')}.tif`] = 256 * 1024 + i
    writeTree(scan, spec)
    chmodSync(join(scan, 'meta/scan.nxs'), 0o640)
    symlinkSync('recon/vol.h5', join(scan, 'latest'))
    A = await home(tmp, 'diamond')
    B = await home(tmp, 'cern')
    C = await home(tmp, 'third')
    const added = await ferry(['add', scan, '--collection', '20261125_DLS_i13', '--json', '--home', A.dir])
    expect(added.code, added.stderr).toBe(0)
    root = json(added).root
    await ferry(['trust', B.id, '--home', A.dir])
    await ferry(['trust', C.id, '--home', B.dir])
    // C's address book names the origin; provenance shows the name
    const cfgFile = join(C.dir, 'config.json')
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'))
    cfg.peers = [{ name: 'diamond', id: A.id, addrs: [] }]
    writeFileSync(cfgFile, JSON.stringify(cfg, null, 2))

    // B pulls from A; then A goes away and C can only reach B
    dA = await daemon(A.dir)
    atB = join(tmp, 'at-cern')
    const r = await ferry(['pull', root, atB, '--from', dA.addr, '--json', '--home', B.dir])
    expect(r.code, r.stderr).toBe(0)
    await dA.stop()
    dB = await daemon(B.dir)
    atC = join(tmp, 'at-third')
  })
  afterAll(async () => {
    await daemons.stopAll()
    cleanup(tmp)
  })

  it('the origin signs at import: provenance says imported here, signature valid', async () => {
    const r = await ferry(['provenance', root, '--json', '--home', A.dir])
    expect(r.code, r.stderr).toBe(0)
    const [p] = json(r)
    expect(p).toMatchObject({ root, origin: A.id, originName: 'this node', signature: 'valid', importedHere: true, fetchedFrom: [], path: scan })
    expect(Date.parse(p.signedAt)).toBeGreaterThanOrEqual(Date.parse(p.created))
  })

  it('a scan relayed by a third node still verifies as the origin\'s', async () => {
    const pulled = await ferry(['pull', root, atC, '--from', dB.addr, '--json', '--home', C.dir])
    expect(pulled.code, pulled.stderr).toBe(0)
    const out = json(pulled)
    expect(hashTree(atC)).toEqual(hashTree(scan))
    expect(out.fromPeers).toEqual({ [B.id]: out.bytes })

    // provenance: signed by A (named from C's address book), fetched from B
    const prov = await ferry(['provenance', root, '--json', '--home', C.dir])
    expect(prov.code, prov.stderr).toBe(0)
    const [p] = json(prov)
    expect(p).toMatchObject({ origin: A.id, originName: 'diamond', signature: 'valid', importedHere: false, path: atC })
    expect(p.fetchedFrom).toEqual([{ peer: B.id, name: null, bytes: out.bytes, at: expect.any(String) }])
    const text = await ferry(['provenance', root, '--home', C.dir])
    expect(text.stdout).toContain(`origin      ${A.id} (diamond)`)
    expect(text.stdout).toContain(`came from   ${B.id}`)

    // B's copy came from A
    const [pb] = json(await ferry(['provenance', root, '--json', '--home', B.dir]))
    expect(pb).toMatchObject({ origin: A.id, signature: 'valid', importedHere: false })
    expect(pb.fetchedFrom.map((f: { peer: string }) => f.peer)).toEqual([A.id])

    // verify --signed-by the origin: signature, entry list, bytes; modes and mtimes as signed
    const v = await ferry(['verify', atC, root, '--signed-by', A.id, '--json', '--home', C.dir])
    expect(v.code, v.stderr).toBe(0)
    expect(json(v)).toMatchObject({ ok: true, signature: { signedBy: A.id, valid: true, metadata: [] } })
    const vt = await ferry(['verify', atC, root, '--signed-by', A.id, '--home', C.dir])
    expect(vt.stdout).toContain(`Signed by ${A.id} (diamond)`)

    // ...but not as B's, though B served it
    const wrong = await ferry(['verify', atC, root, '--signed-by', B.id, '--json', '--home', C.dir])
    expect(wrong.code).toBe(4)
    expect(json(wrong).error.code).toBe('ERR_WRONG_SIGNER')

    // a changed mode is reported as a note; a changed byte fails as before
    chmodSync(join(atC, 'meta/scan.nxs'), 0o600)
    const note = json(await ferry(['verify', atC, root, '--signed-by', A.id, '--json', '--home', C.dir]))
    expect(note.signature.metadata).toEqual([{ path: 'meta/scan.nxs', field: 'mode', expected: 0o640, actual: 0o600 }])
    chmodSync(join(atC, 'meta/scan.nxs'), 0o640)
  })

  it('a record tampered with at the relay is refused by the puller, and by verify', async () => {
    // someone at B edits a mode in B's catalog (the files themselves are untouched)
    await dB.stop()
    const changed = tamper(B.dir, 'UPDATE entries SET mode = mode | 2 WHERE path = ?', 'meta/scan.nxs')
    expect(changed).toBe(1)
    dB = await daemon(B.dir)

    const D = await home(tmp, 'fourth')
    await ferry(['trust', D.id, '--home', B.dir])
    const dest = join(tmp, 'at-fourth')
    const r = await ferry(['pull', root, dest, '--from', dB.addr, '--json', '--home', D.dir])
    expect(r.code, r.stdout).toBe(4)
    const err = json(r).error
    expect(err.code).toBe('ERR_BAD_SIGNATURE')
    expect(err.message).toContain(A.id)
    expect(err.details).toMatchObject({ origin: A.id, from: B.id })
    expect(existsSync(dest)).toBe(false) // refused before anything was written
    expect(json(await ferry(['scans', '--json', '--home', D.dir]))).toEqual([])

    // B's own check of its copy fails too: the files are right, the record is not
    const v = await ferry(['verify', atB, root, '--signed-by', A.id, '--json', '--home', B.dir])
    expect(v.code).toBe(4)
    expect(json(v).error.code).toBe('ERR_BAD_SIGNATURE')
    const prov = await ferry(['provenance', root, '--json', '--home', B.dir])
    expect(prov.code).toBe(4)
    expect(json(prov)[0]).toMatchObject({ signature: 'invalid' })
  })

  it('a tampered scan row and a missing signature are caught too', async () => {
    // C's catalog: the record claims another creation time
    expect(tamper(C.dir, 'UPDATE scans SET created = created + 1 WHERE root IS NOT NULL')).toBe(1)
    const v = await ferry(['verify', atC, root, '--signed-by', A.id, '--json', '--home', C.dir])
    expect(v.code).toBe(4)
    expect(json(v).error.code).toBe('ERR_BAD_SIGNATURE')

    // B serves the record without its signature (as a Ferry without signed records would): refused
    await dB.stop()
    expect(tamper(B.dir, 'UPDATE scans SET signature = NULL, signature_format = NULL, signed_at = NULL WHERE root IS NOT NULL')).toBe(1)
    dB = await daemon(B.dir)
    const E = await home(tmp, 'fifth')
    await ferry(['trust', E.id, '--home', B.dir])
    const r = await ferry(['pull', root, join(tmp, 'at-fifth'), '--from', dB.addr, '--json', '--home', E.dir])
    expect(r.code).toBe(4)
    expect(json(r).error.code).toBe('ERR_UNSIGNED')

    // a node without the record says so, with advice
    const none = await ferry(['verify', scan, root, '--signed-by', A.id, '--json', '--home', E.dir])
    expect(none.code).toBe(7)
    expect(json(none).error).toMatchObject({ code: 'ERR_ROOT_NOT_FOUND' })
    expect(json(none).error.message).toContain('ferry pull')
  })
})
