/**
 * `config.json`: the user-editable settings of a home.
 *
 * ```json
 * {
 *   "version": 1,                          // format of this file; a newer one is refused (ERR_HOME_TOO_NEW)
 *   "listen": ["/ip4/0.0.0.0/tcp/4001"],   // libp2p multiaddrs the daemon listens on
 *   "announce": [],                        // multiaddrs to advertise instead of `listen` (NAT, DNS names); [] = listen
 *   "trusted": [],                         // PeerIds (12D3...) allowed to fetch from and push to this node
 *   "peers": [],                           // address book: [{ "name": "esrf", "id": "12D3...", "addrs": ["/dns4/..."] }]
 *   "grants": {},                          // optional: { "<collection>": ["12D3...", ...] } who may read which collection
 *   "hooks": {},                           // optional: { "<collection>": "shell command" } run when a task of it ends
 *   "api": { "port": 0 }                   // optional: the daemon's HTTP API port on 127.0.0.1 (0 = a free port)
 * }
 * ```
 *
 * Keys this version does not know are kept as they are when the file is re-saved, so a newer Ferry's
 * additions survive an older one. The chunk size is deliberately not a setting: every site must cut files the
 * same way for equal data to get equal roots.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { FerryError, fromSystemError } from '@ferry/errors'

/** The config format this code writes and understands. */
export const CONFIG_VERSION = 1

/** Where libp2p listens when the user has not said otherwise. */
export const DEFAULT_LISTEN: readonly string[] = ['/ip4/0.0.0.0/tcp/4001']

/** File name of the config inside a home. */
export const CONFIG_FILE = 'config.json'

/** A known remote site in the address book. */
export interface PeerEntry {
  /** Short name users type instead of the PeerId (optional). */
  name?: string
  /** The PeerId string. */
  id: string
  /** Multiaddrs to dial it at (without the /p2p/ suffix). */
  addrs: string[]
}

/** The parsed `config.json`. Unknown keys are carried along untouched. */
export interface FerryConfig {
  version: typeof CONFIG_VERSION
  listen: string[]
  announce: string[]
  trusted: string[]
  peers: PeerEntry[]
  /**
   * Per-collection access lists, on top of `trusted`: a collection listed here may be read only by the
   * PeerIds in its list ([] = by nobody); a collection not listed is readable by every trusted peer.
   * Absent = no collection restricted.
   */
  grants?: Record<string, string[]>
  /**
   * Default `onDone` command per collection for the daemon's tasks (run with /bin/sh -c when a task ends;
   * a task's own onDone wins). Absent = no hooks.
   */
  hooks?: Record<string, string>
  /** The daemon's HTTP API (always on 127.0.0.1). Absent = defaults (port 0: a free port, written to daemon.json). */
  api?: ApiConfig
  /** Defaults of `ferry pull` and of the daemon's pulls. Absent = the built-in defaults. */
  pull?: PullConfig
  [key: string]: unknown
}

/** The `pull` section of config.json. */
export interface PullConfig {
  /** TCP connections opened to each source peer, 1 .. 8 (`ferry pull --connections` wins). */
  connections?: number
  /**
   * MiB of leaves the daemon's tasks may have in flight together (asked of a peer and not yet written),
   * shared by every running task; default the task service's DEFAULT_TASK_INFLIGHT_BYTES.
   */
  daemonInflightMiB?: number
  /** Tasks the daemon runs at once; default the task service's DEFAULT_TASK_CONCURRENCY. */
  daemonTasks?: number
}

/** Most connections per source a config may ask for (the transfer engine's MAX_CONNECTIONS_PER_PEER). */
const MAX_PULL_CONNECTIONS = 8
/** Largest in-flight budget a config may give the daemon's tasks (MiB). */
const MAX_DAEMON_INFLIGHT_MIB = 4096
/** Most tasks a config may have the daemon run at once. */
const MAX_DAEMON_TASKS = 64

/** The `api` section of config.json. */
export interface ApiConfig {
  /** TCP port on 127.0.0.1; 0 (default) = a free port chosen at start. */
  port?: number
}

/** A fresh config with every default filled in, optionally overridden by `overrides`. */
export function defaultConfig (overrides: Partial<FerryConfig> = {}): FerryConfig {
  return {
    ...overrides,
    version: CONFIG_VERSION,
    listen: overrides.listen ?? [...DEFAULT_LISTEN],
    announce: overrides.announce ?? [],
    trusted: overrides.trusted ?? [],
    peers: overrides.peers ?? []
  }
}

/** Thrown inside `validateConfig`; the caller wraps it with the right error code. */
class ConfigProblem extends Error {}

function stringList (value: unknown, key: string, check?: (s: string) => void): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
    throw new ConfigProblem(`"${key}" must be a list of strings`)
  }
  if (check !== undefined) value.forEach(check)
  return [...value]
}

function multiaddr (key: string) {
  return (s: string): void => {
    if (!s.startsWith('/')) throw new ConfigProblem(`"${key}" holds "${s}", which is not a multiaddr (they start with /)`)
  }
}

function peerId (key: string) {
  return (s: string): void => {
    try {
      peerIdFromString(s)
    } catch {
      throw new ConfigProblem(`"${key}" holds "${s}", which is not a PeerId`)
    }
  }
}

/** `pull`: { "connections": 1..8, "daemonInflightMiB": 1..4096, "daemonTasks": 1..64 }. */
function pullSection (value: unknown): PullConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigProblem('"pull" must be an object: { "connections": 4 }')
  const section = value as Record<string, unknown>
  const n = section.connections
  if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_PULL_CONNECTIONS)) {
    throw new ConfigProblem(`"pull.connections" must be a whole number from 1 to ${MAX_PULL_CONNECTIONS}, not ${JSON.stringify(n)}`)
  }
  const mib = section.daemonInflightMiB
  if (mib !== undefined && (typeof mib !== 'number' || !Number.isInteger(mib) || mib < 1 || mib > MAX_DAEMON_INFLIGHT_MIB)) {
    throw new ConfigProblem(`"pull.daemonInflightMiB" must be a whole number from 1 to ${MAX_DAEMON_INFLIGHT_MIB}, not ${JSON.stringify(mib)}`)
  }
  const tasks = section.daemonTasks
  if (tasks !== undefined && (typeof tasks !== 'number' || !Number.isInteger(tasks) || tasks < 1 || tasks > MAX_DAEMON_TASKS)) {
    throw new ConfigProblem(`"pull.daemonTasks" must be a whole number from 1 to ${MAX_DAEMON_TASKS}, not ${JSON.stringify(tasks)}`)
  }
  return { ...section, ...(n !== undefined ? { connections: n } : {}), ...(mib !== undefined ? { daemonInflightMiB: mib } : {}), ...(tasks !== undefined ? { daemonTasks: tasks } : {}) }
}

/** `hooks`: { "<collection>": "<non-empty command>" }, or undefined when absent. */
function checkHooks (value: unknown): Record<string, string> | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigProblem('"hooks" must be an object: { "<collection>": "<shell command>" }')
  }
  const hooks: Record<string, string> = {}
  for (const [collection, cmd] of Object.entries(value)) {
    if (collection === '') throw new ConfigProblem('"hooks" has an empty collection name')
    if (typeof cmd !== 'string' || cmd.trim() === '') throw new ConfigProblem(`"hooks.${collection}" must be a non-empty shell command`)
    hooks[collection] = cmd
  }
  return hooks
}

function apiSection (value: unknown): ApiConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigProblem('"api" must be an object: { "port": 0 }')
  const api = value as Record<string, unknown>
  const port = api.port
  if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new ConfigProblem(`"api.port" must be a TCP port number from 0 to 65535 (0 = a free port), not ${JSON.stringify(port)}`)
  }
  return { ...api, ...(port !== undefined ? { port } : {}) }
}

/**
 * Checks a parsed config and fills in missing optional keys. Throws ERR_HOME_TOO_NEW for a newer format and
 * `invalid(reason)` for anything else wrong.
 */
export function validateConfig (value: unknown, where: string, invalid: (reason: string) => FerryError): FerryConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('it is not a JSON object')
  const raw = value as Record<string, unknown>
  if (typeof raw.version !== 'number') throw invalid('"version" is missing')
  if (raw.version > CONFIG_VERSION) {
    throw new FerryError('ERR_HOME_TOO_NEW',
      `${where} has config version ${raw.version}, this Ferry understands ${CONFIG_VERSION}: upgrade Ferry`,
      { details: { path: where, version: raw.version, supported: CONFIG_VERSION } })
  }
  if (raw.version !== CONFIG_VERSION) throw invalid(`"version" ${raw.version} is not supported`)
  try {
    const peers = raw.peers === undefined ? [] : raw.peers
    if (!Array.isArray(peers)) throw new ConfigProblem('"peers" must be a list')
    const checkedPeers = peers.map((p: unknown): PeerEntry => {
      if (typeof p !== 'object' || p === null) throw new ConfigProblem('"peers" entries must be objects')
      const entry = p as Record<string, unknown>
      if (typeof entry.id !== 'string') throw new ConfigProblem('"peers" entries need an "id"')
      peerId('peers')(entry.id)
      if (entry.name !== undefined && typeof entry.name !== 'string') throw new ConfigProblem('"peers" names must be strings')
      return { ...entry, id: entry.id, addrs: stringList(entry.addrs, 'peers.addrs', multiaddr('peers.addrs')) }
    })
    let grants: Record<string, string[]> | undefined
    if (raw.grants !== undefined) {
      if (typeof raw.grants !== 'object' || raw.grants === null || Array.isArray(raw.grants)) {
        throw new ConfigProblem('"grants" must be an object: { "<collection>": ["<PeerId>", ...] }')
      }
      grants = {}
      for (const [collection, ids] of Object.entries(raw.grants)) {
        if (collection === '') throw new ConfigProblem('"grants" has an empty collection name')
        grants[collection] = stringList(ids, `grants.${collection}`, peerId(`grants.${collection}`))
      }
    }
    const hooks = checkHooks(raw.hooks)
    const api = raw.api === undefined ? undefined : apiSection(raw.api)
    const pull = raw.pull === undefined ? undefined : pullSection(raw.pull)
    return {
      ...raw,
      ...(grants !== undefined ? { grants } : {}),
      ...(hooks !== undefined ? { hooks } : {}),
      ...(api !== undefined ? { api } : {}),
      ...(pull !== undefined ? { pull } : {}),
      version: CONFIG_VERSION,
      listen: raw.listen === undefined ? [...DEFAULT_LISTEN] : stringList(raw.listen, 'listen', multiaddr('listen')),
      announce: stringList(raw.announce, 'announce', multiaddr('announce')),
      trusted: stringList(raw.trusted, 'trusted', peerId('trusted')),
      peers: checkedPeers
    }
  } catch (err) {
    if (err instanceof ConfigProblem) throw invalid(err.message)
    throw err
  }
}

/** Reads and validates `config.json` in `dir`. Unreadable or invalid → ERR_HOME_CORRUPT. */
export async function readConfig (dir: string): Promise<FerryConfig> {
  const file = path.join(dir, CONFIG_FILE)
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new FerryError('ERR_HOME_CORRUPT', `Ferry home at ${dir} has no ${CONFIG_FILE} (interrupted \`ferry init\`?)`, { cause: err, details: { path: file } })
    }
    throw fromSystemError(err, file)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new FerryError('ERR_HOME_CORRUPT', `${file} is not valid JSON: fix or restore it`, { cause: err, details: { path: file } })
  }
  return validateConfig(parsed, file, reason =>
    new FerryError('ERR_HOME_CORRUPT', `${file} is invalid: ${reason}`, { details: { path: file } }))
}

/**
 * Writes `text` to `file` atomically: a uniquely named temporary file in the same directory is written,
 * flushed and renamed over the target, so readers (and other processes) see the old or the new file, never
 * a torn one.
 */
export async function writeFileAtomic (file: string, text: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    const handle = await fs.open(tmp, 'wx', mode)
    try {
      await handle.writeFile(text)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await fs.rename(tmp, file)
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => {})
    throw fromSystemError(err, file)
  }
  await syncDir(path.dirname(file))
}

/** fsyncs a directory so a rename or create in it survives a crash (best effort: not every fs allows it). */
export async function syncDir (dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined
  try {
    handle = await fs.open(dir, 'r')
    await handle.sync()
  } catch {
    // Some filesystems refuse fsync on directories; the data itself is already flushed.
  } finally {
    await handle?.close()
  }
}

/** Validates `cfg` (ERR_INVALID_ARGUMENT if wrong) and writes it atomically to `config.json` in `dir`. */
export async function writeConfig (dir: string, cfg: FerryConfig): Promise<FerryConfig> {
  const file = path.join(dir, CONFIG_FILE)
  const checked = validateConfig(cfg, file, reason =>
    new FerryError('ERR_INVALID_ARGUMENT', `Refusing to save config: ${reason}`, { details: { path: file } }))
  await writeFileAtomic(file, JSON.stringify(checked, null, 2) + '\n')
  return checked
}
