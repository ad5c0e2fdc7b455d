/**
 * Close events: which files under a watched tree a writer has just finished, from the kernel (inotify's
 * IN_CLOSE_WRITE, and IN_MOVED_TO for a file renamed into place), read from Debian's `inotifywait`
 * (inotify-tools) run as a child process, one per watch. @parcel/watcher, which gives the other events,
 * reports no close. Records are `events NUL path NUL` (`--format '%e%0%w%f%0' --no-newline`): NUL is the
 * one byte a path cannot hold, so names with spaces or newlines parse exactly. The child is killed with the
 * watch (its signal); if it cannot start or dies, `onFail` says why once and the watch goes on without close
 * events (the settle timer and the rescans still find every file).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { CLOSE_EVENTS_READY_MS, CLOSE_EVENTS_STDERR_BYTES, INOTIFYWAIT, MAX_CLOSE_EVENT_BYTES } from './constants.js'

/** Options of `closeEvents`. */
export interface CloseEventsOptions {
  /** The watched tree (absolute). */
  dir: string
  /** A file (path relative to `dir`, `/`-separated) was closed after writing, or renamed into the tree. */
  onClose: (rel: string) => void
  /** Close events stopped (or never started): why, with inotifywait's last words. Called at most once. */
  onFail: (err: Error) => void
  /** Ends the child process. */
  signal: AbortSignal
  /** The inotifywait executable; default INOTIFYWAIT. */
  command?: string
}

/** A running source of close events. */
export interface CloseEvents {
  /** Resolves once inotifywait watches the whole tree, or has failed, or after CLOSE_EVENTS_READY_MS. */
  ready: Promise<void>
  /** True while close events arrive (false once inotifywait failed or was stopped). */
  readonly running: boolean
  /** Stops the child and waits for it to exit. */
  close: () => Promise<void>
}

/** Splits inotifywait's NUL-separated records; at most MAX_CLOSE_EVENT_BYTES held between chunks. */
export function recordParser (onRecord: (events: string, file: string) => void): (chunk: Buffer) => void {
  let held = Buffer.alloc(0)
  let fields: string[] = []
  return (chunk) => {
    let buf = held.length === 0 ? chunk : Buffer.concat([held, chunk])
    for (let nul = buf.indexOf(0); nul >= 0; nul = buf.indexOf(0)) {
      fields.push(buf.subarray(0, nul).toString('utf8'))
      buf = buf.subarray(nul + 1)
      if (fields.length === 2) {
        onRecord(fields[0] as string, fields[1] as string)
        fields = []
      }
    }
    if (buf.length > MAX_CLOSE_EVENT_BYTES) throw new Error(`inotifywait printed ${buf.length} bytes without a separator`)
    held = Buffer.from(buf)
  }
}

/** The arguments: monitor, recursive, only closes after writing and renames in, NUL-separated records. */
function args (dir: string): string[] {
  return ['-m', '-r', '-e', 'close_write', '-e', 'moved_to', '--format', '%e%0%w%f%0', '--no-newline', '--', dir]
}

/** Starts inotifywait over `options.dir`. Never throws: a failure goes to `onFail`. */
export function closeEvents (options: CloseEventsOptions): CloseEvents {
  const { dir, signal } = options
  let running = true
  let stopping = false
  let stderr = ''
  let markReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => { markReady = resolve })
  const readyTimer = setTimeout(markReady, CLOSE_EVENTS_READY_MS)
  const fail = (why: string): void => {
    clearTimeout(readyTimer)
    markReady()
    if (!running) return
    running = false
    if (!stopping) options.onFail(new Error(`${why}${stderr.trim() === '' ? '' : `: ${stderr.trim()}`}`))
  }
  let child: ChildProcess
  try {
    child = spawn(options.command ?? INOTIFYWAIT, args(dir), { stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    fail(`cannot start inotifywait (${(err as Error).message})`)
    return { ready, get running () { return false }, close: async () => {} }
  }
  const exited = new Promise<void>((resolve) => { child.once('close', () => { resolve() }); child.once('error', () => { resolve() }) })
  child.once('error', (err) => { fail(`cannot run inotifywait (${err.message}; Debian package inotify-tools)`) })
  child.once('close', (code, sig) => { fail(`inotifywait exited (${sig ?? `code ${String(code)}`})`) })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-CLOSE_EVENTS_STDERR_BYTES)
    if (stderr.includes('Watches established')) { clearTimeout(readyTimer); markReady() }
  })
  const parse = recordParser((events, file) => {
    if (events.split(',').includes('ISDIR')) return // a directory renamed in: the rescan finds its files
    const rel = path.relative(dir, file).split(path.sep).join('/')
    if (rel !== '' && !rel.startsWith('..')) options.onClose(rel)
  })
  child.stdout?.on('data', (chunk: Buffer) => {
    try {
      parse(chunk)
    } catch (err) {
      fail((err as Error).message)
      child.kill('SIGKILL')
    }
  })
  const stop = (): void => { stopping = true; child.kill('SIGTERM') }
  if (signal.aborted) stop()
  else signal.addEventListener('abort', stop, { once: true })
  return {
    ready,
    get running () { return running },
    close: async () => {
      signal.removeEventListener('abort', stop)
      stop()
      await exited
    }
  }
}
