/**
 * One task's life while it is ACTIVE: runs its pull, folds progress into its counters, and decides after
 * each run, by the classification table, whether the task is done (SUCCEEDED / FAILED) or worth another
 * run after a backoff (a transient failure, until the deadline). Never loops without waiting; never
 * outlives the deadline.
 */
import { CID } from 'multiformats/cid'
import type { Catalog, InnerBlocks, TaskPatch, TaskRecord, TaskStore } from '@ferry/store'
import { DEFAULT_CONNECTIONS, DEFAULT_DEADLINE_MS, pull, type ConnectOptions, type InflightBudget, type PullProblem, type PullResult } from '@ferry/transfer'
import { classify, describeError } from './classify.js'
import type { TaskServiceInit } from './types.js'
import { createTally } from './progress.js'

/** The longest delay setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** What the runner needs from the service. */
export interface RunContext {
  store: TaskStore
  home: { catalog: Catalog, blocks: InnerBlocks }
  dialPeer: TaskServiceInit['dialPeer']
  /** Connections per source (TaskServiceInit.connections). */
  connections?: number
  /** The bytes in flight shared by every running task's pull. */
  inflight: InflightBudget
  persistMs: number
  retryInitialMs: number
  retryMaxMs: number
  /** The record changed. */
  notify: (task: TaskRecord) => void
  /** Appends to the task's event log. */
  log: (taskId: string, kind: string, message: string, data?: Record<string, unknown>) => void
}

/** Why the service stopped a running task (the abort reason of its signal). */
export interface StopReason { kind: 'cancel' | 'shutdown' }

/** 'ended': the task reached a final condition; 'interrupted': the service stopped and it stays ACTIVE. */
export type RunEnd = 'ended' | 'interrupted'

type Attempt =
  | { outcome: 'result', result: PullResult }
  | { outcome: 'error', error: unknown }
  | { outcome: 'stopped', reason: StopReason }
  | { outcome: 'deadline', lastError?: { code: string, message: string } }

/** Runs the task `taskId` until it ends or `signal` aborts (with a StopReason). */
export async function runTask (ctx: RunContext, taskId: string, signal: AbortSignal): Promise<RunEnd> {
  let backoff = ctx.retryInitialMs
  let lastError: { code: string, message: string } | undefined
  for (;;) {
    const task = ctx.store.get(taskId)
    if (task == null || task.condition !== 'ACTIVE') return 'ended'
    const deadline = Date.parse(task.deadline)
    if (Date.now() >= deadline) return end(ctx, task, deadlinePatch(task, lastError))
    const attempt = await runPull(ctx, task, deadline, signal)
    const now = ctx.store.get(taskId) ?? task
    if (attempt.outcome === 'stopped') return stopped(ctx, now, attempt.reason)
    if (attempt.outcome === 'deadline') return end(ctx, now, deadlinePatch(now, attempt.lastError ?? lastError))
    if (attempt.outcome === 'result') {
      const transient = attempt.result.problems.filter((p) => classify(p.code) === 'transient')
      if (transient.length === 0) return end(ctx, now, resultPatch(ctx, now, attempt.result))
      ctx.store.setFailures(taskId, attempt.result.problems)
      lastError = { code: transient[0]?.code ?? 'ERR_NETWORK', message: `${transient.length} entries could not be fetched yet` }
    } else {
      lastError = describeError(attempt.error)
      if (classify(lastError.code) === 'permanent') return end(ctx, now, { condition: 'FAILED', reason: lastError, retrying: 0 })
    }
    const wait = Math.min(backoff, deadline - Date.now())
    ctx.log(taskId, 'retrying', `${lastError.message} (${lastError.code}); next attempt in ${(wait / 1000).toFixed(1)} s`, { ...lastError, waitMs: wait })
    ctx.store.update(taskId, { retrying: now.pending })
    ctx.notify(ctx.store.get(taskId) ?? now)
    if (!await sleep(wait, signal)) return stopped(ctx, ctx.store.get(taskId) ?? now, signal.reason as StopReason)
    ctx.store.update(taskId, { retrying: 0 })
    backoff = Math.min(backoff * 2, ctx.retryMaxMs)
  }
}

/** One run of the task's pull, aborted by `signal` (the service) or by the deadline. */
async function runPull (ctx: RunContext, task: TaskRecord, deadline: number, signal: AbortSignal): Promise<Attempt> {
  const byDeadline = new AbortController()
  // a deadline further off than a timer can wait (24.8 days) is checked between runs only
  const left = deadline - Date.now()
  const timer = left <= MAX_TIMER_MS ? setTimeout(() => { byDeadline.abort() }, left) : undefined
  const tally = createTally(task, task.activeMs, (kind, message, data) => { ctx.log(task.taskId, kind, message, data) })
  const persist = (): void => {
    ctx.store.progress(task.taskId, tally.snapshot())
    const now = ctx.store.get(task.taskId)
    if (now != null) ctx.notify(now)
  }
  const persister = setInterval(() => { if (tally.dirty) persist() }, ctx.persistMs)
  persister.unref()
  ctx.store.progress(task.taskId, { attempts: task.attempts + 1, ...(task.started == null ? { started: Date.now() } : {}) })
  ctx.log(task.taskId, 'attempt', `run ${task.attempts + 1}: pulling from ${task.sources.length} source${task.sources.length === 1 ? '' : 's'}`, { attempt: task.attempts + 1 })
  const connections = ctx.connections ?? DEFAULT_CONNECTIONS
  try {
    const result = await pull({
      root: CID.parse(task.root),
      dest: task.destination,
      peers: task.sources.map((addr) => ({ label: addr, connect: async (s: AbortSignal, o?: ConnectOptions) => await ctx.dialPeer(addr, s, { own: o?.own === true, shareOf: connections }) })),
      connections,
      inflight: ctx.inflight,
      home: ctx.home,
      signal: AbortSignal.any([signal, byDeadline.signal]),
      onProgress: tally.onProgress,
      // the pull's own no-progress deadline never outlives the task's
      deadlineMs: Math.max(1000, Math.min(DEFAULT_DEADLINE_MS, deadline - Date.now())),
      checksum: task.settings.checksum === true,
      fsync: task.settings.fsync === true,
      allowEscapingSymlinks: task.settings.allowEscapingSymlinks === true
    })
    return { outcome: 'result', result }
  } catch (error) {
    if (signal.aborted) return { outcome: 'stopped', reason: signal.reason as StopReason }
    if (byDeadline.signal.aborted || Date.now() >= deadline) {
      const peer = tally.lastPeerError
      return { outcome: 'deadline', ...(peer !== undefined ? { lastError: { code: 'ERR_NETWORK', message: peer } } : {}) }
    }
    return { outcome: 'error', error }
  } finally {
    clearTimeout(timer)
    clearInterval(persister)
    persist()
  }
}

/** The task's final counters and condition from a run that returned. */
function resultPatch (ctx: RunContext, task: TaskRecord, result: PullResult): TaskPatch {
  const notPlaced = result.problems.filter((p) => p.code !== 'ERR_MISSING_AT_SOURCE')
  ctx.store.setFailures(task.taskId, result.problems)
  const phases = result.phaseTimes !== undefined ? { phases: Object.fromEntries(Object.entries(result.phaseTimes).map(([k, v]) => [k, Number(v.seconds.toFixed(4))])) } : {}
  const lastRun = { bytesFetched: result.bytesFetched, bytesLocal: result.bytesLocal, bytesPresent: result.bytesPresent, bytesResumed: result.bytesResumed, seconds: Number(result.seconds.toFixed(3)), ...phases }
  const collection = task.collection ?? (result.complete ? ctx.home.catalog.getScan(task.root)?.collection ?? null : null)
  return {
    condition: result.complete ? 'SUCCEEDED' : 'FAILED',
    reason: result.complete ? null : summarize(result.problems),
    files: result.files,
    directories: result.directories,
    bytesTotal: result.bytes,
    pending: 0,
    retrying: 0,
    succeeded: Math.max(0, result.files - notPlaced.length),
    failed: notPlaced.length,
    skipped: result.skipped.length,
    collection,
    lastRun
  }
}

/** One line for a run that left entries out: how many, and the first with its reason. */
function summarize (problems: PullProblem[]): { code: string, message: string } {
  const first = problems[0]
  if (first == null) return { code: 'ERR_PARTIAL', message: 'the scan is not complete' }
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more: see the task's files)` : ''
  return { code: first.code, message: `${problems.length} ${problems.length === 1 ? 'entry' : 'entries'} not placed: ${first.path}: ${first.message}${more}` }
}

function deadlinePatch (task: TaskRecord, lastError: { code: string, message: string } | undefined): TaskPatch {
  const why = lastError !== undefined ? `; last error: ${lastError.message} (${lastError.code})` : ''
  return { condition: 'FAILED', retrying: 0, reason: { code: 'ERR_TIMEOUT', message: `deadline ${task.deadline} passed with ${task.pending} files still pending${why}` } }
}

/**
 * Writes the final condition and counters. A cancel is final: a run whose pull returned just after it (the
 * pull had finished, or copied everything from this node, before it saw the abort) leaves it CANCELLED.
 */
function end (ctx: RunContext, task: TaskRecord, patch: TaskPatch): RunEnd {
  if (ctx.store.get(task.taskId)?.condition === 'CANCELLED') return stopped(ctx, task, { kind: 'cancel' })
  ctx.store.update(task.taskId, { ...patch, completed: Date.now() })
  const reason = patch.reason != null ? `: ${patch.reason.message}` : ''
  ctx.log(task.taskId, 'ended', `${patch.condition ?? task.condition}${reason}`, { condition: patch.condition ?? task.condition, reason: patch.reason ?? null })
  return 'ended'
}

/** The service stopped the run: a cancel is final (cancel() already set CANCELLED), a shutdown is not. */
function stopped (ctx: RunContext, task: TaskRecord, reason: StopReason | undefined): RunEnd {
  if (reason?.kind === 'cancel') {
    ctx.store.update(task.taskId, { cancelled: task.pending, pending: 0, retrying: 0 })
    ctx.log(task.taskId, 'ended', 'CANCELLED', { condition: 'CANCELLED' })
    return 'ended'
  }
  ctx.log(task.taskId, 'interrupted', 'the daemon stopped; the task resumes when it starts again')
  return 'interrupted'
}

/** Waits `ms`; false if `signal` aborted first. */
async function sleep (ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false
  return await new Promise<boolean>((resolve) => {
    const onAbort = (): void => { clearTimeout(t); resolve(false) }
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(true) }, Math.max(0, ms))
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
