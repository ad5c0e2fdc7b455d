/**
 * Tasks as the CLI shows them: the `ferry tasks` table, the `ferry task` details with each failed file's
 * reason in plain words and what to do, and the exit code of a task's outcome.
 */
import { ErrorCodes, ExitCode } from '@ferry/errors'
import type { TaskFileFailure, TaskRecord } from '@ferry/store'
import { formatBytes, formatRate, plural } from './format.js'

/**
 * A task as GET /v1/tasks/:id answers it: the store's record, with the failed files when asked for one task
 * (type only: nothing of @ferry/store is loaded).
 */
export type ShownTask = TaskRecord & { fileErrors?: TaskFileFailure[], openScans?: ShownOpenScan[] }

/** An open scan followed into a task's destination (GET /v1/tasks/:id `openScans`). */
export interface ShownOpenScan { collection: string, name: string, published: number, arrived: number, lagMs: number | null, backlogBytes: number }

export const FINAL_CONDITIONS: ReadonlySet<string> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED'])

const pad = (n: number): string => String(n).padStart(2, '0')

/** An ISO time in this machine's local time: 2026-12-01 22:15. */
export function localTime (iso: string | null): string {
  if (iso === null) return '-'
  const d = new Date(iso)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
}

/** Files in place out of the scan's, as a percentage ("100%" once SUCCEEDED). */
export function progressOf (t: ShownTask): string {
  if (t.condition === 'SUCCEEDED') return '100%'
  if (t.files === 0) return '-'
  return `${Math.floor(100 * t.succeeded / t.files)}%`
}

/** The `ferry tasks` table, newest first as the daemon lists them. */
export function taskTable (tasks: ShownTask[]): string[] {
  const rows = tasks.map((t) => [
    t.taskId, t.label ?? '-', t.condition, progressOf(t), t.effectiveSpeed > 0 ? formatRate(t.effectiveSpeed) : '-',
    t.eta !== null ? localTime(t.eta) : '-', localTime(t.requested)
  ])
  const head = ['ID', 'LABEL', 'CONDITION', 'PROGRESS', 'SPEED', 'ETA', 'REQUESTED']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
  return [head, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ').trimEnd())
}

/** What a failure with `code` means and what to do, in plain words. */
export function adviceFor (code: string, taskId: string): string {
  const retry = `then \`ferry retry ${taskId}\``
  switch (code) {
    case 'ERR_CONFLICT': return `a different file is already at this path in the destination, and Ferry never overwrites one: move or delete it, ${retry}`
    case 'ERR_MISSING_AT_SOURCE': return 'the file could not be read at the origin when the scan was made, so it is not in the scan: retrying will not bring it'
    case 'ERR_CHANGED_AT_SOURCE': return 'the file changed at the origin after it was scanned: add the directory again there (`ferry add`) and pull the new root'
    case 'ERR_UNAVAILABLE': return `no source could deliver it (each lacked it or refused this node): check the sources (\`ferry peers\`), ${retry}`
    case 'ERR_UNSAFE_SYMLINK': return 'a symlink pointing outside the destination: not created unless the pull allows it (--allow-escaping-symlinks)'
    case 'ERR_PERMISSION': return `the daemon may not write there: fix the permissions of the destination, ${retry}`
    case 'ERR_NO_SPACE': return `the destination is full: free space, ${retry}`
    case 'ERR_NOT_A_DIRECTORY': return `a file stands where the scan has a directory: move it, ${retry}`
    case 'ERR_HASH_MISMATCH':
    case 'ERR_BAD_BLOCK': return `the data received did not match its hash (a source sent bad data): ${retry}`
    case 'ERR_TIMEOUT': return `the task's deadline passed before it was done: make sure a source is up, ${retry}`
    case 'ERR_ROOT_NOT_FOUND': return 'no source holds this root: check the CID and the sources'
    case 'ERR_PEER_REFUSED': return 'a source refused this node: its operator must run `ferry trust <this node\'s id>` there'
    default: return `fix the cause, ${retry}`
  }
}

/**
 * The exit code of a task's outcome: 0 SUCCEEDED, 3 FAILED with entries not placed, 130 CANCELLED, and for
 * a whole-task failure the code its reason maps to (6 for a source that could not deliver, 1 if unknown).
 */
export function taskExitCode (t: ShownTask): number {
  switch (t.condition) {
    case 'SUCCEEDED': return ExitCode.OK
    case 'CANCELLED': return ExitCode.ABORTED
    case 'FAILED': {
      if (t.failed > 0) return ExitCode.PARTIAL
      const code = t.reason?.code ?? 'ERR_INTERNAL'
      if (code === 'ERR_UNAVAILABLE') return ExitCode.NETWORK
      if (code === 'ERR_MISSING_AT_SOURCE' || code === 'ERR_CHANGED_AT_SOURCE') return ExitCode.PARTIAL
      return code in ErrorCodes ? ErrorCodes[code as keyof typeof ErrorCodes] : ExitCode.INTERNAL
    }
    default: return ExitCode.INTERNAL
  }
}

/** One line of a task's progress: "ACTIVE 40% 12/30 files, 1.2 GB of 3.0 GB, 110 MB/s, ETA 22:40". */
export function progressLine (t: ShownTask): string {
  const speed = t.effectiveSpeed > 0 ? `, ${formatRate(t.effectiveSpeed)}` : ''
  const eta = t.eta !== null ? `, ETA ${localTime(t.eta)}` : ''
  if (t.files === 0 && !FINAL_CONDITIONS.has(t.condition)) return `${t.condition}: listing the scan`
  return `${t.condition} ${progressOf(t)}: ${t.succeeded}/${t.files} files, ${formatBytes(t.bytesTransferred)} transferred of ${formatBytes(t.bytesTotal)}${speed}${eta}`
}

/** `ferry task <id>`: every field, then each file that failed with its reason and what to do. */
export function taskDetails (t: ShownTask): string[] {
  const lines = [
    `Task ${t.taskId}${t.label !== null ? ` (${t.label})` : ''}: ${t.condition}`,
    `  root         ${t.root}`,
    `  destination  ${t.destination}`,
    `  sources      ${t.sources.join(', ')}`,
    ...(t.collection !== null ? [`  collection   ${t.collection}`] : []),
    `  requested    ${localTime(t.requested)}; started ${localTime(t.started)}; completed ${localTime(t.completed)}; deadline ${localTime(t.deadline)}`,
    `  progress     ${progressLine(t)}`,
    `  entries      ${plural(t.files, 'file')}, ${plural(t.directories, 'directory', 'directories')}: ${t.succeeded} succeeded, ${t.pending} pending, ${t.failed} failed, ${t.retrying} retrying, ${t.skipped} skipped, ${t.cancelled} cancelled`,
    `  attempts     ${t.attempts}`
  ]
  if (t.lastRun !== null) {
    const r = t.lastRun
    lines.push(`  last run     fetched ${formatBytes(r.bytesFetched)}, in place ${formatBytes(r.bytesPresent)}, resumed ${formatBytes(r.bytesResumed)}, copied here ${formatBytes(r.bytesLocal)} in ${r.seconds.toFixed(1)} s`)
  }
  const settings = Object.entries(t.settings).map(([k, v]) => `${k}=${String(v)}`).join(', ')
  if (settings !== '') lines.push(`  settings     ${settings}`)
  if (t.reason !== null) lines.push(`  reason       ${t.reason.message} (${t.reason.code})`)
  for (const o of t.openScans ?? []) {
    lines.push(`  followed     ${o.name} while open: ${o.arrived} files arrived of ${o.published} published, last lag ${o.lagMs === null ? '-' : `${o.lagMs} ms`}, backlog ${formatBytes(o.backlogBytes)}`)
  }
  const errors = t.fileErrors ?? []
  if (errors.length > 0) {
    lines.push('', `Not placed (${plural(errors.length, 'entry', 'entries')}):`)
    for (const e of errors) lines.push(`  ${e.path}: ${e.message} (${e.code})`, `    what to do: ${adviceFor(e.code, t.taskId)}`)
  } else if (t.condition === 'FAILED' && t.reason !== null) {
    lines.push('', `What to do: ${adviceFor(t.reason.code, t.taskId)}`)
  }
  return lines
}
