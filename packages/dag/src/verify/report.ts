import type { VerifyRun } from './run.js'
import type { Difference, VerifyResult } from './types.js'

/** Report: records a difference, and says so. */
export function differ (run: VerifyRun, d: Difference): void {
  run.result.differences.push(d)
  run.emit({ type: 'verify:difference', difference: d })
}

/** Report: says a file was compared, equal (`ok`) or not. */
export function fileChecked (run: VerifyRun, path: string, size: number, ok: boolean): void {
  run.emit({ type: 'verify:file', path, size, ok })
}

/** Report: the result once everything is compared, differences in path order. */
export function reportResult (run: VerifyRun): VerifyResult {
  const { result } = run
  result.differences.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  result.ok = result.differences.length === 0
  return result
}
