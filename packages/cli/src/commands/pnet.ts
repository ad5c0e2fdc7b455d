import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { ExitCode, fromSystemError } from '@ferry/errors'
import { nodeApi } from '../lazy.js'
import type { Command } from '../command.js'
import { printJson, println, usageError, withHome } from '../context.js'

const USAGE = 'generate [--force] | import <file> [--force] | status [--json]'

export const pnet: Command = {
  name: 'pnet',
  summary: 'Put this node in a private network (pre-shared key), or show whether it is',
  usage: USAGE,
  help: [
    'With a swarm.key in the home, the daemon and `ferry pull` of this home talk only to nodes holding the',
    'same key: others cannot even complete a connection. It hides the node from non-members; the trusted',
    'list and the grants still decide who may fetch what.',
    '',
    '  generate       write a new random swarm.key into the home; copy that file to the other sites',
    '  import <file>  use the swarm.key file another site generated',
    '  status         print whether the home has a key, and its fingerprint (compare it between sites)',
    '  --force        replace an existing key (nodes with the old one can no longer connect)',
    '',
    'To leave the private network, delete swarm.key from the home. Restart the daemon after any change.'
  ].join('\n'),
  options: { force: { type: 'boolean' } },
  positionals: [1, 2],
  async run (ctx, [action, file], flags) {
    const usage = `Usage: ferry pnet ${USAGE}`
    const api = await nodeApi()
    const force = flags.force === true
    if (action === 'status') {
      if (file !== undefined) throw usageError('status takes no argument', usage)
      return await withHome(ctx, async (home) => {
        const key = await api.readSwarmKey(home.dir)
        if (ctx.json) printJson(ctx, { privateNetwork: key !== undefined, fingerprint: key?.fingerprint ?? null })
        else if (key === undefined) println(ctx, 'No private network: this node talks to any node that dials it (trust and grants still apply).')
        else println(ctx, `Private network, key fingerprint ${key.fingerprint}.`)
        return ExitCode.OK
      })
    }
    let text: string
    let source: string | undefined
    if (action === 'generate') {
      if (file !== undefined) throw usageError('generate takes no argument', usage)
      text = api.newSwarmKeyText()
    } else if (action === 'import') {
      if (file === undefined) throw usageError('Name the swarm.key file to import', usage)
      source = resolve(file)
      try {
        text = await readFile(source, 'utf8')
      } catch (err) {
        throw fromSystemError(err, source)
      }
    } else {
      throw usageError(`Unknown action '${action ?? ''}'`, usage)
    }
    return await withHome(ctx, async (home) => {
      const key = await api.writeSwarmKey(home.dir, text, { force, source })
      const running = (await api.readDaemonInfo(home.dir)) !== undefined
      if (ctx.json) printJson(ctx, { privateNetwork: true, fingerprint: key.fingerprint, file: `${home.dir}/${api.SWARM_KEY_FILE}` })
      else {
        println(ctx, `Private network key written to ${home.dir}/${api.SWARM_KEY_FILE} (fingerprint ${key.fingerprint}).`)
        if (action === 'generate') println(ctx, 'Copy that file to every other site and run `ferry pnet import <file>` there; keep it secret.')
        if (running) println(ctx, 'Restart the running daemon to use it.')
      }
      return ExitCode.OK
    })
  }
}
