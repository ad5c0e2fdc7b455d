/**
 * The daemon's durable tasks from the command line, through its HTTP API: `ferry tasks`, `ferry task <id>`
 * (with `--watch`), `ferry cancel <id>`, `ferry retry <id>`. `ferry pull --detach` creates them.
 */
import { ExitCode, FerryError } from '@ferry/errors'
import type { Command } from '../command.js'
import { homeDir, printJson, println, usageError, type Context } from '../context.js'
import { requireDaemon } from '../daemon-client.js'
import { FINAL_CONDITIONS, progressLine, taskDetails, taskExitCode, taskTable, type ShownTask } from '../task-format.js'

const CONDITIONS = ['QUEUED', 'ACTIVE', 'SUCCEEDED', 'FAILED', 'CANCELLED']
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** A task id from the command line; a usage error (exit 2) for anything else. */
function taskIdArg (arg: string | undefined, usage: string): string {
  const id = (arg ?? '').toLowerCase()
  if (!UUID.test(id)) throw usageError(`'${arg ?? ''}' is not a task id (a UUID, as \`ferry tasks\` lists them)`, usage)
  return id
}

export const tasks: Command = {
  name: 'tasks',
  summary: 'List the daemon\'s durable tasks, newest first',
  usage: '[--condition C[,C]...] [--json]',
  help: [
    'Asks the running daemon (`ferry daemon`) for its tasks, newest request first: id, label, condition,',
    'progress (files in place), effective speed, expected completion and request time, in local time.',
    '',
    '  --condition C   only tasks in these conditions: QUEUED, ACTIVE, SUCCEEDED, FAILED, CANCELLED (comma-separated)',
    '  --json          { "tasks": [ <task>, ... ] } as GET /v1/tasks answers it',
    '',
    'Exit 8 when no daemon runs on the home.'
  ].join('\n'),
  options: { condition: { type: 'string' } },
  positionals: [0, 0],
  async run (ctx, _args, flags) {
    const condition = flags.condition as string | undefined
    if (condition !== undefined && !condition.toUpperCase().split(',').every((c) => CONDITIONS.includes(c))) {
      throw usageError(`--condition ${condition}: takes ${CONDITIONS.join(', ')} (comma-separated)`, `Usage: ferry tasks ${tasks.usage}`)
    }
    const client = await requireDaemon(homeDir(ctx))
    const query = condition !== undefined ? `?condition=${encodeURIComponent(condition.toUpperCase())}` : ''
    const { tasks: list } = await client.request<{ tasks: ShownTask[] }>('GET', `/v1/tasks${query}`)
    if (ctx.json) printJson(ctx, { tasks: list })
    else if (list.length === 0) println(ctx, condition !== undefined ? `No ${condition.toUpperCase()} tasks.` : 'No tasks: `ferry pull <root> <dest> --from PEER --detach` hands one to the daemon.')
    else for (const line of taskTable(list)) println(ctx, line)
    return ExitCode.OK
  }
}

/** Without an update for this long, `--watch` asks for the task again (an update it may have missed). */
const WATCH_RECHECK_MS = 5000

/** Follows task `id` on the daemon's event stream until it ends; its final record. */
async function watchTask (ctx: Context, client: import('@ferry/api/client').ApiClient, id: string): Promise<ShownTask> {
  const controller = new AbortController()
  const stop = (): void => { controller.abort() }
  ctx.signal.addEventListener('abort', stop, { once: true })
  const get = async (): Promise<ShownTask> => await client.request<ShownTask>('GET', `/v1/tasks/${id}`)
  const say = (t: ShownTask): void => { if (!ctx.json) ctx.stderr.write(`ferry: ${progressLine(t)}\n`) }
  try {
    const stream = client.events(controller.signal)[Symbol.asyncIterator]()
    let next = stream.next()
    let task = await get()
    say(task)
    while (!FINAL_CONDITIONS.has(task.condition)) {
      let timer: NodeJS.Timeout | undefined
      const recheck = new Promise<'recheck'>((resolve) => { timer = setTimeout(() => { resolve('recheck') }, WATCH_RECHECK_MS) })
      const got = await Promise.race([next, recheck])
      clearTimeout(timer)
      if (got === 'recheck') {
        task = await get()
        say(task)
        continue
      }
      if (got.done === true) throw new FerryError('ERR_ABORTED', `Stopped watching task ${id}`)
      const data = got.value.data as { task?: ShownTask }
      if (got.value.event === 'task:updated' && data.task?.taskId === id) {
        task = data.task
        say(task)
      }
      next = stream.next()
    }
    // the final record with its failed files
    return await get()
  } finally {
    ctx.signal.removeEventListener('abort', stop)
    controller.abort()
  }
}

export const task: Command = {
  name: 'task',
  summary: 'Show one task: every field, and each failed file with its reason and what to do',
  usage: '<id> [--watch] [--json]',
  help: [
    'Asks the running daemon for the task <id> (`ferry tasks` lists them) and prints every field of its record,',
    'then each file that was not placed with its reason in plain words and what to do about it.',
    '',
    '  --watch   follow the task live (a progress line on stderr at each update, about once a second) until it',
    '            ends, then print it and exit with its outcome: 0 SUCCEEDED, 3 FAILED with files not placed,',
    '            130 CANCELLED, or the code of a whole-task failure (6 network or deadline, 7 root not found, ...)',
    '  --json    the task as GET /v1/tasks/<id> answers it (every field and fileErrors)',
    '',
    'Without --watch: exit 0 once shown; 7 for an unknown task; 8 when no daemon runs on the home.'
  ].join('\n'),
  options: { watch: { type: 'boolean' } },
  positionals: [1, 1],
  async run (ctx, [idArg], flags) {
    const id = taskIdArg(idArg, `Usage: ferry task ${task.usage}`)
    const client = await requireDaemon(homeDir(ctx))
    const shown = flags.watch === true ? await watchTask(ctx, client, id) : await client.request<ShownTask>('GET', `/v1/tasks/${id}`)
    if (ctx.json) printJson(ctx, shown)
    else for (const line of taskDetails(shown)) println(ctx, line)
    return flags.watch === true ? taskExitCode(shown) : ExitCode.OK
  }
}

/** `ferry cancel` and `ferry retry`: one POST, the task as it is then. */
function taskAction (name: 'cancel' | 'retry', summary: string, help: string[]): Command {
  const command: Command = {
    name,
    summary,
    usage: '<id> [--json]',
    help: [...help, '', '  --json   { "task": <task> }', '', 'Exit 7 for an unknown task; 8 when no daemon runs on the home.'].join('\n'),
    options: {},
    positionals: [1, 1],
    async run (ctx, [idArg]) {
      const id = taskIdArg(idArg, `Usage: ferry ${name} ${command.usage}`)
      const client = await requireDaemon(homeDir(ctx))
      const { task: t } = await client.request<{ task: ShownTask }>('POST', `/v1/tasks/${id}/${name}`)
      if (ctx.json) printJson(ctx, { task: t })
      else println(ctx, `Task ${t.taskId}${t.label !== null ? ` (${t.label})` : ''}: ${t.condition}${name === 'retry' ? ` (\`ferry task ${t.taskId} --watch\` follows it)` : ''}`)
      return ExitCode.OK
    }
  }
  return command
}

export const cancel = taskAction('cancel', 'Cancel a task of the daemon at once', [
  'Stops the task <id> at once: its pull is aborted and it ends CANCELLED. Files already placed stay, and',
  '`ferry retry <id>` later fetches only what is missing. A task that has ended is shown unchanged.'
])

export const retry = taskAction('retry', 'Queue a FAILED or CANCELLED task again', [
  'Queues the task <id> again after its failure was fixed (a conflicting file moved, a source back): the pull',
  'fetches only what is not in place yet. A deadline that has passed is renewed. Exit 2 for a task that is',
  'live or SUCCEEDED, or when another live task replicates the same root into the same destination.'
])
