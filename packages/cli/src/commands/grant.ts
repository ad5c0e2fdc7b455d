import { ExitCode } from '@ferry/errors'
import { nodeApi } from '../lazy.js'
import type { Command } from '../command.js'
import { printJson, println, usageError, withHome } from '../context.js'
import type { Home } from '@ferry/store'

const GRANT_USAGE = '<collection> <PeerId>... | <collection> --everyone | --list [--json]'

/** A line saying when the change reaches the daemon. */
async function whenEffective (dir: string): Promise<string> {
  return (await (await nodeApi()).readDaemonInfo(dir)) !== undefined
    ? 'The running daemon applies it to the next request.'
    : 'It applies when the daemon runs (`ferry daemon`).'
}

function scansIn (home: Home, collection: string): number {
  return home.catalog.listScans({ collection }).length
}

export const grant: Command = {
  name: 'grant',
  summary: 'Let peers read a collection (which only its grantees may read from then on)',
  usage: GRANT_USAGE,
  help: [
    'Adds each <PeerId> to the access list of <collection> in config.json. A collection without an access',
    'list is readable by every trusted peer; once it has one, only the peers on it get its scans, files and',
    'directory listings. The trusted list (`ferry trust`) still decides who may connect at all.',
    '',
    '  --everyone   remove the access list: every trusted peer may read <collection> again',
    '  --list       print the access lists (with --json: [{ "collection", "peers" }])'
  ].join('\n'),
  options: { everyone: { type: 'boolean' }, list: { type: 'boolean' } },
  positionals: [0, 100],
  async run (ctx, args, flags) {
    const usage = `Usage: ferry grant ${GRANT_USAGE}`
    const api = await nodeApi()
    if (flags.list === true) {
      if (args.length > 0 || flags.everyone === true) throw usageError('--list takes no collection and no peer', usage)
      return await withHome(ctx, async (home) => {
        const grants = api.listGrants(home)
        if (ctx.json) printJson(ctx, grants)
        else if (grants.length === 0) println(ctx, 'No collection is restricted: every trusted peer may read every scan.')
        else for (const g of grants) println(ctx, `${g.collection}: ${g.peers.length === 0 ? '(nobody)' : g.peers.join(' ')}`)
        return ExitCode.OK
      })
    }
    const [collection, ...peers] = args
    if (collection === undefined || collection === '') throw usageError('Name the collection, then the peers to grant it to', usage)
    if (flags.everyone === true) {
      if (peers.length > 0) throw usageError('--everyone takes no peer', usage)
      return await withHome(ctx, async (home) => {
        const changed = await api.openCollection(home, collection)
        if (ctx.json) printJson(ctx, { collection, everyone: true, changed })
        else if (changed) println(ctx, `Every trusted peer may read collection ${collection} again. ${await whenEffective(home.dir)}`)
        else println(ctx, `Collection ${collection} had no access list: every trusted peer may already read it.`)
        return ExitCode.OK
      })
    }
    if (peers.length === 0) throw usageError(`Name the peers (PeerIds) to grant ${collection} to, or use --everyone`, usage)
    const ids = peers.map((p) => api.parsePeerId(p).toString())
    return await withHome(ctx, async (home) => {
      const added: string[] = []
      for (const id of ids) if (await api.grantPeer(home, collection, id)) added.push(id)
      const untrusted = ids.filter((id) => !home.config.trusted.includes(id))
      if (ctx.json) {
        printJson(ctx, { collection, peers: home.config.grants?.[collection] ?? [], added, untrusted, scans: scansIn(home, collection) })
        return ExitCode.OK
      }
      for (const id of ids) println(ctx, `${added.includes(id) ? 'Granted' : 'Already granted:'} ${collection} to ${id}.`)
      println(ctx, `Only ${plainList(home.config.grants?.[collection]?.length ?? 0)} may read collection ${collection} now. ${await whenEffective(home.dir)}`)
      for (const id of untrusted) ctx.stderr.write(`note: ${id} is not trusted, so it cannot connect yet: run \`ferry trust ${id}\`\n`)
      if (scansIn(home, collection) === 0) ctx.stderr.write(`note: no scan here is in collection ${collection} yet (\`ferry add DIR --collection ${collection}\`)\n`)
      return ExitCode.OK
    })
  }
}

function plainList (n: number): string {
  return n === 1 ? 'that peer' : `those ${n} peers`
}

export const revoke: Command = {
  name: 'revoke',
  summary: 'Stop a peer reading a collection',
  usage: '<collection> <PeerId>... [--json]',
  help: [
    'Removes each <PeerId> from the access list of <collection>. A running daemon refuses the peer\'s next',
    'request for that collection, even in the middle of a transfer; what it already fetched stays with it.',
    'The collection stays restricted when its list becomes empty (then nobody may read it): revoking never',
    'opens a collection; `ferry grant <collection> --everyone` does.'
  ].join('\n'),
  options: {},
  positionals: [2, 101],
  async run (ctx, [collection, ...peers]) {
    const api = await nodeApi()
    const ids = peers.map((p) => api.parsePeerId(p).toString())
    return await withHome(ctx, async (home) => {
      const removed: string[] = []
      for (const id of ids) if (await api.revokePeer(home, collection as string, id)) removed.push(id)
      const left = home.config.grants?.[collection as string]
      if (ctx.json) {
        printJson(ctx, { collection, removed, peers: left ?? null })
        return ExitCode.OK
      }
      for (const id of ids) {
        println(ctx, removed.includes(id) ? `${id} may no longer read collection ${collection}.` : `${id} had no grant for ${collection}; nothing changed.`)
      }
      if (removed.length > 0) println(ctx, await whenEffective(home.dir))
      if (left === undefined) println(ctx, `Collection ${collection} has no access list: every trusted peer may read it (restrict it with \`ferry grant ${collection} <PeerId>\`).`)
      else if (left.length === 0) println(ctx, `Nobody may read collection ${collection} now (\`ferry grant ${collection} --everyone\` opens it to every trusted peer).`)
      return ExitCode.OK
    })
  }
}
