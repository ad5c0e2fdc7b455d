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
export { createSubscriptionService, viewOf } from './subscriptions.js'
export { scanDirName, isSafeSegment, shortRoot, SHORT_ROOT_CHARS } from './subscription-naming.js'
export { resolveSources, checkFrom, type SourcePeer, type UnresolvedSource } from './subscription-sources.js'
export { startWatcher, type Watcher, type WatcherContext } from './subscription-watcher.js'
export { subscriptionDaemonService, type SubscriptionDaemonOptions } from './subscription-daemon.js'
export { openFollows, type FollowDeps, type OpenFollows, type OpenRowLike } from './subscription-follow.js'
export type { OpenScanStatus } from '@ferry/follow'
export type {
  CatalogPeer, CatalogRowLike, SourceState, SourceView, SubscriptionRequest, SubscriptionService, SubscriptionServiceInit, SubscriptionState, SubscriptionView
} from './subscription-types.js'
export type { SubscriptionRecord, SubscribedScan, StuckScan } from '@ferry/store'
