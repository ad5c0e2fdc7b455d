/**
 * Who may fetch from this node: the PeerIds in config.json `trusted`, or everyone in open mode.
 *
 * The access hook re-reads the trusted list whenever config.json changes (one stat per request, the file
 * re-read only when its size, mtime or inode moved), so `ferry trust` / `ferry untrust` in another process
 * take effect on the next request without a restart. A config.json that fails to parse keeps the last good
 * list (and logs why) rather than opening or closing the node by accident.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { FerryError } from '@ferry/errors'
import { CONFIG_FILE, type FerryConfig, type Home, type PeerEntry } from '@ferry/store'
import type { AccessDecision, Authorize } from '@ferry/exchange'
import type { Logger, PeerId } from '@libp2p/interface'

/**
 * Parses a PeerId string (`12D3Koo...` or `Qm...`), with a one-line error naming the bad input.
 * ERR_INVALID_ARGUMENT if it is not one.
 */
export function parsePeerId (text: string): PeerId {
  let id: PeerId
  try {
    id = peerIdFromString(text.trim())
  } catch (err) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `"${text}" is not a peer ID (they look like 12D3KooW...; \`ferry id\` prints one)`, { cause: err, details: { peerId: text } })
  }
  if (id.type === 'url') throw new FerryError('ERR_INVALID_ARGUMENT', `"${text}" is not a key-based peer ID`, { details: { peerId: text } })
  return id
}

/** The message a refused peer receives. */
export function notTrustedMessage (peer: string, self: string): string {
  return `peer ${peer} is not trusted by ${self}: ask its operator to run \`ferry trust ${peer}\``
}

interface Stamp { size: number, mtimeMs: number, ino: number }

/** The access hook of a node: reads `trusted` from config.json as it changes. */
export class TrustGate {
  private trusted: Set<string>
  private stamp: Stamp | undefined
  private refreshing: Promise<void> | undefined
  private readonly file: string

  constructor (private readonly home: Pick<Home, 'dir' | 'config' | 'peerId'>, private readonly open: boolean, private readonly log: Logger) {
    this.file = path.join(home.dir, CONFIG_FILE)
    this.trusted = new Set(home.config.trusted)
  }

  /** PeerIds trusted right now (after the last reload). */
  get list (): string[] {
    return [...this.trusted]
  }

  /** The hook for the exchange server. */
  readonly authorize: Authorize = async (peer) => {
    if (this.open) return { allow: true }
    await this.refresh()
    const id = peer.toString()
    if (this.trusted.has(id)) return { allow: true }
    this.log('refused untrusted peer %s', id)
    return { allow: false, reason: notTrustedMessage(id, this.home.peerId.toString()) } satisfies AccessDecision
  }

  /** Re-reads the trusted list if config.json changed. Concurrent callers share one check. */
  async refresh (): Promise<void> {
    this.refreshing ??= this.check().finally(() => { this.refreshing = undefined })
    await this.refreshing
  }

  private async check (): Promise<void> {
    let st
    try {
      st = await fs.stat(this.file)
    } catch (err) {
      this.log.error('cannot stat %s, keeping the last trusted list: %e', this.file, err)
      return
    }
    const stamp = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino }
    if (this.stamp !== undefined && stamp.size === this.stamp.size && stamp.mtimeMs === this.stamp.mtimeMs && stamp.ino === this.stamp.ino) return
    try {
      const cfg = JSON.parse(await fs.readFile(this.file, 'utf8')) as Partial<FerryConfig>
      const list = Array.isArray(cfg.trusted) ? cfg.trusted.filter((t): t is string => typeof t === 'string') : []
      this.trusted = new Set(list)
      this.stamp = stamp
      this.log('trusted list reloaded: %d peers', list.length)
    } catch (err) {
      this.log.error('cannot read %s, keeping the last trusted list: %e', this.file, err)
    }
  }
}

/** One trusted peer, with its address-book name if any. */
export interface TrustedPeer {
  id: string
  name?: string
}

/** The trusted peers of a home, with their names from the address book. */
export function listTrusted (home: Pick<Home, 'config'>): TrustedPeer[] {
  const names = new Map(home.config.peers.map((p) => [p.id, p.name]))
  return home.config.trusted.map((id) => {
    const name = names.get(id)
    return name === undefined ? { id } : { id, name }
  })
}

/**
 * Adds `peerIdText` to the trusted list (and names it in the address book if `name` is given). Returns
 * whether it was newly trusted. ERR_INVALID_ARGUMENT for a bad PeerId or a name another peer already has.
 */
export async function trustPeer (home: Pick<Home, 'config' | 'saveConfig' | 'peerId'>, peerIdText: string, options: { name?: string } = {}): Promise<boolean> {
  const id = parsePeerId(peerIdText).toString()
  const cfg = home.config
  const name = options.name?.trim()
  let peers: PeerEntry[] = cfg.peers
  if (name !== undefined) {
    if (name === '') throw new FerryError('ERR_INVALID_ARGUMENT', 'A peer name cannot be empty')
    const taken = cfg.peers.find((p) => p.name === name && p.id !== id)
    if (taken !== undefined) throw new FerryError('ERR_INVALID_ARGUMENT', `The name "${name}" is already used by peer ${taken.id}`)
    const existing = cfg.peers.find((p) => p.id === id)
    peers = existing === undefined
      ? [...cfg.peers, { name, id, addrs: [] }]
      : cfg.peers.map((p) => p.id === id ? { ...p, name } : p)
  }
  const added = !cfg.trusted.includes(id)
  if (!added && peers === cfg.peers) return false
  await home.saveConfig({ ...cfg, trusted: added ? [...cfg.trusted, id] : cfg.trusted, peers })
  return added
}

/** Removes `peerIdText` from the trusted list (the address book keeps it). Returns whether it was trusted. */
export async function untrustPeer (home: Pick<Home, 'config' | 'saveConfig'>, peerIdText: string): Promise<boolean> {
  const id = parsePeerId(peerIdText).toString()
  const cfg = home.config
  if (!cfg.trusted.includes(id)) return false
  await home.saveConfig({ ...cfg, trusted: cfg.trusted.filter((t) => t !== id) })
  return true
}
