import type { BlockPeer } from '@ferry/transfer'
import { createTaskService } from './service.js'
import type { TaskService, TaskServiceInit } from './types.js'

/** The parts of a running daemon the task service uses (structurally @ferry/node's home and FerryNode). */
export interface DaemonParts {
  home: TaskServiceInit['home']
  node: { dialPeer: (addr: string, init?: { signal?: AbortSignal }) => Promise<unknown> }
  print: (line: string) => void
}

/**
 * A daemon service (`runDaemon({ services: [...] })`) that runs the home's tasks with the daemon's own
 * libp2p node. `onStarted` receives the TaskService (for the HTTP API).
 */
export function taskDaemonService (options: Omit<TaskServiceInit, 'home' | 'dialPeer'> & { onStarted?: (tasks: TaskService) => void } = {}) {
  return async ({ home, node, print }: DaemonParts): Promise<{ stop: () => Promise<void>, tasks: TaskService }> => {
    const { onStarted, ...rest } = options
    const tasks = createTaskService({
      log: (line) => { print(line) },
      ...rest,
      home,
      dialPeer: async (addr, signal) => (await node.dialPeer(addr, { signal })) as BlockPeer
    })
    const live = tasks.list({ conditions: ['QUEUED', 'ACTIVE'] }).length
    if (live > 0) print(`Tasks: ${live} queued or active, resuming.`)
    onStarted?.(tasks)
    return { stop: tasks.close, tasks }
  }
}
