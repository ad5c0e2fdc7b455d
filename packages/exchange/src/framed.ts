/**
 * Length-prefixed frames over a libp2p stream (`lpStream` with `maxDataLength`), with libp2p's errors turned
 * into Ferry's: an oversize length prefix is ERR_PROTOCOL ('too-large'), a reset or lost connection is
 * ERR_NETWORK, and the end of the stream (between frames, or inside a frame the peer never finished) is
 * `null`.
 */
import { FerryError, errorMessage, errorName } from '@ferry/errors'
import { lpStream } from '@libp2p/utils'
import { protocolError } from './codec.js'
import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Framed {
  readonly stream: Stream
  /** The next frame payload, or null at the end of the stream. */
  read: (options?: { signal?: AbortSignal }) => Promise<Uint8ArrayList | null>
  /** Writes one frame; resolves once the stream can take more (backpressure). */
  write: (payload: Uint8Array | Uint8ArrayList, options?: { signal?: AbortSignal }) => Promise<void>
  /** Writes several frames in one send (one muxer frame, one encryption, one socket write); same bytes as one `write` each. */
  writeMany: (payloads: Array<Uint8Array | Uint8ArrayList>, options?: { signal?: AbortSignal }) => Promise<void>
}

/** `err` as a FerryError, or undefined if it means a clean or truncated end of stream. */
export function streamError (err: unknown, what: string): FerryError | undefined {
  if (err instanceof FerryError) return err
  const name = errorName(err)
  switch (name) {
    case 'UnexpectedEOFError':
      return undefined
    case 'InvalidDataLengthError':
    case 'InvalidDataLengthLengthError':
      return protocolError('too-large', `${what}: ${(err as Error).message}`, err)
    case 'InvalidMessageLengthError':
      return protocolError('malformed', `${what}: ${(err as Error).message}`, err)
    case 'AbortError':
      return new FerryError('ERR_ABORTED', `${what}: aborted`, { cause: err })
    default:
      return new FerryError('ERR_NETWORK', `${what}: ${errorMessage(err)}`, { cause: err })
  }
}

/**
 * Wraps `stream`. `maxFrame` bounds every frame read; `maxBuffered` bounds the bytes received and not yet
 * read (the stream is aborted beyond it), so it must cover what the peer may legitimately send ahead.
 */
export function framed (stream: Stream, maxFrame: number, maxBuffered: number, what: string): Framed {
  const lp = lpStream(stream, { maxDataLength: maxFrame, maxBufferSize: maxBuffered })
  return {
    stream,
    async read (options) {
      try {
        return await lp.read(options)
      } catch (err) {
        const e = streamError(err, what)
        if (e === undefined) return null
        throw e
      }
    },
    async write (payload, options) {
      try {
        await lp.write(payload, options)
      } catch (err) {
        throw streamError(err, what) ?? new FerryError('ERR_NETWORK', `${what}: stream closed while writing`, { cause: err })
      }
    },
    async writeMany (payloads, options) {
      try {
        await lp.writeV(payloads, options)
      } catch (err) {
        throw streamError(err, what) ?? new FerryError('ERR_NETWORK', `${what}: stream closed while writing`, { cause: err })
      }
    }
  }
}
