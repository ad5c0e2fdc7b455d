import type { Command } from '../command.js'
import { init } from './init.js'
import { id } from './id.js'
import { add } from './add.js'
import { scans } from './scans.js'
import { ls } from './ls.js'
import { verify } from './verify.js'

/** Every `ferry` subcommand, in the order `ferry --help` lists them. */
export const commands: Command[] = [init, id, add, scans, ls, verify]
