import type { Command } from '../command.js'
import { init } from './init.js'
import { id } from './id.js'
import { add } from './add.js'
import { scans } from './scans.js'
import { ls } from './ls.js'
import { verify } from './verify.js'
import { daemon } from './daemon.js'
import { trust, untrust } from './trust.js'
import { pull } from './pull.js'
import { provenance } from './provenance.js'
import { grant, revoke } from './grant.js'
import { pnet } from './pnet.js'
import { peer, peers } from './peer.js'
import { remote } from './remote.js'

/** Every `ferry` subcommand, in the order `ferry --help` lists them. */
export const commands: Command[] = [init, id, add, scans, ls, verify, provenance, daemon, trust, untrust, grant, revoke, peer, peers, remote, pnet, pull]
