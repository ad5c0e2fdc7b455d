/**
 * The follower's placer (placer.ts): an entry added while others are being placed
 * starts at once (no batch barrier), at most `lanes` at a time, never two versions of one path at once,
 * each recorded in seq order inside its commit; files placed while other lanes are busy share one commit,
 * each recorded exactly once, and a lone file is committed at once; after a failure nothing new starts, what
 * was placed is still committed, and `drained` rejects.
 */
import { describe, expect, it } from 'vitest'
import { createPlacer, type OpenEntryRow } from '@ferry/follow'

const entry = (seq: number, path: string): OpenEntryRow => ({ seq, path } as unknown as OpenEntryRow)
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

describe('createPlacer', () => {
  it('starts each entry as a lane frees, one version of a path at a time, records in seq order', async () => {
    const log: string[] = []
    const inFlight = new Set<string>()
    let maxInFlight = 0
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    const placer = createPlacer<number>({
      lanes: 2,
      place: async (e) => {
        expect(inFlight.has(e.path)).toBe(false) // never two versions of one path at once
        inFlight.add(e.path)
        maxInFlight = Math.max(maxInFlight, inFlight.size)
        log.push(`start ${e.seq}`)
        if (e.seq === 0) await gate // the slow file: held until the test lets it go
        else await sleep(5)
        inFlight.delete(e.path)
        log.push(`end ${e.seq}`)
        return e.seq * 10
      },
      commit: (group) => { log.push(`commit ${group.map((g) => g.placed / 10).join(',')}`); for (const g of group) g.recordDone() },
      record: (e, placed) => { expect(placed).toBe(e.seq * 10); log.push(`record ${e.seq}`) },
      onFailure: (err) => { throw err }
    })
    placer.add([entry(0, 'slow'), entry(1, 'a')])
    placer.add([entry(2, 'a'), entry(3, 'b'), entry(4, 'slow')]) // added while 0 is being placed
    expect(placer.queued).toBe(5)
    // 1, 2 and 3 are placed while 0 is still in flight: no waiting for the first "batch"
    for (let i = 0; i < 200 && !(log.includes('end 2') && log.includes('end 3')); i++) await sleep(10)
    // (2, a later version of 'a', waits for 1's commit, so 3 may end first)
    expect(log.filter((l) => l.startsWith('end')).sort()).toEqual(['end 1', 'end 2', 'end 3'])
    expect(log.some((l) => l.startsWith('record'))).toBe(false) // nothing recorded before 0 is done
    expect(log).not.toContain('start 4') // a second version of 'slow' waits for the first
    release()
    await placer.drained()
    expect(maxInFlight).toBe(2)
    expect(log.indexOf('start 4')).toBeGreaterThan(log.indexOf('end 0'))
    expect(log.filter((l) => l.startsWith('record'))).toEqual(['record 0', 'record 1', 'record 2', 'record 3', 'record 4'])
    // 1..3 come out inside 0's commit, in order
    const commit0 = log.findIndex((l) => /^commit (.*,)?0(,|$)/.test(l))
    expect(log.slice(commit0 + 1, commit0 + 5)).toEqual(['record 0', 'record 1', 'record 2', 'record 3'])
    expect(placer.queued).toBe(0)
  })

  it('starts nothing after a failure; drained rejects with it once the lanes stop', async () => {
    const started: number[] = []
    const failures: unknown[] = []
    const placer = createPlacer<undefined>({
      lanes: 1,
      place: async (e) => {
        started.push(e.seq)
        await sleep(10)
        if (e.seq === 1) throw new Error('block refused')
      },
      commit: (group) => { for (const g of group) g.recordDone() },
      record: () => {},
      onFailure: (err) => { failures.push(err) }
    })
    placer.add([entry(0, 'a'), entry(1, 'b'), entry(2, 'c')])
    await expect(placer.drained()).rejects.toThrow(/block refused/)
    await placer.stopped()
    expect(started).toEqual([0, 1])
    expect(failures).toHaveLength(1)
  })

  it('groups the commits of files placed while other lanes are busy; each entry is committed and recorded once, in order', async () => {
    const commits: number[][] = []
    const recorded: number[] = []
    const placer = createPlacer<number>({
      lanes: 4,
      commitWaitMs: 10_000, // longer than the test: a group closes when every lane is done or when it is full
      place: async (e) => { await sleep(5 + (e.seq % 4) * 3); return e.seq },
      commit: (group) => { commits.push(group.map((g) => g.placed)); for (const g of group) g.recordDone() },
      record: (e, placed) => { expect(placed).toBe(e.seq); recorded.push(e.seq) },
      onFailure: (err) => { throw err }
    })
    placer.add(Array.from({ length: 40 }, (_, i) => entry(i, `f${i}`)))
    await placer.drained()
    expect(recorded).toEqual([...Array(40).keys()])
    expect(commits.flat().sort((a, b) => a - b)).toEqual([...Array(40).keys()]) // each committed exactly once
    expect(commits.length).toBeLessThan(40)
    expect(Math.max(...commits.map((c) => c.length))).toBeLessThanOrEqual(4)
    // a file placed while no other lane is busy is committed at once, without waiting for commitWaitMs
    commits.length = 0
    placer.add([entry(40, 'alone')])
    await placer.drained()
    expect(commits).toEqual([[40]])
  })

  it('after a failure, the files already placed are still committed before the placer stops', async () => {
    const committed: number[] = []
    const placer = createPlacer<number>({
      lanes: 3,
      commitWaitMs: 10_000,
      place: async (e) => {
        if (e.seq === 2) { await sleep(30); throw new Error('block refused') }
        await sleep(5)
        return e.seq
      },
      commit: (group) => { for (const g of group) { committed.push(g.placed); g.recordDone() } },
      record: () => {},
      onFailure: () => {}
    })
    placer.add([entry(0, 'a'), entry(1, 'b'), entry(2, 'c')])
    await expect(placer.drained()).rejects.toThrow(/block refused/)
    await placer.stopped()
    expect(committed.sort()).toEqual([0, 1])
  })
})
