// An older Ferry, for tests: a real Ferry node (same protocols, same trust rules) that does not serve the
// announce protocol (/ferry/announce/1.0.0 came later), so a peer's request for it is refused by libp2p's
// protocol negotiation. Usage: node old-ferry.js <home>; prints its addresses like `ferry daemon`.
import { openHome } from '@ferry/store'
import { createFerryNode } from '@ferry/node'
import { ANNOUNCE_PROTOCOL } from '@ferry/exchange'

const home = await openHome(process.argv[2])
const node = await createFerryNode({ home, listen: ['/ip4/127.0.0.1/tcp/0'] })
await node.libp2p.unhandle(ANNOUNCE_PROTOCOL)
for (const a of node.addrs()) console.log(`  ${a}`)
const stop = async () => { await node.stop(); await home.close(); process.exit(0) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
