/**
 * Task updates onto the daemon's event bus, for `GET /v1/events`: every event of a task's log as
 * `task:event`, and its record as `task:updated`, at most once per TASK_UPDATE_MIN_MS per task (the latest
 * record is sent when that time is up) except that a change of condition is sent at once.
 */
import type { EventBus } from '@ferry/node'
import type { TaskRecord, TaskService } from '@ferry/tasks'

/** Shortest time between two `task:updated` events of one task whose condition did not change. */
export const TASK_UPDATE_MIN_MS = 1000

const FINAL: ReadonlySet<string> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED'])

interface Sent { at: number, condition: string, timer?: NodeJS.Timeout, pending?: TaskRecord }

/** Forwards `tasks`' updates onto `bus` until the returned function is called. */
export function forwardTasks (tasks: Pick<TaskService, 'subscribe'>, bus: EventBus, minMs = TASK_UPDATE_MIN_MS): () => void {
  const sent = new Map<string, Sent>()
  const send = (task: TaskRecord): void => {
    const last = sent.get(task.taskId)
    if (last?.timer !== undefined) clearTimeout(last.timer)
    bus.publish({ type: 'task:updated', task })
    // an ended task is forgotten: the map holds live tasks only
    if (FINAL.has(task.condition)) sent.delete(task.taskId)
    else sent.set(task.taskId, { at: Date.now(), condition: task.condition })
  }
  const off = tasks.subscribe((update) => {
    if (update.type === 'event') {
      bus.publish({ type: 'task:event', event: update.event })
      return
    }
    const { task } = update
    const last = sent.get(task.taskId)
    const now = Date.now()
    if (last === undefined || last.condition !== task.condition || now - last.at >= minMs) {
      send(task)
      return
    }
    last.pending = task
    last.timer ??= setTimeout(() => {
      last.timer = undefined
      if (last.pending !== undefined && sent.get(task.taskId) === last) send(last.pending)
    }, minMs - (now - last.at)).unref()
  })
  return () => {
    off()
    for (const s of sent.values()) clearTimeout(s.timer)
    sent.clear()
  }
}
