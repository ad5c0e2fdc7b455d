import { readConfig } from '@ferry/store'
import { FerryError } from '@ferry/errors'
import { createSubscriptionService } from './subscriptions.js'
import type { CatalogPeer, SubscriptionService, SubscriptionServiceInit } from './subscription-types.js'
import type { TaskService } from './types.js'
import type { FollowPeer } from '@ferry/follow'
import type { DaemonParts } from './daemon.js'

/** Options of `subscriptionDaemonService`. */
export type SubscriptionDaemonOptions = Omit<SubscriptionServiceInit, 'catalog' | 'tasks' | 'dial' | 'peers' | 'self' | 'log' | 'follow'> & {
  /** The running task service (started before this one: `taskDaemonService({ onStarted })`). */
  tasks: () => TaskService | undefined
  /** Status lines (a source failing); default none. */
  print?: (line: string) => void
  /** Receives the running SubscriptionService (the HTTP API). */
  onStarted?: (subscriptions: SubscriptionService) => void
}

/**
 * A daemon service (`runDaemon({ services: [...] })`) that runs the home's subscriptions with the daemon's
 * own node, queuing their tasks into the task service. Start it after `taskDaemonService`.
 */
export function subscriptionDaemonService (options: SubscriptionDaemonOptions) {
  return async ({ home, node, info }: DaemonParts & { info?: { peerId: string } }): Promise<{ stop: () => Promise<void> }> => {
    const { tasks: getTasks, print, onStarted, ...rest } = options
    const tasks = getTasks()
    if (tasks === undefined) throw new FerryError('ERR_INTERNAL', 'subscriptionDaemonService starts after taskDaemonService')
    const subscriptions = createSubscriptionService({
      ...rest,
      ...(print !== undefined ? { log: print } : {}),
      catalog: home.catalog,
      tasks,
      dial: async (addr, signal) => (await node.dialPeer(addr, { signal })) as CatalogPeer,
      follow: { home, dial: async (addr, signal) => (await node.dialPeer(addr, { signal })) as FollowPeer },
      peers: async () => (await readConfig(home.dir)).peers,
      ...(info !== undefined ? { self: info.peerId } : {})
    })
    const n = subscriptions.list().length
    if (n > 0) print?.(`Subscriptions: ${n}, watching their sources.`)
    onStarted?.(subscriptions)
    return { stop: subscriptions.close }
  }
}
