import { formatBytes, formatCount, formatDuration, formatRate } from './format.js'

/** What a long job reports; the bar shows what it has. */
export interface ProgressState {
  files: number
  bytes: number
  totalBytes?: number
  totalFiles?: number
  skipped?: number
}

/** Default redraw interval for the TTY progress line. */
export const PROGRESS_INTERVAL_MS = 200

/**
 * One self-rewriting status line on stderr, only when stderr is a terminal: files, bytes, rate and, when a
 * total is known, percent and ETA. Silent otherwise, so logs and pipes stay clean.
 */
export class ProgressLine {
  private readonly started = Date.now()
  private timer?: NodeJS.Timeout
  private lastWidth = 0

  constructor (private readonly label: string, private readonly state: ProgressState, private readonly stream: NodeJS.WriteStream = process.stderr) {
    if (this.stream.isTTY === true) {
      this.timer = setInterval(() => { this.draw() }, PROGRESS_INTERVAL_MS)
      this.timer.unref()
    }
  }

  private line (): string {
    const s = this.state
    const secs = (Date.now() - this.started) / 1000
    const rate = secs > 0 ? s.bytes / secs : 0
    const parts = [this.label]
    if (s.totalBytes != null && s.totalBytes > 0) {
      const pct = Math.min(100, (100 * s.bytes) / s.totalBytes)
      const width = 20
      const filled = Math.round((pct / 100) * width)
      parts.push(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct.toFixed(1)}%`)
      parts.push(`${formatBytes(s.bytes)}/${formatBytes(s.totalBytes)}`)
    } else {
      parts.push(formatBytes(s.bytes))
    }
    parts.push(s.totalFiles != null ? `${formatCount(s.files)}/${formatCount(s.totalFiles)} files` : `${formatCount(s.files)} files`)
    parts.push(formatRate(rate))
    if (s.totalBytes != null && rate > 0) parts.push(`ETA ${formatDuration((s.totalBytes - s.bytes) / rate)}`)
    if ((s.skipped ?? 0) > 0) parts.push(`${formatCount(s.skipped ?? 0)} skipped`)
    return parts.join('  ')
  }

  private draw (): void {
    const text = this.line()
    const pad = Math.max(0, this.lastWidth - text.length)
    this.stream.write(`\r${text}${' '.repeat(pad)}`)
    this.lastWidth = text.length
  }

  /** Prints `text` as a line of its own on the stream, above the status line (redrawn at the next tick). */
  note (text: string): void {
    if (this.timer != null) {
      this.stream.write(`\r${' '.repeat(this.lastWidth)}\r`)
      this.lastWidth = 0
    }
    this.stream.write(`${text}\n`)
  }

  /** Clears the line (the command then prints its summary). */
  stop (): void {
    if (this.timer == null) return
    clearInterval(this.timer)
    this.timer = undefined
    this.stream.write(`\r${' '.repeat(this.lastWidth)}\r`)
  }
}
