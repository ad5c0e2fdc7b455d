import { ExitCode } from '@ferry/errors'
import { initHome } from '@ferry/store'
import type { Command } from '../command.js'
import { homeDir, printJson, println } from '../context.js'

export const init: Command = {
  name: 'init',
  summary: 'Create a node home: identity (Ed25519 PeerId), config and catalog',
  usage: '[--home DIR]',
  help: 'Creates DIR (default $FERRY_HOME, else ~/.ferry) with mode 0700. Refuses an existing home.',
  options: {},
  positionals: [0, 0],
  async run (ctx) {
    const dir = homeDir(ctx)
    const home = await initHome(dir)
    try {
      const peerId = home.peerId.toString()
      if (ctx.json) printJson(ctx, { home: dir, peerId })
      else {
        println(ctx, `Initialised Ferry home at ${dir}`)
        println(ctx, `peer ID: ${peerId}`)
      }
    } finally {
      await home.close()
    }
    return ExitCode.OK
  }
}
