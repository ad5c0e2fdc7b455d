import { ExitCode } from '@ferry/errors'
import { apiServer, nodeApi, tasksApi } from '../lazy.js'
import { VERSION } from '../version.js'
import type { Command } from '../command.js'
import { homeDir, usageError } from '../context.js'

const USAGE = '[--listen MULTIADDR]... [--open] [--json]'

export const daemon: Command = {
  name: 'daemon',
  summary: 'Run this node: serve its scans to trusted peers until interrupted',
  usage: USAGE,
  help: [
    'Listens on the addresses in the home\'s config (default /ip4/0.0.0.0/tcp/4001) and serves blocks and',
    'scans to the peers in its trusted list (`ferry trust`), each collection only to its grantees if it has',
    'any (`ferry grant`). Trust and grant changes apply at once, without a restart;',
    'scans added with `ferry add` while it runs are served at once. One daemon per home.',
    'Prints its addresses (each ending in /p2p/<PeerId>: give one to the peers that pull from here) and',
    'writes them to daemon.json in the home, where `ferry id` finds them. Stops on Ctrl-C or SIGTERM.',
    'Serves the HTTP API (docs/api.md) on 127.0.0.1 (port: config.json "api": { "port" }, default a free one),',
    'its URL in daemon.json and `ferry id --json`, every request authenticated with the token in <home>/api-token.',
    'Runs the home\'s durable tasks (replications queued through the API), two at a time, and resumes the',
    'ones a stop or crash interrupted, and the subscriptions (`ferry subscribe`): it follows their sources',
    'and queues a task for every new scan.',
    '',
    '  --listen MULTIADDR   listen here instead of the config (repeatable), e.g. /ip4/127.0.0.1/tcp/0',
    '  --open               serve every peer, trusted or not (for closed networks only; grants still apply)',
    '  --json               print one JSON line { peerId, pid, addrs, api } once listening'
  ].join('\n'),
  options: { listen: { type: 'string', multiple: true }, open: { type: 'boolean' } },
  positionals: [0, 0],
  async run (ctx, _args, flags) {
    const listen = flags.listen as string[] | undefined
    for (const a of listen ?? []) {
      if (!a.startsWith('/')) throw usageError(`--listen ${a}: not a multiaddr (like /ip4/0.0.0.0/tcp/4001)`, `Usage: ferry daemon ${USAGE}`)
    }
    const { apiService } = await apiServer()
    const { taskDaemonService, subscriptionDaemonService } = await tasksApi()
    let tasks: import('@ferry/tasks').TaskService | undefined
    let subscriptions: import('@ferry/tasks').SubscriptionService | undefined
    // Status lines go to stderr with --json so stdout carries only the JSON line.
    const print = (line: string): void => { (ctx.json ? ctx.stderr : ctx.stdout).write(line + '\n') }
    await (await nodeApi()).runDaemon(homeDir(ctx), {
      listen,
      // the task service first: it stops after the subscriptions and the API that call it
      services: [
        taskDaemonService({ print, onStarted: (t) => { tasks = t } }),
        subscriptionDaemonService({ print, tasks: () => tasks, onStarted: (s) => { subscriptions = s } }),
        apiService({ version: VERSION, subscriptions: () => subscriptions })
      ],
      open: flags.open === true,
      signal: ctx.signal,
      print,
      onReady: (info) => {
        if (ctx.json) ctx.stdout.write(JSON.stringify({ peerId: info.peerId, pid: info.pid, addrs: info.addrs, api: info.api ?? null }) + '\n')
      }
    })
    return ExitCode.OK
  }
}
