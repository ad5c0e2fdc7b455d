import { readConfig, type TaskRecord } from '@ferry/store'
import { DEFAULT_HOOK_TIMEOUT_MS } from './constants.js'
import { hookEnv, runHook } from './hooks.js'
import type { TaskServiceInit } from './types.js'
import { errorMessage } from '@ferry/errors'

/** Runs tasks' hooks in the background, each with its timeout; `stop` kills the ones running and waits. */
export interface HookRunner {
  fire: (task: TaskRecord) => void
  stop: () => Promise<void>
}

/**
 * A task's hook is its own `onDone`, else its collection's in config.json (`hooks`, read when the task ends,
 * so an edit applies without a restart). Outcomes go to the task's log; nothing here throws or blocks.
 */
export function createHookRunner (init: TaskServiceInit, log: (taskId: string, kind: string, message: string, data?: Record<string, unknown>) => void): HookRunner {
  const running = new Set<Promise<void>>()
  const stopping = new AbortController()
  const readHooks = init.hooks ?? (async () => (await readConfig(init.home.dir)).hooks)
  const run = async (task: TaskRecord): Promise<void> => {
    const own = typeof task.settings.onDone === 'string' ? task.settings.onDone : undefined
    const command = own ?? (task.collection != null ? (await readHooks().catch(() => undefined))?.[task.collection] : undefined)
    if (command === undefined || stopping.signal.aborted) return
    log(task.taskId, 'hook', `running ${JSON.stringify(command)}`, { command })
    const out = await runHook({ command, env: hookEnv(task), timeoutMs: init.hookTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS, signal: stopping.signal })
    const how = out.error !== undefined
      ? `could not start: ${out.error}`
      : out.timedOut ? `killed after ${out.ms} ms (timeout)` : out.code === 0 ? 'exited 0' : `exited ${out.code ?? out.signal ?? '?'}`
    const ok = out.code === 0 && !out.timedOut
    log(task.taskId, ok ? 'hook:done' : 'hook:failed', `hook ${how}`, { ...out })
    if (!ok) init.log?.(`Task ${task.taskId}: hook ${how}`)
  }
  return {
    fire: (task) => {
      const p: Promise<void> = run(task).catch((err: unknown) => { init.log?.(`Task ${task.taskId}: hook: ${errorMessage(err)}`) })
        .finally(() => { running.delete(p) })
      running.add(p)
    },
    stop: async () => {
      stopping.abort()
      await Promise.all([...running])
    }
  }
}
