/**
 * The API's JSON schemas (TypeBox), one place for validation, response serialization, the TypeScript types
 * of handlers and the OpenAPI document. Every object is closed (`additionalProperties: false`): extra
 * fields in a request are a 400, not silently dropped.
 */
import { Type, type Static } from 'typebox'
import { PEER_NAME_PATTERN } from '@ferry/node'

const closed = { additionalProperties: false } as const

/** `{ error: { code, message } }`: every error answer. */
export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'A stable Ferry error code (ERR_USAGE, ERR_NOT_FOUND, ...): docs/api.md, "Errors"' }),
    message: Type.String({ description: 'One line saying what went wrong and what to do' })
  }, closed)
}, { ...closed, description: 'An error' })

/** The query of a route that takes none: any parameter is a 400, not silently ignored. */
export const NoQuery = Type.Object({}, closed)

/** A peer name in a path or body. */
export const PeerName = Type.String({ pattern: PEER_NAME_PATTERN, description: 'A short slug: a lowercase letter, then up to 31 lowercase letters, digits, - or _' })

/** A multiaddr ending in /p2p/<PeerId> (checked in full by the handler). */
export const PeerAddr = Type.String({ pattern: '^/.+/p2p/[1-9A-HJ-NP-Za-km-z]+$', maxLength: 1024, description: 'A multiaddr ending in /p2p/<PeerId>, e.g. /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...' })

export const PeerStateBody = Type.Object({
  state: Type.Union([Type.Literal('connected'), Type.Literal('disconnected'), Type.Literal('unreachable'), Type.Literal('refused'), Type.Literal('unknown')], {
    description: 'connected; disconnected (was connected); unreachable (the last dial failed); refused (it answers but does not trust us); unknown (not checked yet)'
  }),
  since: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When this state began' }),
  reason: Type.Union([Type.String(), Type.Null()], { description: 'Why unreachable, or the refusal\'s message' })
}, closed)

export const Peer = Type.Object({
  name: PeerName,
  id: Type.String({ description: 'PeerId' }),
  addrs: Type.Array(Type.String(), { description: 'Multiaddrs, each ending in /p2p/<id>' }),
  trusted: Type.Boolean({ description: 'Whether this node serves it (`ferry trust`); adding a peer does not trust it' }),
  state: PeerStateBody
}, closed)

export const PeerList = Type.Object({ peers: Type.Array(Peer) }, { ...closed, description: 'The named peers, in the order of config.json' })

export const AddPeerBody = Type.Object({ name: PeerName, addr: PeerAddr }, closed)

export const AddPeerReply = Type.Object({
  peer: Peer,
  created: Type.Boolean({ description: 'false if the peer was already there under this name with this address' })
}, { ...closed, description: 'The peer as stored, with its state' })

export const PeerParams = Type.Object({ name: PeerName }, closed)

export const RemovePeerReply = Type.Object({ removed: Type.Object({ name: PeerName, id: Type.String(), addrs: Type.Array(Type.String()) }, closed) }, { ...closed, description: 'The peer removed' })

/** Free space of a filesystem. */
export const SpaceBody = Type.Object({
  path: Type.String({ description: 'The path measured (the filesystem that holds it)' }),
  available: Type.Integer({ minimum: 0, description: 'Bytes this user may still write' }),
  total: Type.Integer({ minimum: 0, description: 'Size of the filesystem in bytes' })
}, closed)

/** Destinations listed by GET /v1/node at most (the node page shows each one's free space). */
export const DESTINATIONS_SHOWN = 50

/** A destination in use and the free space of its filesystem. */
export const DestinationSpace = Type.Object({
  path: Type.String({ description: 'The destination (a task\'s, or a subscription\'s directory)' }),
  available: Type.Integer({ minimum: 0, description: 'Bytes this user may still write there' }),
  total: Type.Integer({ minimum: 0, description: 'Size of its filesystem in bytes' }),
  use: Type.Array(Type.Union([Type.Literal('task'), Type.Literal('subscription')]), { description: 'What writes there' })
}, closed)

export const SpaceQuery = Type.Object({
  path: Type.String({ pattern: '^/', maxLength: 4096, description: 'An absolute path; if it does not exist yet, its nearest existing ancestor is measured' })
}, closed)

export const NodeBody = Type.Object({
  name: Type.String({ description: 'The host\'s name, to tell sites apart' }),
  peerId: Type.String(),
  addresses: Type.Array(Type.String(), { description: 'Listening multiaddrs, each ending in /p2p/<peerId>' }),
  version: Type.String({ description: 'Ferry version' }),
  home: Type.String({ description: 'The home directory' }),
  started: Type.String({ format: 'date-time' }),
  api: Type.String({ description: 'This API\'s base URL' }),
  space: SpaceBody,
  destinations: Type.Array(DestinationSpace, { maxItems: DESTINATIONS_SHOWN, description: `Free space where this node is writing now: each destination of a QUEUED or ACTIVE task and of a subscription (at most ${DESTINATIONS_SHOWN}, in the order given)` })
}, { ...closed, description: 'This node' })

/** Rows per page of GET /v1/peers/:name/catalog: default and maximum (the wire's MAX_CATALOG_PAGE_ROWS). */
export const CATALOG_PAGE_DEFAULT = 100
export const CATALOG_PAGE_MAX = 1000

export const CatalogQuery = Type.Object({
  collection: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Only scans of this collection' })),
  prefix: Type.Optional(Type.String({ maxLength: 1024, description: 'Only scans whose name starts with this' })),
  cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]+$', maxLength: 4096, description: 'The `next` of the previous page' })),
  limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: `Rows per page, 1 to ${CATALOG_PAGE_MAX}; default ${CATALOG_PAGE_DEFAULT}` }))
}, closed)

export const CatalogRowBody = Type.Object({
  root: Type.String({ description: 'Root CID' }),
  collection: Type.Union([Type.String(), Type.Null()]),
  name: Type.String(),
  origin: Type.String({ description: 'PeerId of the node that took the scan' }),
  files: Type.Integer({ minimum: 0 }),
  directories: Type.Integer({ minimum: 0 }),
  symlinks: Type.Integer({ minimum: 0 }),
  bytes: Type.Integer({ minimum: 0 }),
  created: Type.String({ format: 'date-time' }),
  skipped: Type.Integer({ minimum: 0, description: 'Entries the origin could not read' }),
  state: Type.Union([Type.Literal('sealed'), Type.Literal('open')], { description: 'sealed (complete, never changes) or open (still growing)' }),
  held: Type.Boolean({ description: 'Whether this node already holds a complete scan with this root' })
}, closed)

export const CatalogReply = Type.Object({
  rows: Type.Array(CatalogRowBody),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Cursor of the next page (pass as `cursor`); null on the last page' })
}, { ...closed, description: 'One page of the peer\'s catalog: the scans it lets this node read' })

export const LoginTokenReply = Type.Object({
  token: Type.String({ description: 'One-time login token' }),
  url: Type.String({ description: 'The page\'s login URL with the token: open it in a browser' }),
  expires: Type.String({ format: 'date-time', description: 'Unused after this, the token is void' })
}, { ...closed, description: 'A one-time login token for the web page' })

export type AddPeerBodyT = Static<typeof AddPeerBody>
export type PeerT = Static<typeof Peer>
export type NodeBodyT = Static<typeof NodeBody>

/** The standard error answers, for `response` in route schemas. */
export function errors (...statuses: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries([401, ...statuses].map((s) => [s, ErrorBody]))
}

/** A collection or scan name in a watch or seal request. */
const ScanLabel = Type.String({ minLength: 1, maxLength: 255, pattern: '^[^/\\u0000]+$', description: 'A collection or scan name: 1 to 255 characters, no / or NUL' })

export const AddWatchBody = Type.Object({
  dir: Type.String({ minLength: 1, maxLength: 4096, description: 'The directory to watch, absolute (as the daemon sees it)' }),
  collection: ScanLabel,
  name: Type.Optional(ScanLabel),
  settleSeconds: Type.Optional(Type.Number({ minimum: 0.1, maximum: 3600, description: 'A file unchanged this long counts as complete; default 2' }))
}, closed)

export const WatchReportBody = Type.Object({
  path: Type.String(),
  reason: Type.String({ description: 'What happened, e.g. changed after it was published; republished' }),
  at: Type.String({ format: 'date-time' })
}, closed)

export const Watch = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  dir: Type.String(),
  collection: Type.String(),
  name: Type.String({ description: 'The open scan it publishes into' }),
  settleMs: Type.Integer({ minimum: 0 }),
  created: Type.Integer({ description: 'ms since the epoch' }),
  key: Type.String({ description: 'The open scan\'s identifier (docs/format.md, "Signed open-scan entries")' }),
  published: Type.Integer({ minimum: 0, description: 'Files published so far, every version counted' }),
  pending: Type.Integer({ minimum: 0, description: 'Files waiting to settle' }),
  closeEvents: Type.Boolean({ description: 'Files are published as their writer closes them (inotifywait); false: only once unchanged for settleMs (the daemon log says why)' }),
  reports: Type.Array(WatchReportBody, { description: 'The newest changes reported (files rewritten after they were published)' })
}, { ...closed, description: 'A watch' })

export const WatchList = Type.Object({ watches: Type.Array(Watch) }, { ...closed, description: 'The running watches' })

export const WatchParams = Type.Object({ id: Type.String({ pattern: '^[1-9][0-9]{0,15}$', description: 'The watch\'s id' }) }, closed)

export const SealBody = Type.Object({ collection: ScanLabel, name: Type.Optional(ScanLabel) }, closed)

export const SealReply = Type.Object({
  collection: Type.String(),
  name: Type.String(),
  root: Type.String({ description: 'The sealed scan\'s root CID: the one `ferry add` of the finished directory gives' }),
  files: Type.Integer({ minimum: 0 }),
  bytes: Type.Integer({ minimum: 0 }),
  published: Type.Integer({ minimum: 0, description: 'Files published while open, every version counted' }),
  differs: Type.Array(Type.String(), { description: 'Files whose sealed content is not their last published version' }),
  skipped: Type.Array(Type.Object({ path: Type.String(), code: Type.String(), message: Type.String() }, closed))
}, { ...closed, description: 'The sealed scan' })
