import { FerryError } from '@ferry/errors'
import { openHome, resolveHome, type Home } from '@ferry/store'

/** What every command gets: parsed global flags and the streams to write to. */
export interface Context {
  /** The --home value if given; resolve with `homeDir()`. */
  home?: string
  json: boolean
  debug: boolean
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal
}

export function homeDir (ctx: Context): string {
  return resolveHome(ctx.home)
}

/** Opens the home for a command and closes it afterwards, whatever happens. */
export async function withHome<T> (ctx: Context, fn: (home: Home) => Promise<T>): Promise<T> {
  const home = await openHome(homeDir(ctx))
  try {
    return await fn(home)
  } finally {
    await home.close()
  }
}

/** Prints one JSON document on stdout. */
export function printJson (ctx: Context, value: unknown): void {
  ctx.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

export function println (ctx: Context, line = ''): void {
  ctx.stdout.write(line + '\n')
}

export function usageError (message: string, usage: string): FerryError {
  return new FerryError('ERR_USAGE', message, { details: { usage } })
}
