import { spawn } from 'node:child_process'
import { HOOK_OUTPUT_TAIL_BYTES } from './constants.js'

/** After the shell exits, how long its output may still drain before the pipes are closed. */
const EXIT_GRACE_MS = 200

/** How a hook ended. */
export interface HookOutcome {
  /** Exit code, or null when it was killed by a signal. */
  code: number | null
  signal: string | null
  /** It outlived its timeout and was killed (with everything it started). */
  timedOut: boolean
  /** The last HOOK_OUTPUT_TAIL_BYTES of its stdout and stderr, interleaved as written. */
  output: string
  ms: number
  /** It could not be started at all (the shell is missing, ...). */
  error?: string
}

/** One hook run. */
export interface HookRun {
  command: string
  env: Record<string, string>
  timeoutMs: number
  /** Kills the hook early (the daemon stops). */
  signal?: AbortSignal
}

/**
 * Runs `command` through `/bin/sh -c` in its own process group with `env` added to the daemon's, keeping
 * the tail of its output; kills the group (SIGKILL) once `timeoutMs` passes or `signal` aborts. Never
 * rejects: every outcome is reported.
 */
export async function runHook (run: HookRun): Promise<HookOutcome> {
  const started = Date.now()
  return await new Promise<HookOutcome>((resolve) => {
    let tail = Buffer.alloc(0)
    let timedOut = false
    const child = spawn('/bin/sh', ['-c', run.command], { env: { ...process.env, ...run.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    const keep = (d: Buffer): void => {
      tail = Buffer.concat([tail, d])
      if (tail.length > HOOK_OUTPUT_TAIL_BYTES) tail = tail.subarray(tail.length - HOOK_OUTPUT_TAIL_BYTES)
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    const killGroup = (): void => {
      try {
        if (child.pid != null) process.kill(-child.pid, 'SIGKILL')
      } catch {
        child.kill('SIGKILL') // the group is gone already
      }
    }
    const timer = setTimeout(() => { timedOut = true; killGroup() }, run.timeoutMs)
    const onAbort = (): void => { killGroup() }
    run.signal?.addEventListener('abort', onAbort, { once: true })
    const done = (outcome: Omit<HookOutcome, 'output' | 'ms' | 'timedOut'>): void => {
      clearTimeout(timer)
      run.signal?.removeEventListener('abort', onAbort)
      resolve({ ...outcome, timedOut, output: tail.toString('utf8'), ms: Date.now() - started })
    }
    let finished = false
    const finish = (outcome: Omit<HookOutcome, 'output' | 'ms' | 'timedOut'>): void => {
      if (finished) return
      finished = true
      done(outcome)
    }
    child.on('error', (err) => { finish({ code: null, signal: null, error: err.message }) })
    child.on('close', (code, sig) => { finish({ code, signal: sig }) })
    // a grandchild left holding the pipes must not keep the hook "running": shortly after the shell exits,
    // its group is killed and the pipes closed
    child.on('exit', (code, sig) => {
      setTimeout(() => {
        killGroup()
        child.stdout.destroy()
        child.stderr.destroy()
        finish({ code, signal: sig })
      }, EXIT_GRACE_MS).unref()
    })
  })
}

/** The environment a task's hook sees (besides the daemon's own). */
export function hookEnv (task: { taskId: string, condition: string, root: string, destination: string, collection: string | null, files: number, bytesTotal: number, failed: number }): Record<string, string> {
  return {
    FERRY_TASK_ID: task.taskId,
    FERRY_CONDITION: task.condition,
    FERRY_ROOT: task.root,
    FERRY_DEST: task.destination,
    FERRY_COLLECTION: task.collection ?? '',
    FERRY_FILES: String(task.files),
    FERRY_BYTES: String(task.bytesTotal),
    FERRY_FAILED: String(task.failed)
  }
}
