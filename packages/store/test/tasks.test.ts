import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeFile } from 'node:fs/promises'
import { openCatalog, readConfig, TASK_EVENTS_KEPT } from '@ferry/store'
import { tempDir } from './helpers.js'

const init = (taskId: string, destination = '/data/a') => ({ taskId, root: 'bafyroot', destination, sources: ['/ip4/127.0.0.1/tcp/1/p2p/x'], deadline: Date.now() + 60_000 })

describe('task store', () => {
  it('one live task per root and destination; counters, failures and reasons persist', async () => {
    const file = path.join(await tempDir(), 'catalog.db')
    const c = openCatalog(file)
    const a = c.tasks.create(init('t1'))
    expect(a).toMatchObject({ existing: false, task: { taskId: 't1', condition: 'QUEUED', destination: '/data/a', pending: 0 } })
    expect(c.tasks.create(init('t2'))).toMatchObject({ existing: true, task: { taskId: 't1' } })
    expect(c.tasks.create(init('t3', '/data/b')).existing).toBe(false)
    c.tasks.update('t1', { condition: 'FAILED', completed: Date.now(), files: 3, failed: 1, succeeded: 2, reason: { code: 'ERR_CONFLICT', message: '1 file not placed' } })
    c.tasks.setFailures('t1', [{ path: 'a.bin', code: 'ERR_CONFLICT', message: 'exists' }])
    c.tasks.setFailures('t1', [{ path: 'a.bin', code: 'ERR_CONFLICT', message: 'still exists' }, { path: 'b.bin', code: 'ERR_UNAVAILABLE', message: 'gone' }])
    c.tasks.setFailures('t1', [{ path: 'b.bin', code: 'ERR_UNAVAILABLE', message: 'gone' }])
    // a final task no longer holds the (root, dest) slot
    expect(c.tasks.create(init('t4')).existing).toBe(false)
    c.close()
    const again = openCatalog(file)
    expect(again.tasks.get('t1')).toMatchObject({ condition: 'FAILED', files: 3, failed: 1, succeeded: 2, reason: { code: 'ERR_CONFLICT' } })
    expect(again.tasks.failures('t1')).toMatchObject([{ path: 'b.bin', code: 'ERR_UNAVAILABLE', attempts: 2 }])
    expect(again.tasks.live().map((t) => t.taskId)).toEqual(['t3', 't4'])
    again.close()
  })

  it('keeps the last events plus the first and last of each kind', async () => {
    const c = openCatalog(path.join(await tempDir(), 'catalog.db'))
    c.tasks.create(init('t1'))
    c.tasks.addEvent('t1', 'created', 'made')
    for (let i = 0; i < TASK_EVENTS_KEPT + 300; i++) c.tasks.addEvent('t1', 'progress', `step ${i}`, { i })
    const events = c.tasks.events('t1', { limit: 10_000 })
    expect(events.length).toBeLessThanOrEqual(TASK_EVENTS_KEPT + 102)
    expect(events[0]).toMatchObject({ kind: 'created', message: 'made' })
    expect(events[1]).toMatchObject({ kind: 'progress', message: 'step 0' })
    expect(events.at(-1)).toMatchObject({ kind: 'progress', message: `step ${TASK_EVENTS_KEPT + 299}`, data: { i: TASK_EVENTS_KEPT + 299 } })
    c.close()
  })

  it('config.json hooks: { collection: command } is kept; anything else is refused with the key named', async () => {
    const dir = await tempDir()
    const file = path.join(dir, 'config.json')
    await writeFile(file, JSON.stringify({ version: 1, hooks: { i13_visit: 'reconstruct.sh "$FERRY_DEST"' } }))
    expect((await readConfig(dir)).hooks).toEqual({ i13_visit: 'reconstruct.sh "$FERRY_DEST"' })
    for (const [hooks, words] of [[['x'], '"hooks" must be an object'], [{ a: '' }, '"hooks.a" must be a non-empty shell command'], [{ a: 3 }, '"hooks.a"'], [{ '': 'x' }, 'empty collection']] as const) {
      await writeFile(file, JSON.stringify({ version: 1, hooks }))
      await expect(readConfig(dir)).rejects.toMatchObject({ code: 'ERR_HOME_CORRUPT', message: expect.stringContaining(words) })
    }
  })
})
