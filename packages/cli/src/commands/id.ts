import { ExitCode } from '@ferry/errors'
import { nodeApi } from '../lazy.js'
import type { Command } from '../command.js'
import { homeDir, printJson, println, withHome } from '../context.js'

export const id: Command = {
  name: 'id',
  summary: 'Print this node\'s peer ID (and its addresses while the daemon runs)',
  usage: '[--json]',
  help: 'With --json: { peerId, home, addresses, api } where addresses are the running daemon\'s (empty when it is not running) and api its HTTP API\'s URL (null when not running).',
  options: {},
  positionals: [0, 0],
  async run (ctx) {
    return await withHome(ctx, async (home) => {
      const peerId = home.peerId.toString()
      const daemon = await (await nodeApi()).readDaemonInfo(home.dir)
      const ours = daemon?.peerId === peerId ? daemon : undefined
      const addresses = ours?.addrs ?? []
      if (ctx.json) printJson(ctx, { peerId, home: homeDir(ctx), addresses, api: ours?.api ?? null })
      else {
        println(ctx, peerId)
        for (const a of addresses) println(ctx, a)
      }
      return ExitCode.OK
    })
  }
}
