/** The CLI's task helpers: the outcome's exit code, the deadline of `pull --detach`, the table. */
import { describe, expect, it } from 'vitest'
import { parseTaskDeadline } from '../dist/commands/pull-detach.js'
import { taskExitCode, taskTable, type ShownTask } from '../dist/task-format.js'

const base = { taskId: '00000000-0000-4000-8000-000000000000', label: null, condition: 'FAILED', failed: 0, reason: null, files: 4, succeeded: 1, effectiveSpeed: 0, eta: null, requested: new Date(0).toISOString() }
const t = (patch: Record<string, unknown>): ShownTask => ({ ...base, ...patch }) as unknown as ShownTask

describe('taskExitCode', () => {
  it.each([
    [{ condition: 'SUCCEEDED' }, 0],
    [{ condition: 'CANCELLED' }, 130],
    [{ failed: 2, reason: { code: 'ERR_CONFLICT', message: '' } }, 3],
    [{ reason: { code: 'ERR_MISSING_AT_SOURCE', message: '' } }, 3],
    [{ reason: { code: 'ERR_UNAVAILABLE', message: '' } }, 6],
    [{ reason: { code: 'ERR_TIMEOUT', message: '' } }, 6],
    [{ reason: { code: 'ERR_ROOT_NOT_FOUND', message: '' } }, 7],
    [{ reason: { code: 'ERR_NO_SPACE', message: '' } }, 5],
    [{ reason: { code: 'ERR_PERMISSION', message: '' } }, 8],
    [{ reason: { code: 'ERR_SOMETHING_NEW', message: '' } }, 1]
  ])('%j exits %i', (patch, code) => {
    expect(taskExitCode(t(patch))).toBe(code)
  })
})

describe('parseTaskDeadline', () => {
  it('takes seconds, durations and future ISO times; refuses the rest with exit 2', () => {
    expect(parseTaskDeadline('3600')).toBe(3600)
    expect(parseTaskDeadline('90m')).toBe(5400)
    expect(parseTaskDeadline('12h')).toBe(43_200)
    expect(parseTaskDeadline('2d')).toBe(172_800)
    const later = new Date(Date.now() + 3_600_000).toISOString()
    expect(parseTaskDeadline(later)).toBe(later)
    for (const bad of ['0', 'soon', '5w', '2000-01-01T00:00:00Z', '-3']) {
      expect(() => parseTaskDeadline(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_USAGE' }))
    }
  })
})

describe('taskTable', () => {
  it('aligns columns under a header, one row per task', () => {
    const lines = taskTable([t({ label: 'visit 7', condition: 'ACTIVE', effectiveSpeed: 110e6 }), t({ condition: 'SUCCEEDED' })])
    expect(lines).toHaveLength(3)
    const [head, active, done] = lines as [string, string, string]
    expect(head.split(/ {2,}/)).toEqual(['ID', 'LABEL', 'CONDITION', 'PROGRESS', 'SPEED', 'ETA', 'REQUESTED'])
    expect(active.split(/ {2,}/).slice(0, 6)).toEqual([base.taskId, 'visit 7', 'ACTIVE', '25%', '110 MB/s', '-'])
    expect(done.split(/ {2,}/).slice(0, 6)).toEqual([base.taskId, '-', 'SUCCEEDED', '100%', '-', '-'])
    expect(active.split(/ {2,}/)[6]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/)
    // every column starts where its header does
    for (const word of ['LABEL', 'CONDITION', 'PROGRESS', 'SPEED']) {
      const at = head.indexOf(word)
      expect(active[at - 1]).toBe(' ')
      expect(active[at]).not.toBe(' ')
    }
  })
})
