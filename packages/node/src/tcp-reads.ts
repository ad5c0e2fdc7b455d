/**
 * Socket reads into large slabs, for the TCP connections a node dials (`tcp({ dialOpts })` passes these
 * options to `net.connect`). By default Node reads at most 64 KiB at a time into a new buffer each, so a
 * 65,539-byte Noise message nearly always spans two reads. Here each read may take up to the rest of a
 * 1 MiB slab, the next read continues where it ended, and a slab is replaced once less than 64 KiB of it is
 * left: fewer, larger reads, fewer allocations, and most messages in one piece.
 *
 * With `onread` Node emits no 'data' events, so the callback emits them (the socket is its `this`); pause and
 * resume still stop and start reading. Node asks for the next buffer right after the callback, without
 * saying for which socket: the callback leaves it in `handoff` for that call.
 */
import type net from 'node:net'

const SLAB_BYTES = 1024 * 1024
const MIN_READ_BYTES = 64 * 1024

let handoff: Buffer | undefined

function nextBuffer (): Buffer {
  const b = handoff ?? Buffer.allocUnsafeSlow(SLAB_BYTES)
  handoff = undefined
  return b
}

function onRead (this: net.Socket, nread: number, buf: Buffer): boolean {
  const data = buf.subarray(0, nread)
  const rest = buf.byteLength - nread >= MIN_READ_BYTES ? buf.subarray(nread) : undefined
  this.emit('data', data)
  handoff = rest
  return true
}

/** `net.connect` options that read into slabs (see above). */
export function slabReadOptions (): Record<string, unknown> {
  return { onread: { buffer: nextBuffer, callback: onRead } }
}
