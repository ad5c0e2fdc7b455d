/** config.json `api`: the daemon's HTTP API port is validated like every other key. */
import { describe, expect, it } from 'vitest'
import { FerryError } from '@ferry/errors'
import { CONFIG_VERSION, validateConfig } from '@ferry/store'

const invalid = (reason: string): FerryError => new FerryError('ERR_HOME_CORRUPT', reason)
const check = (api: unknown): unknown => validateConfig({ version: CONFIG_VERSION, api }, 'config.json', invalid).api

describe('config api', () => {
  it('accepts a port from 0 to 65535 and keeps unknown keys of the section', () => {
    expect(check({ port: 0 })).toEqual({ port: 0 })
    expect(check({ port: 65535, later: 'x' })).toEqual({ port: 65535, later: 'x' })
    expect(check({})).toEqual({})
    expect(validateConfig({ version: CONFIG_VERSION }, 'config.json', invalid).api).toBeUndefined()
  })

  it.each([[{ port: -1 }], [{ port: 65536 }], [{ port: 1.5 }], [{ port: '8080' }], [[]], ['8080'], [null]])('refuses %j', (api) => {
    expect(() => check(api)).toThrow(/"api/)
  })
})
