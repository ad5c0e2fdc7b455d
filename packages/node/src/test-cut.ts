/**
 * A test hook (FERRY_TEST_CUT_CONNECTION_AFTER in `ferry daemon`, for the end-to-end tests only): once the
 * node has served that many bytes of leaves and two or more connections carry blocks streams, it aborts the
 * newest of them, once, so a client loses one of its connections mid-transfer with requests in flight. Never set in use.
 */
import { BLOCKS_PROTOCOL } from '@ferry/exchange'
import type { Libp2p } from '@libp2p/interface'
import type { LeafReader } from './sources.js'

/** The environment variable that arms the hook: a byte count. */
export const CUT_CONNECTION_ENV = 'FERRY_TEST_CUT_CONNECTION_AFTER'

/** `reader`, counting the leaf bytes it serves and cutting one connection of `libp2p()` past `afterBytes`. */
export function cuttingConnection (reader: LeafReader, libp2p: () => Libp2p | undefined, afterBytes: number, say: (line: string) => void): LeafReader {
  let served = 0
  let cut = false
  return async (home, cid, signal) => {
    const r = await reader(home, cid, signal)
    if (r.status !== 'ok' || cut) return r
    served += r.bytes.length
    if (served < afterBytes) return r
    const carrying = (libp2p()?.getConnections() ?? []).filter((c) => c.status === 'open' && c.streams.some((s) => s.protocol === BLOCKS_PROTOCOL))
    const newest = carrying.sort((a, b) => b.timeline.open - a.timeline.open)[0]
    if (newest === undefined || carrying.length < 2) return r // not yet: the client's extra connections are still dialling
    cut = true
    say(`test hook: cutting connection ${newest.id} from ${newest.remotePeer.toString()} after ${served} bytes of leaves served (${carrying.length} connections carried blocks)`)
    newest.abort(new Error('cut by the test hook'))
    return r
  }
}

/** The node options of the hook when CUT_CONNECTION_ENV holds a byte count, else none. */
export function cutFromEnv (env: NodeJS.ProcessEnv, say: (line: string) => void): { cutConnectionAfterBytes?: number, say?: (line: string) => void } {
  const value = env[CUT_CONNECTION_ENV]
  if (value === undefined || !/^\d+$/.test(value)) return {}
  return { cutConnectionAfterBytes: Number(value), say }
}
