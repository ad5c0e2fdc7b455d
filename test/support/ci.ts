/**
 * Tests that need what CI provides (root, setpriv, a tmpfs mount) and cannot run everywhere.
 *
 * Such a test calls `requireInCi(ctx, reason)` when it cannot run. Outside CI that skips it with the reason
 * (vitest shows it). In CI, that is when `CI` is set in the environment (.ci/run sets it, as CI services do),
 * it fails the test instead: CI runs as root on Debian and .ci/run installs the tools these tests use, so
 * a skip there would only hide a test that silently stopped running. The failure fails vitest, so
 * scripts/run-tests.js exits non-zero and its `Tests:` line counts it as failed, not skipped.
 *
 * Every other skip is `ctx.skip('reason')`, never an early `return` (which vitest counts as a pass).
 */
import { spawnSync } from 'node:child_process'
import type { TestContext } from 'vitest'

/** True when this run is CI's: `CI` set to anything but '', '0' or 'false'. */
export const IN_CI = !['', '0', 'false'].includes((process.env.CI ?? '').trim().toLowerCase())

/** Skips the test with `reason`; in CI, fails it with `reason` instead. */
export function requireInCi (ctx: TestContext, reason: string): never {
  if (IN_CI) throw new Error(`this test must run in CI, and cannot here: ${reason}`)
  ctx.skip(reason)
  throw new Error('unreachable: ctx.skip throws')
}

/**
 * Why the CLI cannot be run as an unprivileged user here (see `asUser` in ferry.ts), or undefined if it can:
 * that needs root (to switch) and setpriv (util-linux) on the PATH.
 */
export function privilegeDropProblem (): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root, to run the CLI as nobody through setpriv'
  if (spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status !== 0) return 'needs setpriv (util-linux) on the PATH'
  return undefined
}
