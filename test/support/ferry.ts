/**
 * Runs the real `ferry` CLI in a child process, as a user would: through its launcher (packages/cli/bin/ferry,
 * which tunes the allocator and runs dist/bin.js on the `node` in PATH).
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const FERRY_BIN = fileURLToPath(new URL('../../packages/cli/bin/ferry', import.meta.url))

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  env?: Record<string, string | undefined>
  cwd?: string
  /** Run as this uid/gid through setpriv (root only): root reads mode-000 files, nobody does not. */
  asUser?: { uid: number, gid: number }
  timeoutMs?: number
}

export async function ferry (args: string[], options: RunOptions = {}): Promise<RunResult> {
  let cmd = FERRY_BIN
  let argv = args
  if (options.asUser != null) {
    argv = [`--reuid=${options.asUser.uid}`, `--regid=${options.asUser.gid}`, '--clear-groups', cmd, ...argv]
    cmd = 'setpriv'
  }
  const child = spawn(cmd, argv, {
    cwd: options.cwd,
    env: { ...process.env, FERRY_HOME: undefined, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (c, sig) => { resolve(c ?? (sig != null ? 128 : 1)) })
  })
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/** Parses stdout as JSON, failing with the whole output if it is not. */
export function json<T = any> (r: RunResult): T {
  try {
    return JSON.parse(r.stdout) as T
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  }
}

/** `ferry init --home <parent>/<name>`: the home's directory and PeerId. */
export async function initTestHome (parent: string, name: string): Promise<{ dir: string, id: string }> {
  const dir = join(parent, name)
  const r = json(await ferry(['init', '--home', dir, '--json']))
  return { dir, id: r.peerId }
}

/** A `ferry` process left running (a foreground follow): its output so far, its exit, and how to stop it. */
export interface RunningFerry {
  child: ReturnType<typeof spawn>
  stdout: () => string
  stderr: () => string
  exited: Promise<RunResult>
  kill: (sig?: NodeJS.Signals) => void
}

/** Starts the real `ferry` CLI without waiting for it (killed after `timeoutMs`, default 5 min). */
export function startFerry (args: string[], options: { timeoutMs?: number, env?: Record<string, string> } = {}): RunningFerry {
  const child = spawn(FERRY_BIN, args, { env: { ...process.env, FERRY_HOME: undefined, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000)
  const exited = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (c, sig) => {
      clearTimeout(timer)
      resolve({ code: c ?? (sig != null ? 128 : 1), stdout, stderr })
    })
  })
  return { child, stdout: () => stdout, stderr: () => stderr, exited, kill: (sig = 'SIGTERM') => { child.kill(sig) } }
}
