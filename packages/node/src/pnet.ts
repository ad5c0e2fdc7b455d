/**
 * The private network of a home: `swarm.key` in the home directory, in the libp2p pnet format
 *
 * ```
 * /key/swarm/psk/1.0.0/
 * /base16/
 * <64 hex digits: 32 random bytes>
 * ```
 *
 * When the file exists, every libp2p connection of the home's node (daemon and `ferry pull`) is wrapped in
 * XSalsa20 keyed by it, under Noise: a node without the same key cannot complete a handshake, so it cannot
 * even learn this node's PeerId. It hides the node from non-members; it does not replace `trusted` and
 * `grants`, which still decide who may fetch what.
 */
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { FerryError } from '@ferry/errors'
import { writeFileAtomic } from '@ferry/store'
import { readTextIfExists } from './files.js'

/** File name of the pre-shared key inside a home. */
export const SWARM_KEY_FILE = 'swarm.key'

const HEADER = '/key/swarm/psk/1.0.0/'
const CODEC = '/base16/'

/** A loaded pre-shared key. */
export interface SwarmKey {
  /** The file's bytes, as `@libp2p/pnet` takes them. */
  bytes: Uint8Array
  /** First 8 bytes of SHA-256 of the key, in hex: safe to show and compare between sites. */
  fingerprint: string
}

/** Parses swarm.key text; ERR_INVALID_ARGUMENT naming `where` if it is not one. */
export function parseSwarmKey (text: string, where: string): SwarmKey {
  const lines = text.split(/\r\n|\r|\n/)
  const hex = (lines[2] ?? '').trim()
  if (lines[0]?.trim() !== HEADER || lines[1]?.trim() !== CODEC || !/^[0-9a-fA-F]{64}$/.test(hex) || lines.slice(3).some((l) => l.trim() !== '')) {
    throw new FerryError('ERR_INVALID_ARGUMENT', `${where} is not a swarm key (expected the three lines "${HEADER}", "${CODEC}" and 64 hex digits, as \`ferry pnet generate\` writes)`, { details: { path: where } })
  }
  const key = Buffer.from(hex, 'hex')
  const canonical = `${HEADER}\n${CODEC}\n${hex.toLowerCase()}`
  return { bytes: new TextEncoder().encode(canonical), fingerprint: createHash('sha256').update(key).digest('hex').slice(0, 16) }
}

/** A fresh swarm.key text (32 random bytes). */
export function newSwarmKeyText (): string {
  return `${HEADER}\n${CODEC}\n${randomBytes(32).toString('hex')}\n`
}

/** The swarm key of the home in `dir`, or undefined if it has none. A malformed file is ERR_HOME_CORRUPT. */
export async function readSwarmKey (dir: string): Promise<SwarmKey | undefined> {
  const file = path.join(dir, SWARM_KEY_FILE)
  const text = await readTextIfExists(file)
  if (text === undefined) return undefined
  try {
    return parseSwarmKey(text, file)
  } catch (err) {
    throw new FerryError('ERR_HOME_CORRUPT', `${(err as Error).message}: fix it, or remove it to leave the private network`, { cause: err, details: { path: file } })
  }
}

/**
 * Writes `text` (checked) as the home's swarm.key, mode 0600. ERR_HOME_EXISTS if one exists and `force` is
 * not set (replacing it cuts this node off from the other members until they get the new one).
 */
export async function writeSwarmKey (dir: string, text: string, options: { force?: boolean, source?: string } = {}): Promise<SwarmKey> {
  const file = path.join(dir, SWARM_KEY_FILE)
  const key = parseSwarmKey(text, options.source ?? 'the new key')
  if (options.force !== true) {
    const existing = await readSwarmKey(dir).catch(() => undefined)
    if (existing !== undefined || await fs.access(file).then(() => true, () => false)) {
      throw new FerryError('ERR_HOME_EXISTS', `${file} already exists${existing !== undefined ? ` (fingerprint ${existing.fingerprint})` : ''}: pass --force to replace it (peers with the old key can no longer connect)`, { details: { path: file } })
    }
  }
  await writeFileAtomic(file, Buffer.from(key.bytes).toString('utf8') + '\n', 0o600)
  return key
}
