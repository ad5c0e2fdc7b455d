import { spawn } from 'node:child_process'
import { ExitCode, FerryError } from '@ferry/errors'
import { apiClientApi, nodeApi } from '../lazy.js'
import type { Command } from '../command.js'
import { printJson, println, withHome } from '../context.js'

/** Opens `url` with xdg-open when a graphical session is there; whether it tried. Never fails the command. */
function openInBrowser (url: string, env: NodeJS.ProcessEnv): boolean {
  if ((env.DISPLAY ?? '') === '' && (env.WAYLAND_DISPLAY ?? '') === '') return false
  try {
    const child = spawn('xdg-open', [url], { detached: true, stdio: 'ignore' })
    child.on('error', () => {}) // no xdg-open: the printed URL is enough
    child.unref()
    return true
  } catch {
    return false
  }
}

export const web: Command = {
  name: 'web',
  summary: 'Print (and open) the running daemon\'s web page, with a one-time login link',
  usage: '[--print] [--json]',
  help: [
    'Asks the running daemon for a one-time login token and prints the page\'s URL with it, such as',
    'http://127.0.0.1:41234/login?token=... The link works once, within 10 minutes; the browser then keeps',
    'a session cookie until the daemon restarts. Run `ferry web` again for another browser.',
    '',
    'Opens the link with xdg-open when DISPLAY or WAYLAND_DISPLAY is set, unless --print.',
    'From another machine, tunnel first: ssh -L 8080:127.0.0.1:<port> <site>, and open the link with',
    '127.0.0.1:<port> replaced by localhost:8080.',
    '',
    '  --print   only print the URL',
    '  --json    { url, expires, opened }',
    '',
    'Exit 0; 8 when no daemon runs on this home (ERR_NO_DAEMON, as the task commands: start it with `ferry daemon`).'
  ].join('\n'),
  options: { print: { type: 'boolean' } },
  positionals: [0, 0],
  async run (ctx, _args, flags) {
    return await withHome(ctx, async (home) => {
      const info = await (await nodeApi()).readDaemonInfo(home.dir)
      if (info?.api === undefined || info.peerId !== home.peerId.toString()) {
        throw new FerryError('ERR_NO_DAEMON', `No daemon runs on ${home.dir}: start it with \`ferry daemon\`, then run \`ferry web\` again`, { details: { home: home.dir } })
      }
      const client = await (await apiClientApi()).apiClient(home.dir, info.api)
      const { url, expires } = await client.request<{ url: string, expires: string }>('POST', '/v1/login-tokens')
      const opened = flags.print !== true && openInBrowser(url, process.env)
      if (ctx.json) printJson(ctx, { url, expires, opened })
      else println(ctx, url)
      return ExitCode.OK
    })
  }
}
