/**
 * One served stream's lifecycle, shared by the blocks and scan handlers: the idle and first-frame timers,
 * failure with an ERROR frame naming the problem, and a graceful close.
 */
import { FerryError, isFerryError, errorMessage } from '@ferry/errors'
import { truncateUtf8 } from './codec.js'
import { MAX_MESSAGE_BYTES } from './constants.js'
import { encodeError, type WireErrorCode } from './messages.js'
import type { Framed } from './framed.js'
import type { Logger } from '@libp2p/interface'

/** A request the server turns down: ends the stream with an ERROR frame of `code`. */
export class StreamFailure extends Error {
  constructor (readonly code: WireErrorCode, message: string) {
    super(message)
  }
}

/** How long the server waits on a peer to take an ERROR frame or close its side. */
export const CLOSE_GRACE_MS = 5_000

function wireCodeFor (err: unknown): WireErrorCode | undefined {
  if (err instanceof StreamFailure) return err.code
  if (isFerryError(err, 'ERR_PROTOCOL')) return 'protocol'
  if (isFerryError(err, 'ERR_NETWORK') || isFerryError(err, 'ERR_ABORTED')) return undefined // nobody to tell
  return 'internal'
}

/** One served stream's lifecycle: idle timer, failure with an ERROR frame, graceful close. */
export class ServedStream {
  readonly done = new AbortController()
  private readonly timer: NodeJS.Timeout
  private ending = false

  private firstTimer: NodeJS.Timeout | undefined

  constructor (
    readonly io: Framed, private readonly log: Logger, idleMs: number, private readonly onIdle: () => StreamFailure,
    firstFrameMs: number, private readonly onEnd: (code: WireErrorCode | undefined) => void
  ) {
    this.timer = setTimeout(() => { void this.fail(this.onIdle()) }, idleMs)
    this.timer.unref()
    if (firstFrameMs < idleMs) {
      this.firstTimer = setTimeout(() => { void this.fail(new StreamFailure('timeout', `no first frame within ${firstFrameMs / 1000} s`)) }, firstFrameMs)
      this.firstTimer.unref()
    }
  }

  /** The first frame arrived: only the idle timeout applies from now on. */
  started (): void {
    clearTimeout(this.firstTimer)
  }

  get signal (): AbortSignal {
    return this.done.signal
  }

  /** Something happened: push the idle deadline back. */
  progress (): void {
    this.timer.refresh()
  }

  /** Ends the stream, telling the peer why when it can. Idempotent. */
  async fail (err: unknown): Promise<void> {
    if (this.ending) return
    this.ending = true
    clearTimeout(this.timer)
    clearTimeout(this.firstTimer)
    this.done.abort(err)
    const code = wireCodeFor(err)
    this.onEnd(code)
    const message = errorMessage(err)
    if (code === 'internal') this.log.error('internal error: %e', err)
    else this.log('ending stream: %s', message)
    if (code === undefined) {
      this.io.stream.abort(err instanceof Error ? err : new Error(message))
      return
    }
    try {
      const signal = AbortSignal.timeout(CLOSE_GRACE_MS)
      await this.io.write(encodeError(code, truncateUtf8(message, MAX_MESSAGE_BYTES)), { signal })
      await this.io.stream.close({ signal })
    } catch (e) {
      this.io.stream.abort(e instanceof Error ? e : new Error(String(e)))
    }
    this.abortUnlessClosed()
  }

  /** Gives the peer a moment to close its side after ours; then aborts so no read waits forever. */
  private abortUnlessClosed (): void {
    const stream = this.io.stream
    if (stream.status !== 'open') return
    const timer = setTimeout(() => { stream.abort(new Error('peer did not close its side of the stream')) }, CLOSE_GRACE_MS)
    timer.unref()
    stream.addEventListener('close', () => { clearTimeout(timer) }, { once: true })
  }

  /** Ends the stream normally. */
  async finish (): Promise<void> {
    if (this.ending) return
    this.ending = true
    clearTimeout(this.timer)
    clearTimeout(this.firstTimer)
    this.done.abort(new FerryError('ERR_ABORTED', 'stream finished'))
    try {
      await this.io.stream.close({ signal: AbortSignal.timeout(CLOSE_GRACE_MS) })
    } catch (e) {
      this.io.stream.abort(e instanceof Error ? e : new Error(String(e)))
    }
    this.abortUnlessClosed()
  }
}
