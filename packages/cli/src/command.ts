import type { ParseArgsConfig } from 'node:util'
import type { Context } from './context.js'

export type OptionSpec = NonNullable<ParseArgsConfig['options']>

/** A `ferry` subcommand: its flags, its positional arguments and what it does. Returns the exit code. */
export interface Command {
  name: string
  summary: string
  /** Synopsis after `ferry <name>`, e.g. `<dir> [--collection ID] [--name NAME]`. */
  usage: string
  /** Longer help: what it does, what it prints, exit codes worth knowing. */
  help?: string
  options: OptionSpec
  /** [min, max] positional arguments. */
  positionals: [number, number]
  run: (ctx: Context, args: string[], flags: Record<string, string | boolean | string[] | undefined>) => Promise<number>
}
