import { ExitCode } from '@ferry/errors'
import { nodeApi } from '../lazy.js'
import type { Command } from '../command.js'
import { printJson, println, usageError, withHome } from '../context.js'

const TRUST_USAGE = '<PeerId> [--name LABEL] | --list [--json]'

/** A line saying when the change reaches the daemon. */
async function whenEffective (dir: string): Promise<string> {
  return (await (await nodeApi()).readDaemonInfo(dir)) !== undefined
    ? 'The running daemon applies it to the next request.'
    : 'It applies when the daemon runs (`ferry daemon`).'
}

export const trust: Command = {
  name: 'trust',
  summary: 'Allow a peer to fetch from this node, or list the peers allowed',
  usage: TRUST_USAGE,
  help: [
    'Adds <PeerId> (what `ferry id` prints on the other node) to the trusted list in config.json.',
    'Only trusted peers may fetch blocks and scans from this node\'s daemon.',
    '',
    '  --name LABEL   remember the peer under this name in the address book',
    '  --list         print the trusted peers (with --json: [{ "id", "name" }])'
  ].join('\n'),
  options: { name: { type: 'string' }, list: { type: 'boolean' } },
  positionals: [0, 1],
  async run (ctx, args, flags) {
    const usage = `Usage: ferry trust ${TRUST_USAGE}`
    if (flags.list === true) {
      if (args.length > 0 || flags.name !== undefined) throw usageError('--list takes no peer and no --name', usage)
      return await withHome(ctx, async (home) => {
        const peers = (await nodeApi()).listTrusted(home)
        if (ctx.json) printJson(ctx, peers)
        else if (peers.length === 0) println(ctx, 'No trusted peers: add one with `ferry trust <PeerId>`.')
        else for (const p of peers) println(ctx, p.name === undefined ? p.id : `${p.id}  ${p.name}`)
        return ExitCode.OK
      })
    }
    const [text] = args
    if (text === undefined) throw usageError('Name the peer to trust (its PeerId), or use --list', usage)
    const id = (await nodeApi()).parsePeerId(text).toString()
    return await withHome(ctx, async (home) => {
      if (id === home.peerId.toString()) throw usageError(`${id} is this node itself`, usage)
      const added = await (await nodeApi()).trustPeer(home, id, { name: flags.name as string | undefined })
      const note = await whenEffective(home.dir)
      if (ctx.json) printJson(ctx, { id, name: flags.name ?? null, added })
      else println(ctx, `${added ? 'Trusted' : 'Already trusted:'} ${id}${flags.name !== undefined ? ` (${String(flags.name)})` : ''}. ${note}`)
      return ExitCode.OK
    })
  }
}

export const untrust: Command = {
  name: 'untrust',
  summary: 'Stop a peer from fetching from this node',
  usage: '<PeerId> [--json]',
  help: 'Removes <PeerId> from the trusted list (its address-book entry stays). A running daemon refuses its next request.',
  options: {},
  positionals: [1, 1],
  async run (ctx, [text]) {
    const id = (await nodeApi()).parsePeerId(text ?? '').toString()
    return await withHome(ctx, async (home) => {
      const removed = await (await nodeApi()).untrustPeer(home, id)
      if (ctx.json) printJson(ctx, { id, removed })
      else if (removed) println(ctx, `No longer trusted: ${id}. ${await whenEffective(home.dir)}`)
      else println(ctx, `${id} was not trusted; nothing changed.`)
      return ExitCode.OK
    })
  }
}
