import { ExitCode } from '@ferry/errors'
import type { Command } from '../command.js'
import { homeDir, printJson, println, withHome } from '../context.js'

export const id: Command = {
  name: 'id',
  summary: 'Print this node\'s peer ID',
  usage: '[--json]',
  options: {},
  positionals: [0, 0],
  async run (ctx) {
    return await withHome(ctx, async (home) => {
      const peerId = home.peerId.toString()
      if (ctx.json) printJson(ctx, { peerId, home: homeDir(ctx) })
      else println(ctx, peerId)
      return ExitCode.OK
    })
  }
}
