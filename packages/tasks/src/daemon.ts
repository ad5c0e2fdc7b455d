import type { BlockPeer } from '@ferry/transfer'
import { createTaskService } from './service.js'
import type { TaskService, TaskServiceInit } from './types.js'

/** The parts of a running daemon the task service uses (structurally @ferry/node's DaemonContext). */
export interface DaemonParts {
  home: TaskServiceInit['home'] & { config?: { pull?: { connections?: number, daemonInflightMiB?: number, daemonTasks?: number } } }
  node: { dialPeer: (addr: string, init?: { signal?: AbortSignal, own?: boolean, shareOf?: number }) => Promise<unknown> }
}

/** Options of `taskDaemonService`: the service's, plus where its status lines go and who wants it. */
export type TaskDaemonOptions = Omit<TaskServiceInit, 'home' | 'dialPeer' | 'log'> & {
  /** Status lines (a task ended, a hook failed); default none. */
  print?: (line: string) => void
  /** Receives the running TaskService (the HTTP API). */
  onStarted?: (tasks: TaskService) => void
}

/**
 * A daemon service (`runDaemon({ services: [...] })`) that runs the home's tasks with the daemon's own
 * libp2p node. Stopping it aborts running pulls (their tasks stay ACTIVE, resumed at the next start).
 */
export function taskDaemonService (options: TaskDaemonOptions = {}) {
  return async ({ home, node }: DaemonParts): Promise<{ stop: () => Promise<void>, tasks: TaskService }> => {
    const { onStarted, print, ...rest } = options
    const tasks = createTaskService({
      ...rest,
      ...(print !== undefined ? { log: print } : {}),
      home,
      dialPeer: async (addr, signal, o) => (await node.dialPeer(addr, { signal, ...o })) as BlockPeer,
      ...(home.config?.pull?.connections !== undefined ? { connections: home.config.pull.connections } : {}),
      ...(home.config?.pull?.daemonInflightMiB !== undefined ? { inflightBytes: home.config.pull.daemonInflightMiB * 1024 * 1024 } : {}),
      ...(rest.concurrency === undefined && home.config?.pull?.daemonTasks !== undefined ? { concurrency: home.config.pull.daemonTasks } : {})
    })
    const live = tasks.list({ conditions: ['QUEUED', 'ACTIVE'] }).length
    if (live > 0) print?.(`Tasks: ${live} queued or active, resuming.`)
    onStarted?.(tasks)
    return { stop: tasks.close, tasks }
  }
}
