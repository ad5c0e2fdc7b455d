import { ExitCode } from '@ferry/errors'
import { nodeApi } from '../lazy.js'
import type { Command } from '../command.js'
import { printJson, println, usageError, withHome } from '../context.js'
import { daemonPeers, describeState, tellDaemon, type ShownPeer, type ShownState } from '../peers.js'

const PEER_USAGE = 'add <name> <multiaddr> | remove <name> [--json]'

export const peer: Command = {
  name: 'peer',
  summary: 'Name a peer in the address book (so `--from <name>` works), or remove one',
  usage: PEER_USAGE,
  help: [
    '  add <name> <multiaddr>   remember the peer at <multiaddr> (ending in /p2p/<PeerId>) as <name>, a short',
    '                           slug (esrf, soleil-2). Adding a peer does not trust it: `ferry trust <PeerId>`.',
    '  remove <name>            forget it (its trust, if any, stays: `ferry untrust <PeerId>`)',
    '',
    'Stored in config.json `peers`. `ferry peers` lists them with their state.'
  ].join('\n'),
  options: {},
  positionals: [2, 3],
  async run (ctx, [verb, name, addr]) {
    const usage = `Usage: ferry peer ${PEER_USAGE}`
    const api = await nodeApi()
    if (verb === 'add') {
      if (addr === undefined) throw usageError('ferry peer add takes a name and a multiaddr', usage)
      return await withHome(ctx, async (home) => {
        const { peer: added, changed } = await api.addPeer(home.dir, name ?? '', addr, home.peerId.toString())
        const trusted = home.config.trusted.includes(added.id)
        const warning = await tellDaemon(home.dir, added.name, addr)
        if (warning !== undefined) ctx.stderr.write(`ferry: warning: ${warning}\n`)
        if (ctx.json) printJson(ctx, { peer: added, created: changed, trusted })
        else {
          println(ctx, `${changed ? 'Added' : 'Already known:'} ${added.name} = ${added.id}`)
          for (const a of added.addrs) println(ctx, `  ${a}`)
          println(ctx, trusted
            ? `${added.name} is trusted: it may fetch from this node.`
            : `Not trusted: ${added.name} cannot fetch from this node until you run \`ferry trust ${added.id}\`. Pull from it with \`ferry pull <root> <dest> --from ${added.name}\`.`)
        }
        return ExitCode.OK
      })
    }
    if (verb === 'remove') {
      if (addr !== undefined) throw usageError('ferry peer remove takes only a name', usage)
      return await withHome(ctx, async (home) => {
        const removed = await api.removePeer(home.dir, name ?? '')
        const trusted = home.config.trusted.includes(removed.id)
        if (ctx.json) printJson(ctx, { removed, trusted })
        else println(ctx, `Removed ${removed.name} (${removed.id}) from the address book.${trusted ? ` It is still trusted: \`ferry untrust ${removed.id}\` to stop serving it.` : ''}`)
        return ExitCode.OK
      })
    }
    throw usageError(`Unknown 'ferry peer ${verb ?? ''}': use add or remove`, usage)
  }
}

export const peers: Command = {
  name: 'peers',
  summary: 'List the named peers, their trust and (from the running daemon) their state',
  usage: '[--json]',
  help: [
    'One line per peer of the address book: name, PeerId, trusted or not, and its state as the running',
    'daemon sees it (connected; unreachable since T (why); refused us since T: message; disconnected;',
    'unknown (daemon not running)). --json: { "peers": [{ "name", "id", "addrs", "trusted",',
    '"state": { "state", "since", "reason" } }] }, the shape of the API\'s GET /v1/peers.'
  ].join('\n'),
  options: {},
  positionals: [0, 0],
  async run (ctx) {
    return await withHome(ctx, async (home) => {
      const named = (await nodeApi()).namedPeers(home.config)
      const states = await daemonPeers(home.dir)
      if (typeof states === 'object' && 'failed' in states) ctx.stderr.write(`ferry: warning: the running daemon did not say the peers' states: ${states.failed}\n`)
      const fallback: ShownState = { state: 'unknown', since: null, reason: states === 'no daemon' ? 'daemon not running' : states instanceof Map ? null : 'daemon did not answer' }
      const list: ShownPeer[] = named.map((p) => ({
        ...p,
        trusted: home.config.trusted.includes(p.id),
        state: (states instanceof Map ? states.get(p.id) : undefined) ?? fallback
      }))
      if (ctx.json) printJson(ctx, { peers: list })
      else if (list.length === 0) println(ctx, 'No named peers: add one with `ferry peer add <name> <multiaddr>`.')
      else {
        const width = Math.max(...list.map((p) => p.name.length))
        for (const p of list) println(ctx, `${p.name.padEnd(width)}  ${p.id}  ${p.trusted ? 'trusted' : 'not trusted'}  ${describeState(p.state)}`)
      }
      return ExitCode.OK
    })
  }
}
