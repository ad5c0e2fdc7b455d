import { lstat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ExitCode, FerryError } from '@ferry/errors'
import { verifyDirectory, walkDag, type Difference } from '@ferry/dag'
import { parseSigner, readLeaf, type Home, type ScanRecord } from '@ferry/store'
import type { CID } from 'multiformats/cid'
import type { Command } from '../command.js'
import { printJson, println, withHome } from '../context.js'
import { parseRoot } from '../cid.js'
import { formatBytes, plural } from '../format.js'
import { ProgressLine, type ProgressState } from '../progress.js'

function describe (d: Difference): string {
  switch (d.kind) {
    case 'missing': return `missing     ${d.path} (${d.expected})`
    case 'extra': return `extra       ${d.path} (${d.actual})`
    case 'type': return `wrong type  ${d.path}: ${d.actual}, expected ${d.expected}`
    case 'target': return `changed     ${d.path}: symlink to '${d.actual}', expected '${d.expected}'`
    case 'unreadable': return `unreadable  ${d.path}: ${d.message} (${d.code})`
    case 'changed': {
      const where = d.exact ? `first bad byte at offset ${d.offset}` : `first bad chunk at offset ${d.offset}`
      const sizes = d.actualSize === d.expectedSize ? `size ${d.actualSize}` : `size ${d.actualSize}, expected ${d.expectedSize}`
      return `changed     ${d.path}: ${where} (${sizes})`
    }
  }
}

/** A difference between the signed modes/mtimes and the directory (reported, not a failure). */
interface MetadataDifference { path: string, field: 'mode' | 'mtime', expected: number, actual: number }

/** Name of a peer in this node's address book, for messages. */
export function peerLabel (home: Home, id: string): string {
  if (id === home.peerId.toString()) return `${id} (this node)`
  const name = home.config.peers.find((p) => p.id === id)?.name
  return name !== undefined ? `${id} (${name})` : id
}

/**
 * The catalog's record of `root` that `--signed-by` checks: the one registered for `dir` if any, else the
 * newest signed by `signer`, else the newest. ERR_ROOT_NOT_FOUND (with advice) if this node has none.
 */
export function recordFor (home: Home, root: CID, dir: string | undefined, signer?: string): ScanRecord {
  const all = home.catalog.listScans().filter((s) => s.root?.equals(root) === true).reverse()
  const chosen = all.find((s) => s.sourcePath === dir) ?? all.find((s) => s.origin === signer) ?? all[0]
  if (chosen === undefined) {
    throw new FerryError('ERR_ROOT_NOT_FOUND', `This node's catalog has no record of scan ${root.toString()}: pull it (\`ferry pull ${root.toString()} <dest> --from ...\`) or import it, then check it`, { details: { root: root.toString() } })
  }
  return chosen
}

/**
 * Checks the catalog's record of `root` against `signer`: it names `signer` as its origin, carries a signature
 * that verifies over the record and every stored entry, and its entry list describes exactly the DAG under
 * `root` (so the byte check below covers what was signed). ERR_WRONG_SIGNER / ERR_UNSIGNED / ERR_BAD_SIGNATURE.
 */
async function checkSigned (home: Home, scan: ScanRecord, root: CID, signer: string, signal: AbortSignal): Promise<void> {
  const details = { root: root.toString(), origin: scan.origin, signedBy: signer }
  if (scan.origin !== signer) {
    throw new FerryError('ERR_WRONG_SIGNER', `The record of ${root.toString()} here names ${peerLabel(home, scan.origin)} as its origin, not ${peerLabel(home, signer)}: it is not that node's scan`, { details })
  }
  if (scan.signature === undefined) {
    throw new FerryError('ERR_UNSIGNED', `The record of ${root.toString()} here is not signed (imported by a Ferry without signed records): re-import it on its origin with \`ferry add\`, or pull it again`, { details })
  }
  const check = await home.catalog.checkSignature(scan, signer)
  if (!check.ok) {
    throw new FerryError('ERR_BAD_SIGNATURE', `The record of ${root.toString()} in this node's catalog does not verify as signed by ${peerLabel(home, signer)}: ${check.reason}. Do not trust it; pull the scan again from a good peer`, { details })
  }
  let walked = 0
  for await (const d of walkDag(root, home.blocks.get.bind(home.blocks), { signal })) {
    walked++
    const e = home.catalog.getEntry(scan.id, d.path)
    if (e === undefined || e.type !== d.type || !e.cid.equals(d.cid) || (d.type === 'file' && e.size !== d.size)) {
      throw new FerryError('ERR_BAD_SIGNATURE', `The signed entry list of ${root.toString()} does not match its DAG at "${d.path}"`, { details: { ...details, path: d.path } })
    }
  }
  const listed = scan.files + scan.directories + scan.symlinks
  if (walked !== listed) throw new FerryError('ERR_BAD_SIGNATURE', `The signed record of ${root.toString()} counts ${listed} entries, its DAG has ${walked}`, { details })
}

/** Modes (permission bits) and mtimes in `dir` that differ from the signed entry list. */
async function metadataDifferences (home: Home, scan: ScanRecord, dir: string): Promise<MetadataDifference[]> {
  const out: MetadataDifference[] = []
  for (const e of home.catalog.entries(scan.id)) {
    const st = await lstat(e.path === '' ? dir : join(dir, e.path)).catch(() => undefined)
    if (st === undefined) continue // reported by the byte check
    if (e.type !== 'symlink' && (st.mode & 0o7777) !== (e.mode & 0o7777)) out.push({ path: e.path, field: 'mode', expected: e.mode & 0o7777, actual: st.mode & 0o7777 })
    if (e.type === 'file' && Math.abs(st.mtimeMs - e.mtimeMs) >= 1) out.push({ path: e.path, field: 'mtime', expected: e.mtimeMs, actual: st.mtimeMs })
  }
  return out
}

export const verify: Command = {
  name: 'verify',
  summary: 'Prove that a directory matches a root: names, tree shape and every byte',
  usage: '<dir> <root> [--signed-by PEERID] [--json]',
  help: [
    'Hashes every file under <dir> and compares it with the scan <root> (which this node must know).',
    'Lists every difference: missing, extra, wrong type, changed (with the first bad byte offset when this',
    'node holds the original bytes, else the first bad 1 MiB chunk) and unreadable entries.',
    'Never modifies <dir>. Exits 0 when it matches, 4 when it does not.',
    '',
    '  --signed-by PEERID   also prove who attested it: the catalog\'s record of <root> must name PEERID as its',
    '                       origin and carry PEERID\'s valid signature over the record and every entry (paths,',
    '                       sizes, modes, mtimes). Exits 4 with ERR_WRONG_SIGNER, ERR_UNSIGNED or',
    '                       ERR_BAD_SIGNATURE otherwise. Modes and file mtimes in <dir> that differ from the',
    '                       signed ones are listed as notes (they do not change the exit code).'
  ].join('\n'),
  options: { 'signed-by': { type: 'string' } },
  positionals: [2, 2],
  async run (ctx, [dirArg, rootArg], flags) {
    const dir = resolve(dirArg ?? '.')
    const root = parseRoot(rootArg ?? '')
    const signer = flags['signed-by'] === undefined ? undefined : parseSigner(String(flags['signed-by']))
    return await withHome(ctx, async (home) => {
      let signed: { scan: ScanRecord, metadata: MetadataDifference[] } | undefined
      if (signer !== undefined) {
        const scan = recordFor(home, root, dir, signer)
        await checkSigned(home, scan, root, signer, ctx.signal)
        signed = { scan, metadata: [] }
      }
      if (!(await home.blocks.has(root))) {
        throw new FerryError('ERR_ROOT_NOT_FOUND', `Root ${root.toString()} is not known here: import or pull the scan first, then verify`)
      }
      const state: ProgressState = { files: 0, bytes: 0 }
      const bar = ctx.json ? undefined : new ProgressLine('verifying', state, ctx.stderr)
      let result
      try {
        result = await verifyDirectory(dir, root, home.blocks.get.bind(home.blocks), {
          signal: ctx.signal,
          readLeaf: async (cid) => {
            const r = await readLeaf(home.catalog, cid, { signal: ctx.signal })
            return r.status === 'ok' ? r.bytes : undefined
          },
          onProgress: (e) => {
            if (e.type === 'verify:file') {
              state.files++
              state.bytes += e.size
            }
          }
        })
      } finally {
        bar?.stop()
      }
      if (signed !== undefined) signed.metadata = await metadataDifferences(home, signed.scan, dir)
      const signature = signed === undefined
        ? undefined
        : { signedBy: signed.scan.origin, valid: true, created: new Date(signed.scan.created).toISOString(), signedAt: new Date(signed.scan.signature?.signedAt ?? 0).toISOString(), metadata: signed.metadata }
      if (ctx.json) {
        printJson(ctx, { ok: result.ok, dir, root: root.toString(), files: result.files, directories: result.directories, symlinks: result.symlinks, bytes: result.bytes, differences: result.differences, ...(signature !== undefined ? { signature } : {}) })
      } else if (result.ok) {
        println(ctx, `OK: ${dir} matches ${root.toString()} (${plural(result.files, 'file')}, ${plural(result.directories, 'directory', 'directories')}, ${formatBytes(result.bytes)} verified)`)
        if (signed !== undefined) println(ctx, `Signed by ${peerLabel(home, signed.scan.origin)} at ${signature?.signedAt ?? ''}: signature valid over the record and ${plural(signed.scan.files + signed.scan.directories + signed.scan.symlinks, 'entry', 'entries')}`)
        for (const m of signed?.metadata ?? []) {
          const show = (v: number): string => m.field === 'mode' ? `0${v.toString(8)}` : new Date(v).toISOString()
          println(ctx, `  note: ${m.field} of ${m.path === '' ? '.' : m.path} is ${show(m.actual)}, signed ${show(m.expected)}`)
        }
      } else {
        println(ctx, `MISMATCH: ${dir} does not match ${root.toString()}: ${plural(result.differences.length, 'difference')}`)
        for (const d of result.differences) println(ctx, `  ${describe(d)}`)
      }
      return result.ok ? ExitCode.OK : ExitCode.VERIFY_FAILED
    })
  }
}
