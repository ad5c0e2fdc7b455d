/** Facts about the machine a run was taken on, recorded with every result. */
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { capture } from './proc.js'
import { REPO } from './ferry.js'

export function machineFacts (workDir) {
  let cpuinfo = ''
  try { cpuinfo = readFileSync('/proc/cpuinfo', 'utf8') } catch {}
  const field = (name) => cpuinfo.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm'))?.[1]?.trim() ?? null
  const flags = (field('flags') ?? '').split(' ')
  const gitHead = capture('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'])
  const gitDirty = capture('git', ['-C', REPO, 'status', '--porcelain', '--untracked-files=no', '--', 'packages']) !== ''
  return {
    date: new Date().toISOString(),
    cpu: field('model name') ?? os.cpus()[0]?.model ?? null,
    cpuFlags: ['sha_ni', 'avx2', 'aes'].filter((f) => flags.includes(f)),
    cores: os.availableParallelism(),
    ramBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    openssl: capture('openssl', ['version']),
    coreutils: capture('sha256sum', ['--version']).split('\n')[0],
    workDir,
    workFs: capture('findmnt', ['-n', '-o', 'FSTYPE', '-T', workDir]) || capture('stat', ['-f', '-c', '%T', workDir]),
    ferryCommit: gitHead === '' ? null : `${gitHead}${gitDirty ? ' (packages/ modified)' : ''}`
  }
}
