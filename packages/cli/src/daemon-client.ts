/**
 * The running daemon's API for the commands that hand their work to it (`ferry pull --detach`, `ferry tasks`,
 * `ferry task`, `ferry cancel`, `ferry retry`): found through daemon.json, authenticated with the home's token.
 */
import { FerryError } from '@ferry/errors'
import { apiClientApi, daemonInfoApi } from './lazy.js'

/** The daemon's API client. ERR_NO_DAEMON (exit 8) when no daemon with an API runs on the home in `dir`. */
export async function requireDaemon (dir: string): Promise<import('@ferry/api/client').ApiClient> {
  const info = await (await daemonInfoApi()).readDaemonInfo(dir)
  if (info?.api === undefined) {
    throw new FerryError('ERR_NO_DAEMON', `No Ferry daemon runs on ${dir}: tasks are run by the daemon, so start it first (\`ferry daemon --home ${dir}\`, or as a service) and try again`, { details: { home: dir } })
  }
  return await (await apiClientApi()).apiClient(dir, info.api)
}
