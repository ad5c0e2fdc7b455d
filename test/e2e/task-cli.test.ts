/**
 * Durable tasks from the user's side (issue 11, item 2): `ferry pull --detach` hands a pull to the real
 * daemon through its HTTP API and returns at once; `ferry task --watch` follows it over server-sent events
 * and exits with its outcome; a conflicting file fails the task naming the file, and `ferry retry` after the
 * conflict is gone fetches only that file; `ferry cancel`; the API's validation and authentication.
 */
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { ferry, initTestHome, json } from '../support/ferry.js'
import { DaemonSet, type Daemon } from '../support/daemon.js'
import { apiOf, openEvents, until, type ApiHandle } from '../support/api.js'
import { MiB, cleanup, hashTree, tempDir, writeTree } from '../support/tree.js'

const daemons = new DaemonSet()
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const PROJ = MiB + 4096
const TOTAL = 30 * MiB + 20 * PROJ

describe('tasks from the CLI, through the daemon\'s API', () => {
  let tmp: string
  let scan: string
  let root: string
  let source: Daemon
  let puller: { dir: string, id: string }
  let api: ApiHandle

  beforeAll(async () => {
    tmp = tempDir('ferry-e2e-task-cli-')
    scan = join(tmp, '20261201_i13_0042')
    const spec: Record<string, number> = { 'recon/vol.h5': 30 * MiB }
    for (let i = 0; i < 20; i++) spec[`raw/proj_${String(i).padStart(4, '0')}.tif`] = PROJ
    writeTree(scan, spec)
    const A = await initTestHome(tmp, 'source')
    puller = await initTestHome(tmp, 'puller')
    root = json(await ferry(['add', scan, '--json', '--home', A.dir])).root
    await ferry(['trust', puller.id, '--home', A.dir])
    source = await daemons.start(A.dir)
    await daemons.start(puller.dir)
    api = apiOf(puller.dir)
  })
  afterAll(async () => {
    await daemons.stopAll()
    cleanup(tmp)
  })

  it('pull --detach returns a task id at once; the task SUCCEEDS with the bytes right, `task --watch` exits 0, SSE carries it', async () => {
    const events = await openEvents(api)
    try {
      const dest = join(tmp, 'replica')
      const started = Date.now()
      const r = await ferry(['pull', root, dest, '--from', source.addr, '--detach', '--label', 'visit 42', '--json', '--home', puller.dir])
      const elapsed = Date.now() - started
      expect(r.code, r.stderr).toBe(0)
      const { taskId } = json(r)
      expect(taskId).toMatch(UUID)
      // the whole CLI process, start-up included, on a loaded 2-core machine: it does not wait for the pull
      expect(elapsed).toBeLessThan(2000)

      const watch = await ferry(['task', taskId, '--watch', '--home', puller.dir])
      expect(watch.code, watch.stderr).toBe(0)
      expect(watch.stdout).toContain(`Task ${taskId} (visit 42): SUCCEEDED`)
      expect(watch.stderr).toMatch(/^ferry: (QUEUED|ACTIVE)\b/)
      expect(watch.stderr).toContain('ferry: SUCCEEDED 100%: 21/21 files, 52.5 MB transferred of 52.5 MB')
      expect(hashTree(dest)).toEqual(hashTree(scan))

      const active = await events.waitFor((e) => e.event === 'task:updated' && e.data.task.taskId === taskId && e.data.task.condition === 'ACTIVE')
      expect(active.data.task).toMatchObject({ root, destination: dest, label: 'visit 42' })
      await events.waitFor((e) => e.event === 'task:updated' && e.data.task.taskId === taskId && e.data.task.condition === 'SUCCEEDED')
      await events.waitFor((e) => e.event === 'task:event' && e.data.event.taskId === taskId && e.data.event.kind === 'ended')

      const table = await ferry(['tasks', '--home', puller.dir])
      expect(table.code).toBe(0)
      expect(table.stdout).toMatch(/^ID\s+LABEL\s+CONDITION\s+PROGRESS\s+SPEED\s+ETA\s+REQUESTED/)
      expect(table.stdout).toMatch(new RegExp(`${taskId}\\s+visit 42\\s+SUCCEEDED\\s+100%\\s+\\S+ [kMG]?B/s\\s+-\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d`))
      const listed = json(await ferry(['tasks', '--condition', 'SUCCEEDED', '--json', '--home', puller.dir]))
      expect(listed.tasks.map((t: any) => t.taskId)).toContain(taskId)
      expect(json(await ferry(['tasks', '--condition', 'FAILED', '--json', '--home', puller.dir])).tasks).toEqual([])
      const shown = json(await ferry(['task', taskId, '--json', '--home', puller.dir]))
      expect(shown).toMatchObject({ taskId, condition: 'SUCCEEDED', files: 21, succeeded: 21, failed: 0, bytesTotal: TOTAL, fileErrors: [] })
    } finally {
      events.close()
    }
  })

  it('a conflicting file fails the task naming it and why; `ferry retry` once it is gone fetches only that file', async () => {
    const dest = join(tmp, 'replica-conflict')
    const conflict = join(dest, 'raw/proj_0003.tif')
    writeTree(dest, { 'raw/proj_0003.tif': 'not the projection\n' })
    const r = await ferry(['pull', root, dest, '--from', source.addr, '--detach', '--json', '--home', puller.dir])
    expect(r.code, r.stderr).toBe(0)
    const { taskId } = json(r)
    const watch = await ferry(['task', taskId, '--watch', '--home', puller.dir])
    expect(watch.code, watch.stdout + watch.stderr).toBe(3)
    const shown = await ferry(['task', taskId, '--home', puller.dir])
    expect(shown.code).toBe(0)
    expect(shown.stdout).toContain(`Task ${taskId}: FAILED`)
    expect(shown.stdout).toMatch(/raw\/proj_0003\.tif: .*\(ERR_CONFLICT\)/)
    expect(shown.stdout).toContain(`what to do: a different file is already at this path in the destination, and Ferry never overwrites one: move or delete it, then \`ferry retry ${taskId}\``)
    const failed = json(await ferry(['task', taskId, '--json', '--home', puller.dir]))
    expect(failed).toMatchObject({ condition: 'FAILED', failed: 1, succeeded: 20, reason: { code: 'ERR_CONFLICT' } })
    expect(failed.fileErrors).toEqual([expect.objectContaining({ path: 'raw/proj_0003.tif', code: 'ERR_CONFLICT', attempts: 1 })])

    rmSync(conflict)
    const again = await ferry(['retry', taskId, '--home', puller.dir])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain(`Task ${taskId}: QUEUED`)
    expect((await ferry(['task', taskId, '--watch', '--home', puller.dir])).code).toBe(0)
    expect(hashTree(dest)).toEqual(hashTree(scan))
    const done = (await api.call('GET', `/v1/tasks/${taskId}`)).body
    expect(done).toMatchObject({ condition: 'SUCCEEDED', failed: 0, attempts: 2, fileErrors: [] })
    // only the file that was in the way moved: fetched (or copied from the first replica on this node)
    expect(done.lastRun.bytesFetched + done.lastRun.bytesLocal).toBe(PROJ)
    expect(done.lastRun.bytesPresent).toBe(TOTAL - PROJ)
    const retryLive = await ferry(['retry', taskId, '--home', puller.dir])
    expect(retryLive.code).toBe(2)
    expect(retryLive.stderr).toContain('only a FAILED or CANCELLED task can be retried')
  })

  it('`ferry cancel` stops a task at once: CANCELLED, and `task --watch` exits 130', async () => {
    // a source that is down (a node that never ran: with the source's PeerId, libp2p would reuse the live
    // connection to it) and a root nobody holds (the scan above would complete from this node's own copy):
    // the task stays ACTIVE, retrying, until cancelled
    const ghost = await initTestHome(tmp, 'ghost')
    const down = `/ip4/127.0.0.1/tcp/1/p2p/${ghost.id}`
    const unheld = CID.createV1(0x70, await sha256.digest(randomBytes(32))).toString()
    const r = await ferry(['pull', unheld, join(tmp, 'replica-cancel'), '--from', down, '--detach', '--json', '--home', puller.dir])
    expect(r.code, r.stderr).toBe(0)
    const { taskId } = json(r)
    let seen = ''
    await until(async () => { const t = (await api.call('GET', `/v1/tasks/${taskId}`)).body; seen = `${t.condition} ${JSON.stringify(t.reason)}`; return t.condition === 'ACTIVE' ? true : undefined }, 30_000, 'ACTIVE').catch((err: Error) => { throw new Error(`${err.message}; last seen ${seen}`) })
    const watching = ferry(['task', taskId, '--watch', '--home', puller.dir])
    const c = await ferry(['cancel', taskId, '--home', puller.dir])
    expect(c.code, c.stderr).toBe(0)
    expect(c.stdout).toContain(`Task ${taskId}: CANCELLED`)
    expect((await watching).code).toBe(130)
    expect((await ferry(['task', taskId, '--watch', '--home', puller.dir])).code).toBe(130)
    expect((await api.call('GET', `/v1/tasks/${taskId}/events`)).body.events.map((e: any) => e.kind)).toEqual(expect.arrayContaining(['created', 'cancel', 'ended']))
  })

  it('the API refuses a malformed task (400 naming the field), a request without the token (401), an unknown task (404)', async () => {
    const good = { root, destination: join(tmp, 'never'), sources: [source.addr] }
    const cases: Array<[unknown, string]> = [
      [{ ...good, destination: 'relative/dir' }, 'body.destination: must match ^/'],
      [{ root, destination: good.destination }, 'body.sources: required'],
      [{ ...good, sources: [] }, 'body.sources: must NOT have fewer than 1 items'],
      [{ ...good, junk: 1 }, 'body.junk: not a known field'],
      [{ ...good, root: 'bafynotacid' }, 'body.root: bafynotacid is not a CID'],
      [{ ...good, sources: ['nobody'] }, 'body.sources.0: "nobody" is no peer of the address book'],
      [{ ...good, sources: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWnope'] }, 'body.sources.0: "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWnope" ends in /p2p/12D3KooWnope, which is not a peer ID'],
      [{ ...good, deadline: 'tomorrow' }, 'body.deadline: "tomorrow" is neither a number of seconds nor an ISO 8601 time'],
      [{ ...good, checksum: 'yes' }, 'body.checksum: must be boolean']
    ]
    for (const [body, message] of cases) {
      const res = await api.call('POST', '/v1/tasks', body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.body.error.code).toMatch(/^ERR_(INVALID_ARGUMENT|INVALID_CID)$/)
      expect(res.body.error.message).toContain(message)
    }
    expect((await api.call('GET', '/v1/tasks?condition=DONE')).status).toBe(400)
    const anon = await api.call('POST', '/v1/tasks', good, null)
    expect(anon.status).toBe(401)
    expect(anon.body.error.code).toBe('ERR_UNAUTHORIZED')
    expect((await api.call('GET', '/v1/tasks', undefined, null)).status).toBe(401)
    const unknown = await api.call('GET', '/v1/tasks/00000000-0000-4000-8000-000000000000')
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.code).toBe('ERR_NOT_FOUND')
    expect((await ferry(['task', '00000000-0000-4000-8000-000000000000', '--home', puller.dir])).code).toBe(7)
    expect((await ferry(['task', 'nope', '--home', puller.dir])).code).toBe(2)
    // nothing was queued by the refused requests
    expect((await api.call('GET', '/v1/tasks')).body.tasks.filter((t: any) => t.destination === good.destination)).toEqual([])
  })

  it('without a daemon, `pull --detach` and `tasks` exit 8 saying `ferry daemon` must run', async () => {
    const lone = await initTestHome(tmp, 'lone')
    for (const args of [['pull', root, join(tmp, 'x'), '--from', source.addr, '--detach'], ['tasks']]) {
      const r = await ferry([...args, '--home', lone.dir])
      expect(r.code, args[0]).toBe(8)
      expect(r.stderr).toContain(`No Ferry daemon runs on ${lone.dir}`)
      expect(r.stderr).toContain(`ferry daemon --home ${lone.dir}`)
    }
    const bad = await ferry(['pull', root, join(tmp, 'x'), '--from', source.addr, '--detach', '--deadline', 'soon', '--home', lone.dir])
    expect(bad.code).toBe(2) // arguments are checked before the daemon is looked for
  })
})
