/**
 * The task service in this process, pulling from real `ferry daemon` processes over loopback, into real
 * directories: counters, one writer per destination, permanent failures and retry, cancel, deadline, hooks.
 */
import { readFileSync, rmSync, writeFileSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { openHome, type Home } from '@ferry/store'
import { createFerryNode, type FerryNode } from '@ferry/node'
import type { BlockPeer } from '@ferry/transfer'
import { createTaskService, FAILURE_KINDS, classify, queueTask, type TaskService, type TaskServiceInit, type TaskUpdate } from '@ferry/tasks'
import { ferry, initTestHome, json } from '../../../test/support/ferry.js'
import { DaemonSet, type Daemon } from '../../../test/support/daemon.js'
import { MiB, bytes, cleanup, hashTree, tempDir, writeTree } from '../../../test/support/tree.js'

const daemons = new DaemonSet()

describe('task service', () => {
  let tmp: string
  let scan: string
  let root: string
  let big: string
  let bigRoot: string
  let src: { dir: string, id: string }
  let puller: { dir: string, id: string }
  let dSrc: Daemon
  let home: Home
  let node: FerryNode
  const services: TaskService[] = []
  const spec: Record<string, number | null> = { 'empty/': null, 'a/one.bin': MiB + 17, 'a/two.bin': 300_000, 'b/three.bin': 2 * MiB, 'four.txt': 12 }

  const service = (extra: Partial<TaskServiceInit> = {}): TaskService => {
    const s = createTaskService({
      home,
      dialPeer: async (addr, signal) => (await node.dialPeer(addr, { signal })) as BlockPeer,
      persistMs: 200,
      retryInitialMs: 200,
      retryMaxMs: 1000,
      pollMs: 200,
      ...extra
    })
    services.push(s)
    return s
  }

  /** A scan of `spec`'s shape with content of its own (seeded by `name`), added at the source. */
  const addScan = async (name: string): Promise<{ dir: string, root: string }> => {
    const dir = join(tmp, name)
    writeTree(dir, Object.fromEntries(Object.entries(spec).map(([rel, size]) => [rel, size === null ? null : bytes(size, `${name}/${rel}`)])))
    return { dir, root: json(await ferry(['add', dir, '--collection', 'i13_visit', '--json', '--home', src.dir])).root }
  }

  beforeAll(async () => {
    tmp = tempDir('ferry-tasks-')
    scan = join(tmp, 'scan')
    writeTree(scan, spec)
    big = join(tmp, 'big')
    writeTree(big, { 'vol.h5': 48 * MiB, 'proj.tif': 16 * MiB })
    src = await initTestHome(tmp, 'src')
    puller = await initTestHome(tmp, 'puller')
    root = json(await ferry(['add', scan, '--collection', 'i13_visit', '--json', '--home', src.dir])).root
    bigRoot = json(await ferry(['add', big, '--json', '--home', src.dir])).root
    await ferry(['trust', puller.id, '--home', src.dir])
    dSrc = await daemons.start(src.dir)
    home = await openHome(puller.dir)
    node = await createFerryNode({ home, listen: [] })
  })
  afterEach(async () => {
    for (const s of services.splice(0)) await s.close()
  })
  afterAll(async () => {
    await node?.stop()
    await home?.close()
    await daemons.stopAll()
    cleanup(tmp)
  })

  it('a task succeeds: bytes equal, counters right, events logged; the same request again is the same task', async () => {
    const tasks = service()
    const dest = join(tmp, 'ok')
    const updates: TaskUpdate[] = []
    const unsubscribe = tasks.subscribe((u) => { updates.push(u) })
    const { task, existing } = tasks.create({ root, destination: dest, sources: [dSrc.addr], label: 'first' })
    expect(existing).toBe(false)
    expect(tasks.create({ root, destination: dest, sources: [dSrc.addr] })).toMatchObject({ existing: true, task: { taskId: task.taskId } })
    const done = await tasks.waitFor(task.taskId)
    expect(hashTree(dest)).toEqual(hashTree(scan))
    const total = MiB + 17 + 300_000 + 2 * MiB + 12
    expect(done).toMatchObject({ condition: 'SUCCEEDED', label: 'first', files: 4, succeeded: 4, failed: 0, pending: 0, skipped: 0, bytesTotal: total, bytesTransferred: total, collection: 'i13_visit', reason: null })
    expect(done.directories).toBe(4)
    expect(done.fromPeers).toEqual({ [src.id]: total }) // every byte from the one source, by its PeerId
    expect(done.effectiveSpeed).toBeGreaterThan(0)
    expect(done.completed).not.toBeNull()
    expect(tasks.get(task.taskId)?.fileErrors).toEqual([])
    expect(tasks.events(task.taskId).map((e) => e.kind)).toEqual(['created', 'attempt', 'ended'])
    // live updates: the record as it went QUEUED -> ACTIVE -> SUCCEEDED, and each event as it was logged
    unsubscribe()
    const conditions = updates.flatMap((u) => (u.type === 'task' && u.task.taskId === task.taskId ? [u.task.condition] : []))
    expect(conditions[0]).toBe('QUEUED')
    expect(conditions).toContain('ACTIVE')
    expect(conditions.at(-1)).toBe('SUCCEEDED')
    expect(updates.flatMap((u) => (u.type === 'event' ? [u.event.kind] : []))).toEqual(['created', 'attempt', 'ended'])
    // a second task for the same replication once the first ended: a no-op that fetches nothing
    const again = await tasks.waitFor(tasks.create({ root, destination: dest, sources: [dSrc.addr] }).task.taskId)
    expect(again).toMatchObject({ condition: 'SUCCEEDED', bytesTransferred: 0, lastRun: { bytesFetched: 0, bytesPresent: total } })
  })

  it('two tasks into one destination: the second waits QUEUED until the first ends', async () => {
    const tasks = service()
    const dest = join(tmp, 'shared')
    const first = tasks.create({ root: bigRoot, destination: dest, sources: [dSrc.addr] }).task
    const second = tasks.create({ root, destination: join(dest, 'inner'), sources: [dSrc.addr] }).task
    expect(tasks.get(second.taskId)?.condition).toBe('QUEUED')
    const a = await tasks.waitFor(first.taskId)
    const b = await tasks.waitFor(second.taskId)
    expect([a.condition, b.condition]).toEqual(['SUCCEEDED', 'SUCCEEDED'])
    expect(Date.parse(b.started ?? '')).toBeGreaterThanOrEqual(Date.parse(a.completed ?? ''))
    expect(tasks.events(second.taskId).map((e) => e.kind)).toContain('waiting')
  })

  it('a conflicting file fails at once with its reason, the rest is placed; retry after the fix fetches only that file', async () => {
    const tasks = service()
    const own = await addScan('conflict-src')
    const dest = join(tmp, 'conflict')
    writeTree(dest, { 'a/two.bin': 'something else' })
    const { task } = tasks.create({ root: own.root, destination: dest, sources: [dSrc.addr] })
    const failed = await tasks.waitFor(task.taskId)
    expect(failed).toMatchObject({ condition: 'FAILED', failed: 1, succeeded: 3, reason: { code: 'ERR_CONFLICT' } })
    expect(failed.reason?.message).toContain('a/two.bin')
    expect(failed.attempts).toBe(1) // permanent: never retried by itself
    const detail = tasks.get(task.taskId)
    expect(detail?.fileErrors).toMatchObject([{ path: 'a/two.bin', code: 'ERR_CONFLICT', attempts: 1 }])
    expect(detail?.fileErrors[0]?.message).toContain('other content')
    expect(readFileSync(join(dest, 'a/one.bin'))).toEqual(bytes(MiB + 17, 'conflict-src/a/one.bin'))
    unlinkSync(join(dest, 'a/two.bin'))
    tasks.retry(task.taskId)
    const done = await tasks.waitFor(task.taskId)
    expect(done).toMatchObject({ condition: 'SUCCEEDED', failed: 0, succeeded: 4, attempts: 2, lastRun: { bytesFetched: 300_000, bytesLocal: 0, bytesResumed: 0, bytesPresent: MiB + 17 + 2 * MiB + 12 } })
    expect(done.fromPeers).toEqual({ [src.id]: done.bytesTransferred }) // over both runs
    expect(done.bytesTransferred).toBe(failed.bytesTransferred + 300_000)
    expect(hashTree(dest)).toEqual(hashTree(own.dir))
    expect(tasks.get(task.taskId)?.fileErrors).toEqual([])
  })

  it('a file deleted at the source fails that file only; restored, retry fetches only it', async () => {
    const tasks = service()
    const own = await addScan('deleted-src')
    const dest = join(tmp, 'deleted')
    rmSync(join(own.dir, 'b/three.bin'))
    try {
      const failed = await tasks.waitFor(tasks.create({ root: own.root, destination: dest, sources: [dSrc.addr] }).task.taskId)
      expect(failed).toMatchObject({ condition: 'FAILED', failed: 1, succeeded: 3, attempts: 1 })
      expect(tasks.get(failed.taskId)?.fileErrors).toMatchObject([{ path: 'b/three.bin', code: 'ERR_CHANGED_AT_SOURCE' }])
      expect(readFileSync(join(dest, 'a/two.bin'))).toEqual(bytes(300_000, 'deleted-src/a/two.bin'))
    } finally {
      writeTree(own.dir, { 'b/three.bin': bytes(2 * MiB, 'deleted-src/b/three.bin') })
    }
    const id = tasks.list({ conditions: ['FAILED'] }).find((t) => t.destination === dest)?.taskId ?? ''
    tasks.retry(id)
    const done = await tasks.waitFor(id)
    expect(done).toMatchObject({ condition: 'SUCCEEDED', lastRun: { bytesFetched: 2 * MiB } })
    expect(hashTree(dest)).toEqual(hashTree(own.dir))
  })

  it('cancel stops a running task at once: CANCELLED, nothing more written', async () => {
    const tasks = service()
    const own = join(tmp, 'big-cancel')
    writeTree(own, { 'vol.h5': bytes(96 * MiB, 'big-cancel/vol.h5') })
    const ownRoot = json(await ferry(['add', own, '--json', '--home', src.dir])).root
    const dest = join(tmp, 'cancelled')
    const { task } = tasks.create({ root: ownRoot, destination: dest, sources: [dSrc.addr] })
    await waitUntil(() => (tasks.get(task.taskId)?.bytesTransferred ?? 0) > 0)
    const t0 = Date.now()
    expect(tasks.cancel(task.taskId).condition).toBe('CANCELLED')
    const done = await tasks.waitFor(task.taskId)
    expect(Date.now() - t0).toBeLessThan(5000)
    expect(done.condition).toBe('CANCELLED')
    expect(done.bytesTransferred).toBeLessThan(done.bytesTotal)
    expect(tasks.events(task.taskId).at(-1)).toMatchObject({ kind: 'ended', message: 'CANCELLED' })
    // cancelling again changes nothing; a cancelled task can be retried and completes
    expect(tasks.cancel(task.taskId).condition).toBe('CANCELLED')
    tasks.retry(task.taskId)
    expect((await tasks.waitFor(task.taskId)).condition).toBe('SUCCEEDED')
    expect(hashTree(dest)).toEqual(hashTree(own))
  })

  it('a deadline that passes while the source is down ends the task FAILED with the reason', async () => {
    const other = await initTestHome(tmp, 'down')
    writeTree(join(tmp, 'down-scan'), { 'x.bin': bytes(4096, 'down-scan/x.bin') })
    const downRoot = json(await ferry(['add', join(tmp, 'down-scan'), '--json', '--home', other.dir])).root
    await ferry(['trust', puller.id, '--home', other.dir])
    const dDown = await daemons.start(other.dir)
    await dDown.stop()
    const tasks = service()
    const t0 = Date.now()
    const { task } = tasks.create({ root: downRoot, destination: join(tmp, 'never'), sources: [dDown.addr], deadlineMs: 3000 })
    const done = await tasks.waitFor(task.taskId)
    expect(Date.now() - t0).toBeLessThan(15_000)
    expect(done).toMatchObject({ condition: 'FAILED', reason: { code: 'ERR_TIMEOUT' } })
    // the reason says why: the source could not be reached
    expect(done.reason?.message).toMatch(/deadline .* passed .*last error: .*down/)
    expect(done.reason?.message).toContain(dDown.peerId)
    expect(tasks.events(task.taskId).some((e) => e.kind === 'peer' && e.data?.state === 'down')).toBe(true)
  })

  it('onDone gets the task in its environment; a hanging hook is killed after its timeout and logged', async () => {
    const tasks = service({ hookTimeoutMs: 500 })
    const envFile = join(tmp, 'hook.env')
    const dest = join(tmp, 'hooked')
    const { task } = tasks.create({ root, destination: dest, sources: [dSrc.addr], onDone: `env | grep ^FERRY_ | sort > ${envFile}; echo hook says hi` })
    await tasks.waitFor(task.taskId)
    await waitUntil(() => tasks.events(task.taskId).some((e) => e.kind === 'hook:done'))
    const env = Object.fromEntries(readFileSync(envFile, 'utf8').trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)))
    expect(env).toEqual({
      FERRY_TASK_ID: task.taskId,
      FERRY_CONDITION: 'SUCCEEDED',
      FERRY_ROOT: root,
      FERRY_DEST: dest,
      FERRY_COLLECTION: 'i13_visit',
      FERRY_FILES: '4',
      FERRY_BYTES: String(MiB + 17 + 300_000 + 2 * MiB + 12),
      FERRY_FAILED: '0'
    })
    expect(tasks.events(task.taskId).find((e) => e.kind === 'hook:done')).toMatchObject({ data: { code: 0, output: 'hook says hi\n' } })

    // the collection's default hook from config.json, hanging: killed, logged, the service goes on
    const cfg = JSON.parse(readFileSync(join(puller.dir, 'config.json'), 'utf8'))
    writeFileSync(join(puller.dir, 'config.json'), JSON.stringify({ ...cfg, hooks: { i13_visit: 'echo started; sleep 30' } }))
    const hung = tasks.create({ root, destination: join(tmp, 'hung'), sources: [dSrc.addr] }).task
    expect((await tasks.waitFor(hung.taskId)).condition).toBe('SUCCEEDED')
    await waitUntil(() => tasks.events(hung.taskId).some((e) => e.kind === 'hook:failed'))
    const failed = tasks.events(hung.taskId).find((e) => e.kind === 'hook:failed')
    expect(failed).toMatchObject({ data: { timedOut: true, output: 'started\n' } })
    expect(failed?.message).toContain('timeout')
    // a failing hook: its exit code and output are in the log, the task stays SUCCEEDED
    const after = tasks.create({ root, destination: join(tmp, 'after-hung'), sources: [dSrc.addr], onDone: 'echo no such reconstruction >&2; exit 3' }).task
    expect((await tasks.waitFor(after.taskId)).condition).toBe('SUCCEEDED')
    await waitUntil(() => tasks.events(after.taskId).some((e) => e.kind === 'hook:failed'))
    expect(tasks.events(after.taskId).find((e) => e.kind === 'hook:failed')).toMatchObject({ message: 'hook exited 3', data: { code: 3, timedOut: false, output: 'no such reconstruction\n' } })
    writeFileSync(join(puller.dir, 'config.json'), JSON.stringify(cfg))
  })

  it('a task queued or cancelled in the catalog by another process is picked up within the poll interval', async () => {
    const tasks = service({ concurrency: 1 })
    const own = join(tmp, 'big-polled')
    writeTree(own, { 'vol.h5': bytes(96 * MiB, 'big-polled/vol.h5') })
    const ownRoot = json(await ferry(['add', own, '--json', '--home', src.dir])).root
    const small = await addScan('polled-small')
    // queued straight into the store, as a tool in another process would: no call to the service
    const big = queueTask(home.catalog.tasks, { root: ownRoot, destination: join(tmp, 'polled-big'), sources: [dSrc.addr] }).task
    const next = queueTask(home.catalog.tasks, { root: small.root, destination: join(tmp, 'polled-small-dest'), sources: [dSrc.addr] }).task
    await waitUntil(() => (tasks.get(big.taskId)?.bytesTransferred ?? 0) > 0)
    // concurrency 1: the second waits its turn
    expect(tasks.get(next.taskId)?.condition).toBe('QUEUED')
    home.catalog.tasks.update(big.taskId, { condition: 'CANCELLED', completed: Date.now() })
    const cancelled = await tasks.waitFor(big.taskId)
    expect(cancelled.condition).toBe('CANCELLED')
    expect(cancelled.bytesTransferred).toBeLessThan(96 * MiB)
    const done = await tasks.waitFor(next.taskId)
    expect(done.condition).toBe('SUCCEEDED')
    expect(hashTree(join(tmp, 'polled-small-dest'))).toEqual(hashTree(small.dir))
    expect(tasks.events(next.taskId)[0]).toMatchObject({ kind: 'created' })
  })

  it('a root no source has ends the task FAILED at once (permanent), naming the root', async () => {
    const tasks = service()
    const unknown = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'
    const { task } = tasks.create({ root: unknown, destination: join(tmp, 'unknown'), sources: [dSrc.addr], deadlineMs: 3000 })
    const done = await tasks.waitFor(task.taskId)
    expect(done.condition).toBe('FAILED')
    expect(done.reason?.message).toContain(unknown)
    // permanent: the first run says so and the task ends, without waiting for the deadline
    expect(done).toMatchObject({ reason: { code: 'ERR_ROOT_NOT_FOUND' }, attempts: 1 })
    expect(Date.parse(done.completed ?? '')).toBeLessThan(Date.parse(done.deadline))
  })

  it('classifies failures by code, one table', () => {
    expect(classify('ERR_NETWORK')).toBe('transient')
    expect(classify('ERR_TIMEOUT')).toBe('transient')
    for (const code of ['ERR_CONFLICT', 'ERR_MISSING_AT_SOURCE', 'ERR_CHANGED_AT_SOURCE', 'ERR_ROOT_NOT_FOUND', 'ERR_PERMISSION', 'ERR_BAD_SIGNATURE', 'ERR_UNAVAILABLE']) {
      expect(classify(code)).toBe('permanent')
    }
    expect(classify('ERR_SOMETHING_NEW')).toBe('permanent')
    expect(Object.values(FAILURE_KINDS).every((k) => k === 'permanent' || k === 'transient')).toBe(true)
  })
})

/** Polls `ok` every 50 ms for up to `ms`. */
async function waitUntil (ok: () => boolean, ms = 30_000): Promise<void> {
  const until = Date.now() + ms
  while (!ok()) {
    if (Date.now() > until) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
