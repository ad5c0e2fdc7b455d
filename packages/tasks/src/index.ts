/**
 * @ferry/tasks: the daemon's durable replication tasks (queued, run, retried, resumed after a crash) and
 * their hooks. The records live in the catalog (`catalog.tasks`, @ferry/store); this package runs them.
 */
export * from './constants.js'
export { createTaskService, queueTask, overlaps } from './service.js'
export { FAILURE_KINDS, classify, describeError, type FailureKind } from './classify.js'
export { runHook, hookEnv, type HookOutcome, type HookRun } from './hooks.js'
export type { TaskDetail, TaskRequest, TaskService, TaskServiceInit, TaskUpdate } from './types.js'
export type { TaskCondition, TaskEvent, TaskFileFailure, TaskReason, TaskRecord, TaskRunStats } from '@ferry/store'
export { taskDaemonService, type DaemonParts, type TaskDaemonOptions } from './daemon.js'
