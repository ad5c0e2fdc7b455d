/**
 * Whole-machine CPU accounting from /proc/stat, to see how busy the rest of the machine was during a timed
 * run (these machines are shared: other people's builds and tests take cores away from a parallel tool
 * much more than from a single-threaded one), and to wait for a quiet moment before one.
 */
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'

const TICKS_PER_S = 100 // USER_HZ on Linux

/**
 * [cmd, args] running `cmd args` on CPU `cpu` only (taskset; it execs, so the PID is the command's, and every
 * process or thread it starts inherits the CPU), or [cmd, args] as they are when `cpu` is null or undefined.
 */
export function onCpu (cpu, cmd, args) {
  return cpu == null ? [cmd, args] : ['taskset', ['-c', String(cpu), cmd, ...args]]
}

/** Busy CPU seconds summed over all cores since boot (null where /proc/stat is missing). */
export function busySeconds () {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    const [user, nice, system, , , irq, softirq, steal] = f // idle and iowait left out
    return (user + nice + system + irq + softirq + (steal ?? 0)) / TICKS_PER_S
  } catch {
    return null
  }
}

/** Average cores busy over the next `ms` milliseconds. */
export async function busyCores (ms = 500) {
  const a = busySeconds()
  const t = performance.now()
  await sleep(ms)
  const b = busySeconds()
  return a == null || b == null ? null : (b - a) / ((performance.now() - t) / 1000)
}

/**
 * Waits until the machine is nearly idle (less than `threshold` cores busy over half a second), at most
 * `maxS` seconds. Returns { waitedS, busyCores } with the last sample.
 */
export async function settle ({ maxS = 20, threshold = 0.25 } = {}) {
  const start = performance.now()
  let busy = null
  while (true) {
    busy = await busyCores(500)
    const waitedS = (performance.now() - start) / 1000
    if (busy == null || busy < threshold || waitedS >= maxS) return { waitedS, busyCores: busy }
  }
}

export const CORES = availableParallelism()

/**
 * CPU seconds (user + system, all threads) of process `pid` from /proc/<pid>/stat; with `children`, plus
 * those of the children it has waited for. null when the process is gone or /proc is missing.
 */
export function processCpuSeconds (pid, { children = false } = {}) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // f[0] is field 3 (state)
    const [utime, stime, cutime, cstime] = [f[11], f[12], f[13], f[14]].map(Number)
    return (utime + stime + (children ? cutime + cstime : 0)) / TICKS_PER_S
  } catch {
    return null
  }
}
