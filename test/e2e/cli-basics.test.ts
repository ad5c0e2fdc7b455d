import { execFileSync } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { chmodSync, existsSync, statSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FERRY_BIN, ferry, json } from '../support/ferry.js'
import { privilegeDropProblem, requireInCi } from '../support/ci.js'
import { cleanup, tempDir, writeTree } from '../support/tree.js'

describe('the ferry launcher (packages/cli/bin/ferry)', () => {
  let tmp: string
  beforeAll(() => { tmp = tempDir() })
  afterAll(() => { cleanup(tmp) })

  /**
   * What the launcher hands Node for `ferry <args>` (through a stand-in for node that prints its arguments),
   * with `vars` set in its environment (undefined: unset), leaving out --single-threaded-gc (a one-CPU
   * machine's) and the flags that start with `other` (another test's).
   */
  const nodeArgs = (args: string[], vars: Record<string, string | undefined>, other: string): string[] => {
    const probe = join(tmp, 'probe-node-args.sh')
    writeFileSync(probe, '#!/bin/sh\nprintf "%s\\n" "$@"\n')
    chmodSync(probe, 0o755)
    const env: NodeJS.ProcessEnv = { ...process.env, FERRY_NODE: probe }
    for (const [k, v] of Object.entries(vars)) {
      if (v !== undefined) env[k] = v
      else delete env[k]
    }
    return execFileSync(FERRY_BIN, args, { env }).toString().trimEnd().split('\n').filter((a) => a !== '--single-threaded-gc' && !a.startsWith(other))
  }

  it('runs the bundle with the allocator settings, lets the environment override them, and passes arguments through', async () => {
    // a stand-in for node that prints what it was given: the launcher's contract, not Node's
    const probe = join(tmp, 'probe.sh')
    writeFileSync(probe, '#!/bin/sh\nprintf "%s\\n" "$MALLOC_MMAP_THRESHOLD_" "$MALLOC_TRIM_THRESHOLD_" "$MALLOC_TOP_PAD_" "$@"\n')
    chmodSync(probe, 0o755)
    const r = await ferry(['pull', 'a b', '--json'], { env: { FERRY_NODE: probe, MALLOC_TRIM_THRESHOLD_: '12345' } })
    expect(r.code, r.stderr).toBe(0)
    const [mmap, trim, pad, ...rest] = r.stdout.trimEnd().split('\n')
    expect([mmap, trim, pad]).toEqual(['33554432', '12345', '16777216'])
    const [semi, grow, script, ...args] = rest[0] === '--single-threaded-gc' ? rest.slice(1) : rest // on a one-CPU machine
    expect(semi).toBe('--max-semi-space-size=8') // `ferry pull` and `ferry daemon` only: a small young generation
    expect(grow).toBe('--heap-growing-percent=50') // `ferry pull` only: an old generation that grows 1.5x, not ~3x
    expect(script).toMatch(/\/packages\/cli\/bin\/\.\.\/bundle\/ferry\.js$/)
    expect(existsSync(script!)).toBe(true)
    expect(args).toEqual(['pull', 'a b', '--json'])
  })

  it('gives `ferry pull` and `ferry daemon` a small young generation, another size with FERRY_SEMI_SPACE_MB, none with 0, other commands none', () => {
    const run = (args: string[], semi?: string): string[] => nodeArgs(args, { FERRY_SEMI_SPACE_MB: semi, FERRY_HEAP_GROWING_PERCENT: undefined }, '--heap-growing-percent=')
    expect(run(['pull', 'x'])[0]).toBe('--max-semi-space-size=8')
    expect(run(['pull', 'x'], '4')[0]).toBe('--max-semi-space-size=4')
    expect(run(['pull', 'x'], '0')[0]).toMatch(/\/bundle\/ferry\.js$/)
    expect(run(['daemon'])[0]).toBe('--max-semi-space-size=8')
    expect(run(['daemon'], '0')[0]).toMatch(/\/bundle\/ferry\.js$/)
    expect(run(['add', 'x'])[0]).toMatch(/\/bundle\/ferry\.js$/)
  })

  it('lets `ferry pull` grow V8\'s old generation by 50% between full collections, another share with FERRY_HEAP_GROWING_PERCENT, V8\'s own with 0, for a follow and for other commands V8\'s own', () => {
    const run = (args: string[], grow?: string): string[] => nodeArgs(args, { FERRY_SEMI_SPACE_MB: undefined, FERRY_HEAP_GROWING_PERCENT: grow }, '--max-semi-space-size=')
    expect(run(['pull', 'x'])[0]).toBe('--heap-growing-percent=50')
    expect(run(['pull', 'x'], '100')[0]).toBe('--heap-growing-percent=100')
    expect(run(['pull', 'x'], '0')[0]).toMatch(/\/bundle\/ferry\.js$/)
    expect(run(['pull', '--collection', 'c', 'd', '--follow'])[0]).toMatch(/\/bundle\/ferry\.js$/) // a live follow: V8's own
    expect(run(['daemon'])[0]).toMatch(/\/bundle\/ferry\.js$/)
    expect(run(['add', 'x'])[0]).toMatch(/\/bundle\/ferry\.js$/)
  })

  it('collects garbage on the main thread when it may use one CPU only (taskset), not otherwise', () => {
    const probe = join(tmp, 'probe-args.sh')
    writeFileSync(probe, '#!/bin/sh\nprintf "%s\\n" "$@"\n')
    chmodSync(probe, 0o755)
    const run = (cpus: string): string[] => execFileSync('taskset', ['-c', cpus, FERRY_BIN, 'id'], { env: { ...process.env, FERRY_NODE: probe } }).toString().trimEnd().split('\n')
    expect(run('0')[0]).toBe('--single-threaded-gc')
    expect(run('0').slice(2)).toEqual(['id'])
    if (availableParallelism() > 1) expect(run('0,1')[0]).toMatch(/\/bundle\/ferry\.js$/)
  })

  it('the real thing answers, from the bundle', async () => {
    const r = await ferry(['--version'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^ferry \d+\.\d+\.\d+/)
  })
})

describe('ferry init / id / usage errors', () => {
  let tmp: string
  beforeAll(() => { tmp = tempDir() })
  afterAll(() => { cleanup(tmp) })

  it('init creates a private home with an Ed25519 identity, and id prints the same PeerId', async () => {
    const home = join(tmp, 'home')
    const r = await ferry(['init', '--home', home, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const { peerId } = json(r)
    expect(peerId).toMatch(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/) // Ed25519 peer IDs are identity multihashes
    expect(statSync(home).mode & 0o777).toBe(0o700)
    expect(statSync(join(home, 'identity.key')).mode & 0o777).toBe(0o600)
    const id = await ferry(['id', '--json'], { env: { FERRY_HOME: home } })
    expect(id.code, id.stderr).toBe(0)
    expect(json(id).peerId).toBe(peerId)
    const plain = await ferry(['id', '--home', home])
    expect(plain.stdout.trim()).toBe(peerId)
  })

  it('init refuses an existing home and keeps its identity', async () => {
    const home = join(tmp, 'twice')
    const first = json(await ferry(['init', '--home', home, '--json']))
    const again = await ferry(['init', '--home', home])
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('already exists')
    expect(again.stderr).not.toMatch(/\n\s+at /) // no stack trace
    expect(json(await ferry(['id', '--home', home, '--json'])).peerId).toBe(first.peerId)
  })

  it('commands on a missing home say to run ferry init (exit 7)', async () => {
    const r = await ferry(['scans', '--home', join(tmp, 'nope')])
    expect(r.code).toBe(7)
    expect(r.stderr).toContain('ferry init')
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('usage errors exit 2 with one line and the usage, never a stack trace', async () => {
    const unknown = await ferry(['frobnicate'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("Unknown command 'frobnicate'")
    const badFlag = await ferry(['scans', '--bogus'])
    expect(badFlag.code).toBe(2)
    expect(badFlag.stderr).toContain('Usage: ferry scans')
    const missingArg = await ferry(['verify', '/tmp'])
    expect(missingArg.code).toBe(2)
    for (const r of [unknown, badFlag, missingArg]) expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('bad input named on the command line is reported, not thrown', async () => {
    const home = join(tmp, 'badinput')
    await ferry(['init', '--home', home])
    const badCid = await ferry(['ls', 'not-a-cid', '--home', home])
    expect(badCid.code).toBe(2)
    expect(badCid.stderr).toContain('Not a valid root CID')
    const file = join(tmp, 'plain-file')
    writeFileSync(file, 'x')
    const notDir = await ferry(['add', file, '--home', home])
    expect(notDir.code).toBe(2)
    expect(notDir.stderr).toContain('Not a directory')
    const missing = await ferry(['add', join(tmp, 'does-not-exist'), '--home', home, '--json'])
    expect(missing.code).toBe(7)
    expect(json(missing).error.code).toBe('ERR_NOT_FOUND')
    const unknownRoot = await ferry(['ls', 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi', '--home', home])
    expect(unknownRoot.code).toBe(7)
    expect(unknownRoot.stderr).toContain('not known here')
  })

  it('--debug shows the stack of an error', async () => {
    const r = await ferry(['scans', '--home', join(tmp, 'nope2'), '--debug'])
    expect(r.code).toBe(7)
    expect(r.stderr).toMatch(/\n\s+at /)
  })

  it('a home that cannot be written is an I/O error, not a crash (as an unprivileged user)', async (ctx) => {
    const why = privilegeDropProblem()
    if (why !== undefined) requireInCi(ctx, why)
    const parent = join(tmp, 'locked')
    writeTree(parent, { 'x/': null })
    chmodSync(parent, 0o555)
    const r = await ferry(['init', '--home', join(parent, 'home')], { asUser: { uid: 65534, gid: 65534 } })
    expect(r.code).toBe(8)
    expect(r.stderr).toContain('Permission denied')
  })
})
