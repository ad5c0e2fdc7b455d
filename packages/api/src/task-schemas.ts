/**
 * The schemas of the task routes (`/v1/tasks`) and of the task events on `GET /v1/events`: a task's record
 * under the Globus activity view's names (docs/architecture.md, "Tasks"), closed like every other object.
 */
import { Type, type Static } from 'typebox'
import { OpenScan } from './subscription-schemas.js'
import { PEER_NAME_PATTERN } from '@ferry/node'

const closed = { additionalProperties: false } as const
const time = Type.String({ format: 'date-time' })
const timeOrNull = Type.Union([time, Type.Null()])
const count = (description: string): ReturnType<typeof Type.Integer> => Type.Integer({ minimum: 0, description })

/** The five conditions of a task. */
export const TASK_CONDITIONS = ['QUEUED', 'ACTIVE', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const

export const TaskCondition = Type.Union(TASK_CONDITIONS.map((c) => Type.Literal(c)), {
  description: 'QUEUED and ACTIVE are live; SUCCEEDED, FAILED and CANCELLED are final (until a retry)'
})

export const TaskReason = Type.Union([
  Type.Object({ code: Type.String({ description: 'A stable Ferry error code' }), message: Type.String() }, closed),
  Type.Null()
], { description: 'What ended the task (or its last attempt); null when it succeeded or has not ended' })

export const TaskRunStats = Type.Union([
  Type.Object({
    bytesFetched: count('Received from peers'),
    bytesLocal: count('Copied from files this node holds'),
    bytesPresent: count('Found in place at the destination'),
    bytesResumed: count('Staged by an earlier run and re-verified'),
    seconds: Type.Number({ minimum: 0 }),
    phases: Type.Optional(Type.Record(Type.String(), Type.Number({ minimum: 0 }), { description: 'Seconds in each phase of the pull this run completed (record, dag, reconcile, space, fetch, place, finish); absent when the quick no-op check answered' }))
  }, closed),
  Type.Null()
], { description: 'What the last run of the pull did; null before the first ends' })

/** A task's record, as stored and shown. */
export const Task = Type.Object({
  taskId: Type.String({ description: 'A UUID' }),
  label: Type.Union([Type.String(), Type.Null()]),
  root: Type.String({ description: 'The scan\'s root CID' }),
  sources: Type.Array(Type.String(), { description: 'Multiaddrs fetched from, each ending in /p2p/<PeerId>' }),
  destination: Type.String({ description: 'Absolute directory on the daemon\'s machine' }),
  collection: Type.Union([Type.String(), Type.Null()]),
  condition: TaskCondition,
  requested: time,
  started: timeOrNull,
  completed: timeOrNull,
  deadline: Type.String({ format: 'date-time', description: 'When the task gives up (FAILED, ERR_TIMEOUT)' }),
  settings: Type.Object({}, { additionalProperties: true, description: 'Pull options: deadlineMs, checksum, fsync, allowEscapingSymlinks, onDone' }),
  files: count('Files in the scan'),
  directories: count('Directories in the scan'),
  bytesTotal: count('Bytes of the scan\'s files'),
  bytesTransferred: count('Bytes received or copied, over every run'),
  pending: count('Entries not placed yet'),
  succeeded: count('Entries in place and verified'),
  failed: count('Entries that failed (fileErrors says why)'),
  retrying: count('Entries waiting for another attempt'),
  skipped: count('Entries missing at the source'),
  cancelled: count('Entries left when the task was cancelled'),
  effectiveSpeed: Type.Number({ minimum: 0, description: 'Bytes per second while ACTIVE' }),
  activeMs: count('Time spent ACTIVE, over every run'),
  eta: Type.Union([time, Type.Null()], { description: 'Expected completion at the effective speed; null when unknown or ended' }),
  attempts: count('Runs of the pull so far'),
  reason: TaskReason,
  lastRun: TaskRunStats,
  fromPeers: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'Bytes received from each source peer, by PeerId, over every run (bytes copied from this node\'s own files are not in it)' }),
  updated: time
}, { ...closed, description: 'A durable task: one replication the daemon owns' })

export const TaskFileError = Type.Object({
  path: Type.String({ description: 'Path in the scan' }),
  code: Type.String({ description: 'A stable code: ERR_CONFLICT, ERR_MISSING_AT_SOURCE, ERR_UNAVAILABLE, ...' }),
  message: Type.String(),
  when: time,
  attempts: count('Runs in which this entry failed')
}, closed)

export const TaskDetail = Type.Object({
  ...Task.properties,
  fileErrors: Type.Array(TaskFileError, { description: 'Every entry that did not succeed, with its last error (the first 1000)' }),
  openScans: Type.Array(OpenScan, { description: 'The open scans followed into the task\'s destination before its seal (a subscription\'s task of a followed scan), from the follow journal: published is the entries up to the last that arrived; empty for other tasks' })
}, { ...closed, description: 'A task with the reasons of its failed entries' })

export const TaskLogEvent = Type.Object({
  id: count('Increasing per home'),
  taskId: Type.String(),
  time,
  kind: Type.String({ description: 'created, attempt, peer, retrying, waiting, resumed, cancel, retry, ended, hook, hook:done, hook:failed' }),
  message: Type.String(),
  data: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])
}, { ...closed, description: 'One event of a task\'s log' })

/** A source: a multiaddr ending in /p2p/<PeerId> (checked in full by the handler), or a name of the address book. */
const TaskSource = Type.Union([
  Type.String({ pattern: '^/.+/p2p/[1-9A-HJ-NP-Za-km-z]+$', maxLength: 1024 }),
  Type.String({ pattern: PEER_NAME_PATTERN })
], { description: 'A multiaddr ending in /p2p/<PeerId>, or a peer name of the address book (`ferry peer add`)' })

export const CreateTaskBody = Type.Object({
  root: Type.String({ minLength: 1, maxLength: 256, description: 'The scan\'s root CID' }),
  destination: Type.String({ pattern: '^/', maxLength: 4096, description: 'An absolute directory on the daemon\'s machine' }),
  sources: Type.Array(TaskSource, { minItems: 1, maxItems: 64 }),
  label: Type.Optional(Type.String({ maxLength: 256 })),
  deadline: Type.Optional(Type.Union([
    Type.Number({ exclusiveMinimum: 0, description: 'Seconds from now' }),
    Type.String({ maxLength: 64, description: 'An ISO 8601 time' })
  ], { description: 'When to give up: seconds from now (also the new deadline of a retry), or an ISO 8601 time. Default: a day' })),
  onDone: Type.Optional(Type.String({ maxLength: 4096, description: 'A shell command run when the task ends (instead of the collection\'s hook)' })),
  checksum: Type.Optional(Type.Boolean({ description: 'Re-hash files already in place, even those Ferry placed' })),
  fsync: Type.Optional(Type.Boolean({ description: 'Make each file durable before its name appears' })),
  allowEscapingSymlinks: Type.Optional(Type.Boolean({ description: 'Also create symlinks whose target leaves the destination' }))
}, closed)

export const TaskReply = Type.Object({
  task: Task,
  created: Type.Boolean({ description: 'false when the same root and destination already had a live task: that one is returned' })
}, { ...closed, description: 'The task' })

export const TaskOnly = Type.Object({ task: Task }, { ...closed, description: 'The task as it is now' })
export const TaskList = Type.Object({ tasks: Type.Array(Task) }, { ...closed, description: 'Tasks, newest request first' })
export const TaskEventList = Type.Object({ events: Type.Array(TaskLogEvent) }, { ...closed, description: 'The task\'s log, oldest first' })

const CONDITIONS = `(${TASK_CONDITIONS.join('|')})`
export const ListTasksQuery = Type.Object({
  condition: Type.Optional(Type.String({ pattern: `^${CONDITIONS}(,${CONDITIONS})*$`, description: 'Only these conditions, comma-separated: ACTIVE,QUEUED' })),
  limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: 'At most this many (1 to 9999, default 1000)' }))
}, closed)

export const TaskEventsQuery = Type.Object({
  after: Type.Optional(Type.String({ pattern: '^(0|[1-9][0-9]{0,15})$', description: 'Only events with a greater id' })),
  limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: 'At most this many (default 1000)' }))
}, closed)

export const TaskParams = Type.Object({
  id: Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', description: 'The task\'s id (a UUID)' })
}, closed)

/** The data of the task events on GET /v1/events (documented in the OpenAPI document's components). */
export const TaskUpdatedEvent = Type.Object({
  type: Type.Literal('task:updated'),
  id: Type.Integer(),
  at: time,
  task: Task
}, { ...closed, description: 'event: task:updated. A task\'s record changed: at most about once a second per task, and always when its condition changes' })

export const TaskEventEvent = Type.Object({
  type: Type.Literal('task:event'),
  id: Type.Integer(),
  at: time,
  event: TaskLogEvent
}, { ...closed, description: 'event: task:event. A task\'s log got an event' })

export type CreateTaskBodyT = Static<typeof CreateTaskBody>
export type ListTasksQueryT = Static<typeof ListTasksQuery>
export type TaskEventsQueryT = Static<typeof TaskEventsQuery>
export type TaskParamsT = Static<typeof TaskParams>
