/**
 * `ferry pull --detach`: the pull handed to the home's daemon as a durable task (POST /v1/tasks), which runs
 * it to the end (retried to its deadline, resumed after a restart) while this command returns at once.
 */
import { resolve } from 'node:path'
import { ExitCode, FerryError } from '@ferry/errors'
import { readConfig } from '@ferry/store'
import { homeDir, printJson, println, type Context } from '../context.js'
import { parseRoot } from '../cid.js'
import { checkPeerAddr } from '../peer-addr.js'
import { fromAddrs } from '../peers.js'
import { requireDaemon } from '../daemon-client.js'
import type { ShownTask } from '../task-format.js'

const PEER_NAME = /^[a-z][a-z0-9_-]{0,31}$/
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 }

/**
 * A task's deadline from --deadline: seconds ("3600"), a duration ("90m", "12h", "2d") or an ISO 8601 time
 * ("2026-12-03T18:00:00Z"); as the API takes it (seconds, or the time). ERR_USAGE for anything else.
 */
export function parseTaskDeadline (text: string): number | string {
  const m = /^(\d+(?:\.\d+)?)\s*([smhd]?)$/.exec(text.trim())
  if (m !== null) {
    const secs = Number(m[1]) * (UNIT_SECONDS[m[2] ?? ''] ?? 1)
    if (secs > 0) return secs
  } else if (/^\d{4}-\d\d-\d\dT/.test(text) && Number.isFinite(Date.parse(text))) {
    if (Date.parse(text) <= Date.now()) throw new FerryError('ERR_USAGE', `--deadline ${text}: that time has passed`)
    return new Date(text).toISOString()
  }
  throw new FerryError('ERR_USAGE', `--deadline takes a duration (3600, 90m, 12h, 2d) or a time (2026-12-03T18:00:00Z) with --detach, not '${text}'`)
}

/** The POST /v1/tasks body of `ferry pull <root> <dest> --detach ...`; checks every argument first. */
async function taskBody (ctx: Context, rootArg: string | undefined, destArg: string | undefined, flags: Record<string, unknown>): Promise<Record<string, unknown>> {
  const root = parseRoot(rootArg ?? '').toString()
  const from = (flags.from as string[] | undefined) ?? []
  if (from.length === 0) throw new FerryError('ERR_USAGE', '--detach needs at least one --from PEER: the daemon fetches from the peers named')
  for (const addr of from) if (!PEER_NAME.test(addr)) checkPeerAddr(addr)
  if (flags['space-margin'] !== undefined) throw new FerryError('ERR_USAGE', '--space-margin is not supported with --detach: the daemon\'s task uses the default margin')
  const body: Record<string, unknown> = {
    root,
    destination: resolve(destArg ?? '.'),
    sources: await fromAddrs(await readConfig(homeDir(ctx)), from)
  }
  if (typeof flags.label === 'string') body.label = flags.label
  if (typeof flags.deadline === 'string') body.deadline = parseTaskDeadline(flags.deadline)
  if (typeof flags['on-done'] === 'string') body.onDone = flags['on-done']
  if (flags.checksum === true) body.checksum = true
  if (flags.fsync === true) body.fsync = true
  if (flags['allow-escaping-symlinks'] === true) body.allowEscapingSymlinks = true
  return body
}

/** Runs `ferry pull --detach`: prints the task id (`{ "taskId" }` with --json) and returns at once. */
export async function detachPull (ctx: Context, rootArg: string | undefined, destArg: string | undefined, flags: Record<string, unknown>): Promise<number> {
  const body = await taskBody(ctx, rootArg, destArg, flags)
  const client = await requireDaemon(homeDir(ctx))
  const { task, created } = await client.request<{ task: ShownTask, created: boolean }>('POST', '/v1/tasks', body)
  if (ctx.json) {
    printJson(ctx, { taskId: task.taskId, created })
  } else {
    println(ctx, task.taskId)
    ctx.stderr.write(`ferry: ${created ? 'queued' : 'already a live task for this root and destination'}: ${task.taskId} (${task.condition}); \`ferry task ${task.taskId} --watch\` follows it\n`)
  }
  return ExitCode.OK
}
