/**
 * Keeps up with config.json as other processes (`ferry trust`, `grant`, ...) rewrite it: one `stat` per
 * check, shared by concurrent checks, the file re-read only when its size, mtime or inode moved. A file
 * that cannot be stat'ed or parsed keeps the last good contents (and logs why).
 */
import fs from 'node:fs/promises'
import type { FerryConfig } from '@ferry/store'
import type { Logger } from '@libp2p/interface'

/** Longest time a served request may go on using lists read from config.json before they are checked again. */
export const CONFIG_RECHECK_MS = 200

interface Stamp { size: number, mtimeMs: number, ino: number }

/** Options of `configWatch`. */
export interface ConfigWatchInit {
  /** The config.json to watch. */
  file: string
  log: Logger
  /** Called with the parsed file each time it changed (not for the contents the caller started with). */
  onChange: (cfg: Partial<FerryConfig>) => void
}

/** A watch on config.json, checked when asked (no timer, no fs.watch). */
export interface ConfigWatch {
  /** Checks the file now; concurrent callers share one check. */
  refresh: () => Promise<void>
  /** Checks the file if the last check started CONFIG_RECHECK_MS ago or more; true if it did. */
  refreshIfDue: () => Promise<boolean>
}

/** A watch on `init.file`: the first check reads it (the caller's initial contents may be older). */
export function configWatch (init: ConfigWatchInit): ConfigWatch {
  const { file, log, onChange } = init
  let stamp: Stamp | undefined
  let refreshing: Promise<void> | undefined
  let checkedAt = -Infinity // performance.now() when the last check started

  const check = async (): Promise<void> => {
    let st
    try {
      st = await fs.stat(file)
    } catch (err) {
      log.error('cannot stat %s, keeping the last trusted list: %e', file, err)
      return
    }
    const now = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino }
    if (stamp !== undefined && now.size === stamp.size && now.mtimeMs === stamp.mtimeMs && now.ino === stamp.ino) return
    try {
      onChange(JSON.parse(await fs.readFile(file, 'utf8')) as Partial<FerryConfig>)
      stamp = now
    } catch (err) {
      log.error('cannot read %s, keeping the last trusted list: %e', file, err)
    }
  }

  const refresh = async (): Promise<void> => {
    checkedAt = performance.now()
    refreshing ??= check().finally(() => { refreshing = undefined })
    await refreshing
  }

  return {
    refresh,
    async refreshIfDue () {
      if (performance.now() - checkedAt < CONFIG_RECHECK_MS) return false
      await refresh()
      return true
    }
  }
}
