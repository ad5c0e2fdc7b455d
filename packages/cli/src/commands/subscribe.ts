/**
 * `ferry subscribe`, `ferry subscriptions`, `ferry unsubscribe`: standing rules in the running daemon,
 * through its API (`/v1/subscriptions`, docs/api.md). The daemon does the work; these only ask.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { ExitCode, FerryError } from '@ferry/errors'
import type { SubscriptionView } from '@ferry/tasks'
import type { ApiClient } from '@ferry/api/client'
import type { Command } from '../command.js'
import { homeDir, printJson, println, usageError, type Context } from '../context.js'
import { apiClientApi, nodeApi } from '../lazy.js'
import { formatBytes } from '../format.js'

/** The running daemon's API client; ERR_NETWORK when no daemon (with an API) runs on the home. */
async function daemonClient (ctx: Context): Promise<ApiClient> {
  const dir = homeDir(ctx)
  if (!existsSync(join(dir, 'config.json'))) throw new FerryError('ERR_HOME_NOT_FOUND', `No Ferry home at ${dir}: run \`ferry init\` first`)
  const info = await (await nodeApi()).readDaemonInfo(dir)
  if (info?.api === undefined) throw new FerryError('ERR_NETWORK', `No daemon runs on ${dir}: subscriptions run in the daemon, start it with \`ferry daemon\``)
  return await (await apiClientApi()).apiClient(dir, info.api)
}

const SUBSCRIBE_USAGE = '<collection> <dir> [--from PEER]... [--on-done CMD] [--json]'

export const subscribe: Command = {
  name: 'subscribe',
  summary: 'Replicate a whole collection into a directory, every scan now there and every one added later',
  usage: SUBSCRIBE_USAGE,
  help: [
    'Makes a standing rule in the running daemon: every complete scan of <collection> on the --from peers',
    '(every named peer of the address book if none is given) is replicated as a task into <dir>/<scan name>/,',
    'those there now and each one added later, within seconds (the daemon follows each source\'s',
    'announcements, lists its catalog on every (re)connection and every 60 s). A second scan of a name',
    'already taken goes into <dir>/<scan name>~<last 8 characters of its root>. The rule lasts until',
    '`ferry unsubscribe`, across daemon restarts; `ferry subscriptions` shows its state.',
    '',
    '  --from PEER     a name of the address book or a multiaddr ending in /p2p/<PeerId> (repeatable)',
    '  --on-done CMD   shell command run when each of the rule\'s tasks ends (see docs/cli.md, hooks)',
    '  --json          print the rule as the API returns it: { subscription, created }'
  ].join('\n'),
  options: { from: { type: 'string', multiple: true }, 'on-done': { type: 'string' } },
  positionals: [2, 2],
  async run (ctx, [collection, dir], flags) {
    if (collection === undefined || collection === '' || dir === undefined || dir === '') throw usageError('ferry subscribe takes a collection and a directory', `Usage: ferry subscribe ${SUBSCRIBE_USAGE}`)
    const client = await daemonClient(ctx)
    const body = {
      collection,
      destination: resolve(dir),
      ...(Array.isArray(flags.from) ? { from: flags.from } : {}),
      ...(typeof flags['on-done'] === 'string' ? { onDone: flags['on-done'] } : {})
    }
    const out = await client.request<{ subscription: SubscriptionView, created: boolean }>('POST', '/v1/subscriptions', body)
    if (ctx.json) printJson(ctx, out)
    else {
      const s = out.subscription
      println(ctx, `${out.created ? 'Subscribed' : 'Already subscribed'}: ${s.id} replicates ${s.collection} into ${s.destination}/<scan name> from ${s.from.length > 0 ? s.from.join(', ') : 'every named peer'}.`)
      println(ctx, `\`ferry subscriptions\` shows its state; \`ferry unsubscribe ${s.id}\` stops it.`)
    }
    return ExitCode.OK
  }
}

function sourceLine (v: SubscriptionView['sources'][number]): string {
  const who = v.name ?? v.peer ?? '?'
  const when = v.lastListed !== null ? `, listed ${v.listed} at ${v.lastListed}` : ''
  const err = v.error !== null ? `: ${v.error.message}` : ''
  const retry = v.retryAt !== null ? ` (next try ${v.retryAt})` : ''
  return `    ${who}  ${v.state}${err}${retry}${when}`
}

function printRule (ctx: Context, s: SubscriptionView): void {
  const c = s.counts
  println(ctx, `${s.id}  ${s.state}  ${s.collection} -> ${s.destination}`)
  println(ctx, `  ${s.reason}`)
  println(ctx, `  scans ${c.scans}: ${c.succeeded} succeeded, ${c.active} active, ${c.queued} queued, ${c.failed} failed, ${c.cancelled} cancelled`)
  for (const o of s.openScans) println(ctx, `  open: ${o.name}: ${o.arrived} of ${o.published} files arrived, lag ${o.lagMs === null ? '-' : `${o.lagMs} ms`}, backlog ${formatBytes(o.backlogBytes)}`)
  for (const x of s.stuck) println(ctx, `  stuck: ${x.name} (task ${x.taskId ?? '-'}, ${x.condition})${x.reason !== null ? `: ${x.reason.message}` : ''}`)
  println(ctx, `  sources${s.from.length === 0 ? ' (every named peer)' : ''}:`)
  if (s.sources.length === 0) println(ctx, '    none')
  for (const v of s.sources) println(ctx, sourceLine(v))
}

export const subscriptions: Command = {
  name: 'subscriptions',
  summary: 'List the standing rules with their state (OK, REPLICATING, STUCK, WAITING) and sources',
  usage: '[--json]',
  help: [
    'One block per rule: id, state and why, the counts of its scans by task condition, each stuck scan with',
    'its task\'s reason, and each source\'s connection (connecting, listing, watching, retrying: why,',
    'unresolved). OK: every scan found is replicated; REPLICATING: tasks queued or active; STUCK: a task',
    'FAILED or was cancelled, or no source can be asked; WAITING: no source offers a scan of the collection',
    'yet (none there, or the source does not grant it to this node). --json: GET /v1/subscriptions.'
  ].join('\n'),
  options: {},
  positionals: [0, 0],
  async run (ctx) {
    const client = await daemonClient(ctx)
    const out = await client.request<{ subscriptions: SubscriptionView[] }>('GET', '/v1/subscriptions')
    if (ctx.json) printJson(ctx, out)
    else if (out.subscriptions.length === 0) println(ctx, 'No subscriptions: `ferry subscribe <collection> <dir>` makes one.')
    else for (const s of out.subscriptions) printRule(ctx, s)
    return ExitCode.OK
  }
}

export const unsubscribe: Command = {
  name: 'unsubscribe',
  summary: 'Stop a standing rule (its queued tasks go on unless --cancel-tasks)',
  usage: '<id> [--cancel-tasks] [--json]',
  help: [
    'Stops the rule <id> (from `ferry subscriptions`): no new scan is queued for it. Tasks it queued go on,',
    'unless --cancel-tasks, which cancels those QUEUED or ACTIVE. What was replicated stays on disk.'
  ].join('\n'),
  options: { 'cancel-tasks': { type: 'boolean' } },
  positionals: [1, 1],
  async run (ctx, [id], flags) {
    const client = await daemonClient(ctx)
    const query = flags['cancel-tasks'] === true ? '?cancelTasks=true' : ''
    const out = await client.request<{ removed: SubscriptionView, cancelled: string[] }>('DELETE', `/v1/subscriptions/${encodeURIComponent(id ?? '')}${query}`)
    if (ctx.json) printJson(ctx, out)
    else println(ctx, `Unsubscribed ${out.removed.id} (${out.removed.collection} -> ${out.removed.destination})${out.cancelled.length > 0 ? `; cancelled ${out.cancelled.length} tasks` : `; ${out.removed.counts.queued + out.removed.counts.active} queued or active tasks go on`}.`)
    return ExitCode.OK
  }
}
