#!/usr/bin/env node
// Runs the whole vitest suite and ends with one plain line `Tests: N passed, N failed, N skipped`, which CI
// reads (it does not parse vitest's own summary). Exits with vitest's exit code. Extra args go to vitest.
//
// Tests CI must run (they need root, setpriv, a tmpfs mount: .ci/run provides them) call
// `requireInCi(ctx, reason)` from test/support/ci.ts when they cannot run. With CI set in the environment
// (.ci/run sets it) that fails the test, so this script exits non-zero and counts it as failed; elsewhere
// it skips with the reason. So a skip can never stand in for a pass in CI.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// Which Node runs the suite (and, through PATH, the `ferry` launcher and the processes the tests start): under
// npm scripts, the root `node` devDependency's Node 24 (node_modules/.bin/node) comes first on PATH.
console.log(`run-tests: Node ${process.version} (${process.execPath})`)
const dir = mkdtempSync(join(tmpdir(), 'ferry-vitest-'))
const out = join(dir, 'results.json')
const vitest = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'node_modules', 'vitest', 'vitest.mjs')
const run = spawnSync(process.execPath, [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)], { stdio: 'inherit' })
let summary = 'Tests: 0 passed, 0 failed'
try {
  const r = JSON.parse(readFileSync(out, 'utf8'))
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0)
  summary = `Tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`
} catch {
  summary = 'Tests: 0 passed, 1 failed (vitest wrote no results)'
}
rmSync(dir, { recursive: true, force: true })
console.log(summary)
process.exit(run.status ?? 1)
