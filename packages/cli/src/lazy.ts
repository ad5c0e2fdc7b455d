/**
 * @ferry/node loads libp2p, which costs a few hundred milliseconds at start-up. Commands import it through
 * this function, only when they run, so every other command (and a pull that needs no peer) starts fast.
 */
export async function nodeApi (): Promise<typeof import('@ferry/node')> {
  return await import('@ferry/node')
}

/** @ferry/tasks (the daemon's task runner), loaded only by `ferry daemon`. */
export async function tasksApi (): Promise<typeof import('@ferry/tasks')> {
  return await import('@ferry/tasks')
}

/** @ferry/api (Fastify and the routes): only the daemon loads it. */
export async function apiServer (): Promise<typeof import('@ferry/api')> {
  return await import('@ferry/api')
}

/** The API client (fetch and the token, no server code): commands that ask the running daemon. */
export async function apiClientApi (): Promise<typeof import('@ferry/api/client')> {
  return await import('@ferry/api/client')
}

/** @ferry/watch (the native watcher): only the daemon loads it. */
export async function watchApi (): Promise<typeof import('@ferry/watch')> {
  return await import('@ferry/watch')
}

/** daemon.json without libp2p: commands that only look for the running daemon (its API) start fast. */
export async function daemonInfoApi (): Promise<typeof import('@ferry/node/daemon-info')> {
  return await import('@ferry/node/daemon-info')
}

/** @ferry/follow (the receiver of open scans): only `pull --follow` loads it. */
export async function followApi (): Promise<typeof import('@ferry/follow')> {
  return await import('@ferry/follow')
}
