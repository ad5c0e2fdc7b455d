/**
 * `daemon.json` read without libp2p: what a command needs to find the running daemon and its API
 * (`@ferry/node/daemon-info`, loaded by the CLI without the cost of loading libp2p).
 */
import path from 'node:path'
import { DAEMON_FILE } from './constants.js'
import { readTextIfExists } from './files.js'

/** The contents of `daemon.json`. */
export interface DaemonInfo {
  pid: number
  peerId: string
  /** Full multiaddrs, each ending in /p2p/<PeerId>; [] while starting. */
  addrs: string[]
  /** ISO 8601 start time. */
  started: string
  /** The HTTP API's base URL (http://127.0.0.1:PORT), once it listens; absent without one. */
  api?: string
}

/** Whether a process `pid` runs (EPERM: it runs, as another user). */
export function isAlive (pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** `file` parsed as DaemonInfo; undefined if missing, torn or foreign. */
export async function readInfo (file: string): Promise<DaemonInfo | undefined> {
  const text = await readTextIfExists(file)
  if (text === undefined) return undefined
  try {
    const v = JSON.parse(text) as Partial<DaemonInfo>
    if (typeof v.pid !== 'number' || typeof v.peerId !== 'string' || !Array.isArray(v.addrs)) return undefined
    const info: DaemonInfo = { pid: v.pid, peerId: v.peerId, addrs: v.addrs.filter((a): a is string => typeof a === 'string'), started: String(v.started ?? '') }
    if (typeof v.api === 'string') info.api = v.api
    return info
  } catch {
    return undefined // torn or foreign: treat as stale
  }
}

/** The running daemon of the home in `homeDir`, or undefined if none runs (a stale file is ignored). */
export async function readDaemonInfo (homeDir: string): Promise<DaemonInfo | undefined> {
  const info = await readInfo(path.join(homeDir, DAEMON_FILE))
  return info !== undefined && isAlive(info.pid) ? info : undefined
}
