/**
 * The API's bearer token: `api-token` in the home, 32 random bytes in base64url, mode 0600, created on the
 * daemon's first start. Whoever can read the home can use the API; nobody else can.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { FerryError, fromSystemError } from '@ferry/errors'
import { writeFileAtomic } from '@ferry/store'

/** File name of the token in the home. */
export const API_TOKEN_FILE = 'api-token'

/** The token of the home in `dir`, or undefined if it has none yet. ERR_PERMISSION if others may read it. */
export async function readApiToken (dir: string): Promise<string | undefined> {
  const file = path.join(dir, API_TOKEN_FILE)
  let handle: fs.FileHandle
  try {
    handle = await fs.open(file, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw fromSystemError(err, file)
  }
  try {
    const st = await handle.stat()
    if ((st.mode & 0o077) !== 0) throw new FerryError('ERR_PERMISSION', `${file} may be read by other users: run \`chmod 600 ${file}\``, { details: { path: file } })
    const token = (await handle.readFile('utf8')).trim()
    if (token === '') throw new FerryError('ERR_HOME_CORRUPT', `${file} is empty: delete it and restart the daemon`, { details: { path: file } })
    return token
  } finally {
    await handle.close()
  }
}

/** The token of the home in `dir`, created if missing. */
export async function ensureApiToken (dir: string): Promise<string> {
  const existing = await readApiToken(dir)
  if (existing !== undefined) return existing
  const token = randomBytes(32).toString('base64url')
  await writeFileAtomic(path.join(dir, API_TOKEN_FILE), token + '\n', 0o600)
  return token
}

/** Whether the `Authorization` header carries `token` (compared in constant time). */
export function tokenMatches (header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
  if (m === null) return false
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(m[1] as string), digest(token))
}
