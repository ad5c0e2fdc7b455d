import { parseArgs } from 'node:util'
import { ExitCode, FerryError, exitCodeFor, isAbortError, errorMessage } from '@ferry/errors'
import type { Command, OptionSpec } from './command.js'
import { printJson, usageError, type Context } from './context.js'
import { commands } from './commands/index.js'
import { VERSION } from './version.js'

export { VERSION }

const GLOBAL_OPTIONS: OptionSpec = {
  home: { type: 'string' },
  json: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
}

function topUsage (): string {
  const width = Math.max(...commands.map((c) => c.name.length))
  return [
    'Usage: ferry <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options for every command:',
    '  --home DIR   the node\'s state directory (default: $FERRY_HOME, else ~/.ferry)',
    '  --json       machine-readable output on stdout',
    '  --debug      print stack traces of errors',
    '  -h, --help   help for a command',
    '',
    'Exit codes: 0 ok, 1 internal error, 2 usage, 3 partial (entries skipped), 4 verification failed,',
    '5 no space, 6 peer/network failure, 7 not found, 8 I/O or home error, 130 interrupted.',
    'See docs/cli.md.'
  ].join('\n')
}

function commandUsage (c: Command): string {
  return `Usage: ferry ${c.name} ${c.usage}\n\n${c.summary}${c.help != null ? `\n\n${c.help}` : ''}`
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code. Never throws. */
export async function main (argv: string[], io: { stdout?: NodeJS.WriteStream, stderr?: NodeJS.WriteStream } = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout
  const stderr = io.stderr ?? process.stderr
  const controller = new AbortController()
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(ExitCode.ABORTED) // second Ctrl-C: leave now
    stderr.write(`\nferry: ${sig} received, stopping (again to force)\n`)
    controller.abort(new FerryError('ERR_ABORTED', `Interrupted by ${sig}`))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const ctx: Context = { json: argv.includes('--json'), debug: argv.includes('--debug'), stdout, stderr, signal: controller.signal }
  try {
    const name = argv[0]
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      stdout.write(topUsage() + '\n')
      return name === undefined ? ExitCode.USAGE : ExitCode.OK
    }
    if (name === '--version' || name === 'version') {
      stdout.write(`ferry ${VERSION}\n`)
      return ExitCode.OK
    }
    const command = commands.find((c) => c.name === name)
    if (command == null) throw usageError(`Unknown command '${name}'. Run 'ferry --help' for the list.`, topUsage())
    let parsed
    try {
      parsed = parseArgs({ args: argv.slice(1), options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true })
    } catch (err) {
      throw usageError(`${(err as Error).message.split('\n')[0] ?? 'bad arguments'}`, commandUsage(command))
    }
    const flags = parsed.values as Record<string, string | boolean | string[] | undefined>
    if (flags.help === true) {
      stdout.write(commandUsage(command) + '\n')
      return ExitCode.OK
    }
    ctx.home = flags.home as string | undefined
    ctx.json = flags.json === true
    ctx.debug = flags.debug === true
    const [min, max] = command.positionals
    if (parsed.positionals.length < min || parsed.positionals.length > max) {
      throw usageError(`'ferry ${command.name}' takes ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? '' : 's'}: ${command.usage}`, commandUsage(command))
    }
    return await command.run(ctx, parsed.positionals, flags)
  } catch (err) {
    return reportError(ctx, err)
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

function reportError (ctx: Context, err: unknown): number {
  const code = exitCodeFor(err)
  if (ctx.json) {
    const body = err instanceof FerryError ? err.toJSON() : { code: isAbortError(err) ? 'ERR_ABORTED' : 'ERR_INTERNAL', message: errorMessage(err), details: {} }
    printJson(ctx, { error: body })
  }
  if (err instanceof FerryError) {
    ctx.stderr.write(`ferry: ${err.message}\n`)
    if (err.code === 'ERR_USAGE' && typeof err.details.usage === 'string' && !ctx.json) ctx.stderr.write(`\n${err.details.usage}\n`)
  } else if (isAbortError(err)) {
    ctx.stderr.write('ferry: interrupted\n')
  } else {
    ctx.stderr.write(`ferry: internal error: ${errorMessage(err)}\n`)
    if (!ctx.debug) ctx.stderr.write('(this is a bug: run again with --debug and report the output)\n')
  }
  if (ctx.debug && err instanceof Error) {
    ctx.stderr.write(`${err.stack ?? ''}\n`)
    if (err.cause != null) ctx.stderr.write(`caused by: ${(err.cause as Error).stack ?? String(err.cause)}\n`)
  }
  return code
}
