/**
 * How the bench runs Ferry: always as a child process, so its time and peak RSS are measured like any
 * other tool's.
 *
 * - cli (default): `packages/cli/bin/ferry add <dir> --home <fresh home> --json` (the launcher users run:
 *   it tunes glibc's allocator, then runs bundle/ferry.js on the `node` in PATH), the home made beforehand
 *   with `ferry init --home H` (outside the timing).
 * - lib: `node bench/lib/lib-import.js <dir>`, importDirectory() from packages/dag/dist with no sink: the
 *   hashing pipeline alone, for when the CLI does not build or to see what the catalog and block store cost.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** The bundled CLI (`npm run build`): what the launcher runs. */
export const CLI = join(REPO, 'packages', 'cli', 'bundle', 'ferry.js')
/** The `ferry` command as installed: the launcher script in front of CLI. */
export const FERRY = join(REPO, 'packages', 'cli', 'bin', 'ferry')
const LIB_IMPORT = join(REPO, 'bench', 'lib', 'lib-import.js')

export function makeDriver (kind, homesDir) {
  if (kind === 'cli' && !existsSync(CLI)) {
    throw new Error(`${CLI} not found: build it (npm run build) or use --driver lib`)
  }
  let n = 0
  return {
    kind,
    label: kind === 'cli' ? 'ferry add' : 'importDirectory',
    /** A fresh, initialised home (cli), or null (lib). */
    newHome () {
      if (kind !== 'cli') return null
      const home = join(homesDir, `home-${process.pid}-${n++}`)
      rmSync(home, { recursive: true, force: true })
      mkdirSync(homesDir, { recursive: true })
      execFileSync(FERRY, ['init', '--home', home], { stdio: 'ignore' })
      return home
    },
    /** [cmd, args] importing `dir` into `home`; prints one JSON document with at least `bytes`. */
    command (dir, home) {
      if (kind === 'cli') return [FERRY, ['add', dir, '--home', home, '--json']]
      return [process.execPath, [LIB_IMPORT, dir]]
    },
    parse (stdout) {
      return JSON.parse(stdout)
    },
    removeHome (home) {
      if (home != null) rmSync(home, { recursive: true, force: true })
    }
  }
}
