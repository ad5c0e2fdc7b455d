/**
 * A node's home directory (`~/.ferry`, FERRY_HOME or --home):
 *
 * ```
 * <home>/            mode 0700
 *   identity.key     Ed25519 libp2p private key, protobuf-encoded, mode 0600
 *   config.json      settings (see config.ts), written atomically; written last by init, so its presence
 *                    means init completed
 *   catalog.db       SQLite catalog (+ -wal/-shm while open), see catalog.ts
 *   blocks/          inner DAG nodes, blockstore-fs layout, see blocks.ts
 * ```
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { FerryError, fromSystemError } from '@ferry/errors'
import { BLOCKS_DIR, openInnerBlocks, type InnerBlocks } from './blocks.js'
import { CATALOG_FILE, openCatalog, type Catalog } from './catalog.js'
import { CONFIG_FILE, defaultConfig, readConfig, writeConfig, type FerryConfig } from './config.js'
import { IDENTITY_FILE, generateIdentity, readIdentity, writeIdentity } from './identity.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'

/** Name of the home directory under the user's home when neither --home nor FERRY_HOME is given. */
export const DEFAULT_HOME_DIR_NAME = '.ferry'

/** Environment variable naming the home directory. */
export const HOME_ENV_VAR = 'FERRY_HOME'

/** Permissions of the home directory: owner only (it holds the private key). */
export const HOME_DIR_MODE = 0o700

/** Options of `initHome`. */
export interface InitHomeOptions {
  /** Use this key instead of generating one (restoring an identity, tests). */
  privateKey?: PrivateKey
  /** Initial settings; missing keys take their defaults. */
  config?: Partial<FerryConfig>
}

/** Options of `openHome`. */
export interface OpenHomeOptions {
  /** Read without writing anything: no migration, no block or scan writes, no config saves. */
  readonly?: boolean
}

/** An open home. Close it when done (it holds the catalog's database connection). */
export interface Home {
  /** Absolute path of the home directory. */
  readonly dir: string
  readonly peerId: PeerId
  readonly privateKey: PrivateKey
  /** The current settings (replaced by `saveConfig`). */
  readonly config: FerryConfig
  readonly catalog: Catalog
  readonly blocks: InnerBlocks
  readonly readonly: boolean
  /** Problems worth telling the user that do not stop Ferry (e.g. a key file readable by others). */
  readonly warnings: readonly string[]
  /** Validates and atomically writes `cfg` to config.json; returns it with defaults filled in. */
  saveConfig: (cfg: FerryConfig) => Promise<FerryConfig>
  /** Closes the catalog. Idempotent. */
  close: () => Promise<void>
}

function expandTilde (p: string, env: NodeJS.ProcessEnv): string {
  if (p === '~' || p.startsWith('~/')) return path.join(env.HOME ?? os.homedir(), p.slice(1))
  return p
}

/**
 * The home directory to use, as an absolute path: `explicit` (the --home value) if given, else FERRY_HOME,
 * else ~/.ferry. A leading `~/` is expanded (it reaches us unexpanded from `--home=~/x`).
 */
export function resolveHome (explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = explicit !== undefined && explicit !== ''
    ? explicit
    : env[HOME_ENV_VAR] !== undefined && env[HOME_ENV_VAR] !== ''
      ? env[HOME_ENV_VAR]
      : path.join(env.HOME ?? os.homedir(), DEFAULT_HOME_DIR_NAME)
  return path.resolve(expandTilde(chosen, env))
}

async function exists (p: string): Promise<boolean> {
  try {
    await fs.lstat(p)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw fromSystemError(err, p)
  }
}

async function homeExistsError (dir: string): Promise<FerryError> {
  let peer = ''
  try {
    const identity = await readIdentity(dir)
    if (identity !== undefined) peer = ` (peer ${identity.peerId.toString()})`
  } catch {
    // An unreadable key still means a home is there; just do not name the peer.
  }
  return new FerryError('ERR_HOME_EXISTS', `Ferry home already exists at ${dir}${peer}`, { details: { path: dir } })
}

/**
 * Creates a home in `dir` (which must not exist or be empty) and returns it open. ERR_HOME_EXISTS if a home
 * is already there. On failure, the files this call created are removed again.
 */
export async function initHome (dir: string, options: InitHomeOptions = {}): Promise<Home> {
  const abs = path.resolve(dir)
  if (await exists(path.join(abs, IDENTITY_FILE)) || await exists(path.join(abs, CONFIG_FILE))) throw await homeExistsError(abs)
  let created: string | undefined
  try {
    created = await fs.mkdir(abs, { recursive: true, mode: HOME_DIR_MODE })
    if (created === undefined) {
      const st = await fs.stat(abs)
      if (!st.isDirectory()) throw new FerryError('ERR_NOT_A_DIRECTORY', `Cannot create a Ferry home at ${abs}: it is not a directory`)
      const names = await fs.readdir(abs)
      if (names.length > 0) {
        throw new FerryError('ERR_INVALID_ARGUMENT', `Cannot create a Ferry home at ${abs}: the directory is not empty`, { details: { path: abs } })
      }
    }
    await fs.chmod(abs, HOME_DIR_MODE)
  } catch (err) {
    throw fromSystemError(err, abs)
  }

  const privateKey = options.privateKey ?? (await generateIdentity()).privateKey
  if (!await writeIdentity(abs, privateKey)) throw await homeExistsError(abs) // lost a race with another init
  let catalog: Catalog | undefined
  try {
    const blocks = await openInnerBlocks(path.join(abs, BLOCKS_DIR))
    catalog = openCatalog(path.join(abs, CATALOG_FILE))
    const config = await writeConfig(abs, defaultConfig(options.config))
    return makeHome(abs, privateKey, config, catalog, blocks, false, [])
  } catch (err) {
    catalog?.close()
    await removeHalfHome(abs, created !== undefined)
    throw err
  }
}

async function removeHalfHome (abs: string, createdDir: boolean): Promise<void> {
  const names = [IDENTITY_FILE, CONFIG_FILE, CATALOG_FILE, `${CATALOG_FILE}-wal`, `${CATALOG_FILE}-shm`, `${CATALOG_FILE}-journal`, BLOCKS_DIR]
  for (const name of names) await fs.rm(path.join(abs, name), { recursive: true, force: true }).catch(() => {})
  if (createdDir) await fs.rmdir(abs).catch(() => {})
}

/**
 * Opens the home in `dir`. ERR_HOME_NOT_FOUND if there is none; ERR_HOME_CORRUPT if its key, config or
 * catalog is missing or unreadable; ERR_HOME_TOO_NEW if a newer Ferry wrote it.
 */
export async function openHome (dir: string, options: OpenHomeOptions = {}): Promise<Home> {
  const abs = path.resolve(dir)
  const readonly = options.readonly === true
  const notFound = (cause?: unknown): FerryError =>
    new FerryError('ERR_HOME_NOT_FOUND', `No Ferry home at ${abs}: run \`ferry init\` first`, { cause, details: { path: abs } })
  let dirMode: number
  try {
    const st = await fs.stat(abs)
    if (!st.isDirectory()) throw new FerryError('ERR_NOT_A_DIRECTORY', `${abs} is not a directory, so not a Ferry home`, { details: { path: abs } })
    dirMode = st.mode
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(err)
    throw fromSystemError(err, abs)
  }

  const identity = await readIdentity(abs)
  if (identity === undefined) {
    if (!await exists(path.join(abs, CONFIG_FILE))) throw notFound()
    throw new FerryError('ERR_HOME_CORRUPT', `Ferry home at ${abs} has no ${IDENTITY_FILE}: restore it from a backup`, { details: { path: abs } })
  }
  const config = await readConfig(abs)
  const catalogFile = path.join(abs, CATALOG_FILE)
  if (!await exists(catalogFile)) {
    throw new FerryError('ERR_HOME_CORRUPT', `Ferry home at ${abs} has no ${CATALOG_FILE}: restore it from a backup`, { details: { path: catalogFile } })
  }

  const warnings: string[] = []
  if ((dirMode & 0o077) !== 0) warnings.push(`${abs} is accessible by other users (mode ${(dirMode & 0o777).toString(8)}): run chmod 700 ${abs}`)
  try {
    const keyMode = (await fs.stat(path.join(abs, IDENTITY_FILE))).mode
    if ((keyMode & 0o077) !== 0) warnings.push(`${path.join(abs, IDENTITY_FILE)} is readable by other users: run chmod 600 on it`)
  } catch {
    // Just read it; a failing stat here is not worth an error.
  }

  const catalog = openCatalog(catalogFile, { readonly })
  try {
    const blocks = await openInnerBlocks(path.join(abs, BLOCKS_DIR), { readonly })
    return makeHome(abs, identity.privateKey, config, catalog, blocks, readonly, warnings)
  } catch (err) {
    catalog.close()
    throw err
  }
}

function makeHome (dir: string, privateKey: PrivateKey, config: FerryConfig, catalog: Catalog, blocks: InnerBlocks, readonly: boolean, warnings: string[]): Home {
  let current = config
  let closed = false
  return {
    dir,
    peerId: peerIdFromPrivateKey(privateKey),
    privateKey,
    get config () { return current },
    catalog,
    blocks,
    readonly,
    warnings,
    async saveConfig (cfg: FerryConfig): Promise<FerryConfig> {
      if (readonly) throw new FerryError('ERR_PERMISSION', `Cannot save the config: the home at ${dir} is open read-only`)
      current = await writeConfig(dir, cfg)
      return current
    },
    async close (): Promise<void> {
      if (closed) return
      closed = true
      catalog.close()
    }
  }
}
