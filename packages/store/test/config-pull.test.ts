/** config.json `pull`: the connections per source of every pull from this home, validated like every other key. */
import { describe, expect, it } from 'vitest'
import { FerryError } from '@ferry/errors'
import { CONFIG_VERSION, validateConfig } from '@ferry/store'

const invalid = (reason: string): FerryError => new FerryError('ERR_HOME_CORRUPT', reason)
const check = (pull: unknown): unknown => validateConfig({ version: CONFIG_VERSION, pull }, 'config.json', invalid).pull

describe('config pull', () => {
  it('accepts 1 to 8 connections and keeps unknown keys of the section', () => {
    expect(check({ connections: 1 })).toEqual({ connections: 1 })
    expect(check({ connections: 8, later: 'x' })).toEqual({ connections: 8, later: 'x' })
    expect(check({})).toEqual({})
    expect(validateConfig({ version: CONFIG_VERSION }, 'config.json', invalid).pull).toBeUndefined()
  })

  it('accepts the daemon-wide bounds: daemonInflightMiB 1 to 4096, daemonTasks 1 to 64', () => {
    expect(check({ daemonInflightMiB: 1, daemonTasks: 64 })).toEqual({ daemonInflightMiB: 1, daemonTasks: 64 })
    expect(check({ connections: 4, daemonInflightMiB: 4096, daemonTasks: 1 })).toEqual({ connections: 4, daemonInflightMiB: 4096, daemonTasks: 1 })
  })

  it.each([[{ daemonInflightMiB: 0 }], [{ daemonInflightMiB: 4097 }], [{ daemonInflightMiB: 1.5 }], [{ daemonTasks: 0 }], [{ daemonTasks: 65 }], [{ daemonTasks: '2' }]])('refuses %j', (pull) => {
    expect(() => check(pull)).toThrow(/"pull\.daemon/)
  })

  it.each([[{ connections: 0 }], [{ connections: 9 }], [{ connections: 2.5 }], [{ connections: '4' }], [[]], [4], [null]])('refuses %j', (pull) => {
    expect(() => check(pull)).toThrow(/"pull/)
  })
})
