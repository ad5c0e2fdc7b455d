// A hostile test double: a real Ferry node (same protocols, same trust rules) whose leaf reader flips a
// byte in every leaf it serves. Usage: node liar.js <home>; prints its address like `ferry daemon`.
import { openHome } from '@ferry/store'
import { createFerryNode, readLeafHere } from '@ferry/node'

const home = await openHome(process.argv[2])
const node = await createFerryNode({
  home,
  listen: ['/ip4/127.0.0.1/tcp/0'],
  readLeaf: async (h, cid, signal) => {
    const r = await readLeafHere(h, cid, signal)
    if (r.status !== 'ok') return r
    const bytes = Uint8Array.from(r.bytes)
    bytes[bytes.length >> 1] ^= 0xff
    return { status: 'ok', bytes }
  }
})
for (const a of node.addrs()) console.log(`  ${a}`)
const stop = async () => { await node.stop(); await home.close(); process.exit(0) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
