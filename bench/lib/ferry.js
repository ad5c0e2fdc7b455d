/**
 * How the bench runs Ferry: always as a child process, so its time and peak RSS are measured like any
 * other tool's.
 *
 * - cli (default): `node packages/cli/dist/bin.js add <dir> --home <fresh home> --json`, the home made
 *   beforehand with `ferry init --home H` (outside the timing).
 * - lib: `node bench/lib/lib-import.js <dir>`, importDirectory() from packages/dag/dist with no sink: the
 *   hashing pipeline alone, for when the CLI does not build or to see what the catalog and block store cost.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const CLI = join(REPO, 'packages', 'cli', 'dist', 'bin.js')
const LIB_IMPORT = join(REPO, 'bench', 'lib', 'lib-import.js')

export function makeDriver (kind, homesDir) {
  if (kind === 'cli' && !existsSync(CLI)) {
    throw new Error(`${CLI} not found: build it (npx tsc -b packages/cli) or use --driver lib`)
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
      execFileSync(process.execPath, [CLI, 'init', '--home', home], { stdio: 'ignore' })
      return home
    },
    /** [cmd, args] importing `dir` into `home`; prints one JSON document with at least `bytes`. */
    command (dir, home, nodeFlags = []) {
      if (kind === 'cli') return [process.execPath, [...nodeFlags, CLI, 'add', dir, '--home', home, '--json']]
      return [process.execPath, [...nodeFlags, LIB_IMPORT, dir]]
    },
    parse (stdout) {
      return JSON.parse(stdout)
    },
    removeHome (home) {
      if (home != null) rmSync(home, { recursive: true, force: true })
    }
  }
}
