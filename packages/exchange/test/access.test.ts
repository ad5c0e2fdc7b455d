/**
 * The server's access hook per block: asked with each requested CID before that block is read, and a
 * refusal ends the stream at that block (real libp2p nodes, raw frames on the client side).
 */
import { lpStream } from '@libp2p/utils'
import { afterEach, describe, expect, it } from 'vitest'
import {
  BLOCKS_PROTOCOL, MAX_BLOCKS_FRAME_BYTES, decodeBlocksServerMessage, encodeRequest, startExchangeServer, type AccessDecision, type AccessRequest
} from '@ferry/exchange'
import { cleanup, makeNode, makeScan } from './helpers.js'
import { homeSources } from '@ferry/node'

afterEach(cleanup)

describe('access hook per block', () => {
  it('asks for every block with its CID, serves the ones before a refusal, then ends with DENIED and sends nothing after', async () => {
    const scan = await makeScan()
    const [a, b, c, d] = scan.leaves.get('big.raw')!
    const asked: AccessRequest[] = []
    const authorize = (_peer: unknown, req: AccessRequest): AccessDecision => {
      asked.push(req)
      return req.cid?.equals(c!) === true ? { allow: false, reason: 'not permitted: test' } : { allow: true }
    }
    const server = await makeNode()
    const client = await makeNode()
    const exchange = await startExchangeServer(server, { ...homeSources(scan.home), authorize })
    const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, BLOCKS_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: MAX_BLOCKS_FRAME_BYTES })
    await lp.write(encodeRequest([a!, b!, c!, d!]))
    const got: string[] = []
    for (;;) {
      let frame
      try {
        frame = await lp.read()
      } catch {
        break // the server closed after its ERROR frame
      }
      const m = decodeBlocksServerMessage(frame)
      got.push(m.type === 'block' ? `block ${m.cid.toString()}` : m.type === 'error' ? `error ${m.code} ${m.message}` : m.type)
      if (m.type === 'error') break
    }
    expect(got).toEqual([`block ${a!.toString()}`, `block ${b!.toString()}`, 'error denied not permitted: test'])
    expect(asked[0]).toEqual({ protocol: BLOCKS_PROTOCOL }) // the frame, on the peer alone
    expect(asked.filter((r) => r.cid !== undefined).map((r) => r.cid!.toString()).slice(0, 3)).toEqual([a, b, c].map((x) => x!.toString()))
    expect(exchange.stats.blocksSent).toBe(2)
    expect(exchange.stats.refused).toBe(1)
    expect(exchange.stats.bytesSent).toBe(2 * 1024 * 1024)
  })
})
