/**
 * The node's libp2p identity: an Ed25519 private key stored as its libp2p protobuf encoding in
 * `identity.key` (mode 0600). The PeerId is derived from it, never stored separately.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { FerryError, fromSystemError } from '@ferry/errors'
import { syncDir } from './config.js'
import type { PrivateKey, PeerId } from '@libp2p/interface'

/** File name of the private key inside a home. */
export const IDENTITY_FILE = 'identity.key'

/** Permissions of the key file: owner read/write only. */
export const IDENTITY_FILE_MODE = 0o600

/** A private key and the PeerId it gives. */
export interface Identity {
  privateKey: PrivateKey
  peerId: PeerId
}

/** Generates a new Ed25519 identity. */
export async function generateIdentity (): Promise<Identity> {
  const privateKey = await generateKeyPair('Ed25519')
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey) }
}

/**
 * Writes `privateKey` to `identity.key` in `dir`, creating the file exclusively (so two concurrent
 * `ferry init` cannot both win). Returns false if the file already exists.
 */
export async function writeIdentity (dir: string, privateKey: PrivateKey): Promise<boolean> {
  const file = path.join(dir, IDENTITY_FILE)
  let handle: fs.FileHandle
  try {
    handle = await fs.open(file, 'wx', IDENTITY_FILE_MODE)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw fromSystemError(err, file)
  }
  try {
    await handle.chmod(IDENTITY_FILE_MODE) // the umask may have removed bits, never added: make it exact
    await handle.writeFile(privateKeyToProtobuf(privateKey))
    await handle.sync()
  } catch (err) {
    await handle.close().catch(() => {})
    await fs.rm(file, { force: true }).catch(() => {})
    throw fromSystemError(err, file)
  }
  await handle.close()
  await syncDir(dir)
  return true
}

/**
 * Reads `identity.key` from `dir`. Returns undefined if it does not exist; ERR_HOME_CORRUPT if it cannot be
 * decoded; ERR_PERMISSION / ERR_IO if it cannot be read.
 */
export async function readIdentity (dir: string): Promise<Identity | undefined> {
  const file = path.join(dir, IDENTITY_FILE)
  let bytes: Uint8Array
  try {
    bytes = await fs.readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw fromSystemError(err, file)
  }
  let privateKey: PrivateKey
  try {
    privateKey = privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new FerryError('ERR_HOME_CORRUPT', `${file} is not a libp2p private key: restore it from a backup`, { cause: err, details: { path: file } })
  }
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey) }
}
