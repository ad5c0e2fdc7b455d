/** The schemas of the subscription routes (`/v1/subscriptions`): rules, their states and sources. */
import { Type } from 'typebox'

const closed = { additionalProperties: false } as const
const Time = Type.String({ format: 'date-time' })
const OrNull = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

const Reason = Type.Object({ code: Type.String(), message: Type.String() }, closed)

export const SubscriptionParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{8}$', description: 'The rule\'s id (8 hex digits)' }) }, closed)

export const CreateSubscriptionBody = Type.Object({
  collection: Type.String({ minLength: 1, maxLength: 1024, description: 'The collection to replicate' }),
  destination: Type.String({ pattern: '^/', maxLength: 4096, description: 'Absolute directory; each scan goes into <destination>/<scan name>' }),
  from: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { maxItems: 64, description: 'Names of the address book or multiaddrs ending in /p2p/<PeerId>; none = every named peer' })),
  onDone: Type.Optional(Type.String({ maxLength: 4096, description: 'Shell command run when each of the rule\'s tasks ends' }))
}, closed)

export const DeleteSubscriptionQuery = Type.Object({
  cancelTasks: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'Also cancel the rule\'s QUEUED and ACTIVE tasks (default: they go on)' }))
}, closed)

const Source = Type.Object({
  peer: OrNull(Type.String({ description: 'PeerId' })),
  name: OrNull(Type.String({ description: 'Its name in the address book, or the --from value that names nobody' })),
  addr: OrNull(Type.String()),
  state: Type.Union(['connecting', 'listing', 'watching', 'retrying', 'unresolved'].map((s) => Type.Literal(s)), {
    description: 'connecting (dialling, subscribing); listing (subscribed, catching up from its catalog); watching (caught up, announcements arrive); retrying (the last session failed: error, retryAt); unresolved (the --from value names nobody)'
  }),
  since: Time,
  error: OrNull(Reason),
  retryAt: OrNull(Time),
  lastListed: OrNull(Time),
  listed: Type.Integer({ description: 'Scans of the collection in the last complete listing' })
}, closed)

const Stuck = Type.Object({
  root: Type.String(),
  name: Type.String(),
  dir: Type.String(),
  peer: Type.String(),
  taskId: OrNull(Type.String()),
  queued: Time,
  condition: Type.String(),
  reason: OrNull(Reason)
}, closed)

/** One open scan followed as it is acquired (the shape the web view reads, on a subscription and on a task). */
export const OpenScan = Type.Object({
  collection: Type.String(),
  name: Type.String(),
  published: Type.Integer({ description: 'Files the source published so far (entries, each version counts)' }),
  arrived: Type.Integer({ description: 'Paths whose latest version is placed here, verified' }),
  lagMs: OrNull(Type.Integer({ description: 'ms from the publication of the latest file that arrived to its verified arrival here (the two machines\' clocks); null before the first' })),
  backlogBytes: Type.Integer({ description: 'Bytes of the latest versions published and not yet placed' })
}, { ...closed, description: 'An open scan followed file by file' })

export const Subscription = Type.Object({
  id: Type.String(),
  collection: Type.String(),
  destination: Type.String(),
  from: Type.Array(Type.String()),
  onDone: OrNull(Type.String()),
  created: Time,
  state: Type.Union([Type.Literal('OK'), Type.Literal('REPLICATING'), Type.Literal('STUCK'), Type.Literal('WAITING')], {
    description: 'OK: every scan found is replicated; REPLICATING: tasks queued or active; STUCK: a task FAILED or was CANCELLED (stuck), or no source can be asked; WAITING: no scan found yet (none there, or not granted to us)'
  }),
  reason: Type.String({ description: 'Why it is in that state, in one line' }),
  counts: Type.Object({ scans: Type.Integer(), queued: Type.Integer(), active: Type.Integer(), succeeded: Type.Integer(), failed: Type.Integer(), cancelled: Type.Integer() }, closed),
  stuck: Type.Array(Stuck),
  sources: Type.Array(Source),
  openScans: Type.Array(OpenScan, { description: 'The open scans of the collection followed now, as they are acquired' })
}, { ...closed, description: 'A standing rule with its state' })

export const SubscriptionList = Type.Object({ subscriptions: Type.Array(Subscription) }, { ...closed, description: 'Every rule, oldest first' })

export const CreateSubscriptionReply = Type.Object({
  subscription: Subscription,
  created: Type.Boolean({ description: 'false if the same rule existed (same collection and destination)' })
}, closed)

export const DeleteSubscriptionReply = Type.Object({
  removed: Subscription,
  cancelled: Type.Array(Type.String(), { description: 'Task ids cancelled (cancelTasks=true)' })
}, closed)
