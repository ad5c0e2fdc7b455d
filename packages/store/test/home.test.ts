import fs from 'node:fs/promises'
import path from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { CONFIG_VERSION, DEFAULT_LISTEN, MIGRATIONS, freeSpace, initHome, openCatalog, openHome, resolveHome } from '@ferry/store'
import { rejectsWith, tempDir } from './helpers.js'

describe('resolveHome', () => {
  it('prefers --home, then FERRY_HOME, then ~/.ferry', () => {
    expect(resolveHome('/x/home', { FERRY_HOME: '/y' })).toBe('/x/home')
    expect(resolveHome(undefined, { FERRY_HOME: '/y/h' })).toBe('/y/h')
    expect(resolveHome('', { FERRY_HOME: '', HOME: '/home/u' })).toBe('/home/u/.ferry')
    expect(resolveHome('~/f', { HOME: '/home/u' })).toBe('/home/u/f')
    expect(resolveHome('rel', {})).toBe(path.resolve('rel'))
    expect(path.isAbsolute(resolveHome(undefined, {}))).toBe(true)
  })
})

describe('initHome / openHome', () => {
  it('round-trips identity, config and permissions', async () => {
    const dir = path.join(await tempDir(), 'nested', 'home')
    const home = await initHome(dir)
    expect(home.dir).toBe(dir)
    expect(home.peerId.toString()).toMatch(/^12D3/)
    expect(home.config).toMatchObject({ version: CONFIG_VERSION, listen: [...DEFAULT_LISTEN], trusted: [] })
    expect(home.catalog.migrated).toEqual(MIGRATIONS.map(m => m.version))
    await home.close()
    await home.close()

    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700)
    expect((await fs.stat(path.join(dir, 'identity.key'))).mode & 0o777).toBe(0o600)
    expect((await fs.stat(path.join(dir, 'blocks'))).isDirectory()).toBe(true)
    expect(JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8')).version).toBe(1)
    expect((await fs.readdir(dir)).filter(n => n.endsWith('.tmp'))).toEqual([])

    const again = await openHome(dir)
    expect(again.peerId.equals(home.peerId)).toBe(true)
    expect(again.privateKey.equals(home.privateKey)).toBe(true)
    expect(again.catalog.migrated).toEqual([])
    expect(again.catalog.schemaVersion).toBe(MIGRATIONS.length)
    expect(again.warnings).toEqual([])
    await again.close()
  })

  it('refuses to init over an existing home, naming its peer', async () => {
    const dir = await tempDir()
    const home = await initHome(dir)
    await home.close()
    const err = await rejectsWith(initHome(dir), 'ERR_HOME_EXISTS')
    expect(err.message).toBe(`Ferry home already exists at ${dir} (peer ${home.peerId.toString()})`)
  })

  it('refuses to init in a non-empty directory that is not a home', async () => {
    const dir = await tempDir()
    await fs.writeFile(path.join(dir, 'data.h5'), 'x')
    await rejectsWith(initHome(dir), 'ERR_INVALID_ARGUMENT')
    expect(await fs.readdir(dir)).toEqual(['data.h5'])
  })

  it('reports a missing home without a stack-trace error', async () => {
    const dir = path.join(await tempDir(), 'nope')
    const err = await rejectsWith(openHome(dir), 'ERR_HOME_NOT_FOUND')
    expect(err.message).toBe(`No Ferry home at ${dir}: run \`ferry init\` first`)
    await rejectsWith(openHome(await tempDir()), 'ERR_HOME_NOT_FOUND')
  })

  it('reports a corrupt config, key or catalog', async () => {
    const dir = await tempDir()
    await (await initHome(dir)).close()
    const configFile = path.join(dir, 'config.json')
    const good = await fs.readFile(configFile, 'utf8')

    await fs.writeFile(configFile, '{ "version": 1, "listen": [')
    expect((await rejectsWith(openHome(dir), 'ERR_HOME_CORRUPT')).message).toContain('not valid JSON')
    await fs.writeFile(configFile, JSON.stringify({ version: 1, trusted: ['not-a-peer'] }))
    expect((await rejectsWith(openHome(dir), 'ERR_HOME_CORRUPT')).message).toContain('not-a-peer')
    await fs.writeFile(configFile, JSON.stringify({ version: 2 }))
    await rejectsWith(openHome(dir), 'ERR_HOME_TOO_NEW')
    await fs.rm(configFile)
    await rejectsWith(openHome(dir), 'ERR_HOME_CORRUPT')
    await fs.writeFile(configFile, good)

    const keyFile = path.join(dir, 'identity.key')
    const key = await fs.readFile(keyFile)
    await fs.writeFile(keyFile, Buffer.from('garbage'))
    await rejectsWith(openHome(dir), 'ERR_HOME_CORRUPT')
    await fs.writeFile(keyFile, key)

    await fs.writeFile(path.join(dir, 'catalog.db'), 'this is not sqlite, not at all, really not'.repeat(50))
    await fs.rm(path.join(dir, 'catalog.db-wal'), { force: true })
    await fs.rm(path.join(dir, 'catalog.db-shm'), { force: true })
    await rejectsWith(openHome(dir), 'ERR_HOME_CORRUPT')
    await fs.rm(path.join(dir, 'catalog.db'))
    await rejectsWith(openHome(dir), 'ERR_HOME_CORRUPT')
  })

  it('saves config atomically, keeping unknown keys and refusing invalid ones', async () => {
    const dir = await tempDir()
    const home = await initHome(dir, { config: { listen: ['/ip4/127.0.0.1/tcp/0'] } })
    expect(home.config.listen).toEqual(['/ip4/127.0.0.1/tcp/0'])
    const other = await initHome(await tempDir())
    await home.saveConfig({ ...home.config, trusted: [other.peerId.toString()], futureKey: { a: 1 } })
    expect(home.config.trusted).toEqual([other.peerId.toString()])
    await rejectsWith(home.saveConfig({ ...home.config, trusted: ['bad'] }), 'ERR_INVALID_ARGUMENT')
    await home.close()
    await other.close()
    const again = await openHome(dir)
    expect(again.config.trusted).toEqual([other.peerId.toString()])
    expect(again.config.futureKey).toEqual({ a: 1 })
    expect((await fs.readdir(dir)).filter(n => n.endsWith('.tmp'))).toEqual([])
    await again.close()
  })

  it('opens read-only without writing', async () => {
    const dir = await tempDir()
    await (await initHome(dir)).close()
    const home = await openHome(dir, { readonly: true })
    expect(home.readonly).toBe(true)
    expect(home.catalog.listScans()).toEqual([])
    expect(() => home.catalog.createScanWriter({ name: 'x', sourcePath: '/x', origin: home.peerId.toString() })).toThrow(/read-only/)
    await rejectsWith(home.saveConfig(home.config), 'ERR_PERMISSION')
    await home.close()
  })

  it('warns when the key is readable by others', async () => {
    const dir = await tempDir()
    await (await initHome(dir)).close()
    await fs.chmod(path.join(dir, 'identity.key'), 0o644)
    const home = await openHome(dir)
    expect(home.warnings.join('\n')).toContain('identity.key')
    await home.close()
  })
})

describe('catalog migrations', () => {
  it('refuses a database newer than the code', async () => {
    const dir = await tempDir()
    await (await initHome(dir)).close()
    const db = new Database(path.join(dir, 'catalog.db'))
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`)
    db.close()
    const err = await rejectsWith(openHome(dir), 'ERR_HOME_TOO_NEW')
    expect(err.message).toContain('upgrade Ferry')
    await rejectsWith(openHome(dir, { readonly: true }), 'ERR_HOME_TOO_NEW')
  })

  it('applies missing steps once, in order, all or nothing', async () => {
    const file = path.join(await tempDir(), 'c.db')
    const steps = [
      { version: 1, description: 'a', up: (db: Database.Database) => { db.exec('CREATE TABLE a (x)') } },
      { version: 2, description: 'b', up: (db: Database.Database) => { db.exec('CREATE TABLE b (x)') } }
    ]
    const c1 = openCatalog(file, { migrations: steps.slice(0, 1) })
    expect(c1.migrated).toEqual([1])
    c1.close()
    const broken = [...steps, { version: 3, description: 'fails', up: (db: Database.Database) => { db.exec('CREATE TABLE c (x); SELECT * FROM missing') } }]
    expect(() => openCatalog(file, { migrations: broken })).toThrow()
    const db = new Database(file)
    expect(db.pragma('user_version', { simple: true })).toBe(1)
    expect(db.prepare('SELECT name FROM sqlite_master WHERE type = \'table\' ORDER BY name').all()).toEqual([{ name: 'a' }])
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    db.close()
    const c2 = openCatalog(file, { migrations: steps })
    expect(c2.migrated).toEqual([2])
    c2.close()
    const c3 = openCatalog(file, { migrations: steps })
    expect(c3.migrated).toEqual([])
    expect(c3.schemaVersion).toBe(2)
    c3.close()
  })
})

describe('freeSpace', () => {
  it('measures the filesystem of a path or of its nearest existing parent', async () => {
    const dir = await tempDir()
    const s = await freeSpace(dir)
    expect(s.total).toBeGreaterThan(0)
    expect(s.available).toBeGreaterThanOrEqual(0)
    expect(s.available).toBeLessThanOrEqual(s.total)
    const deeper = await freeSpace(path.join(dir, 'not', 'yet'))
    expect(deeper.total).toBe(s.total)
  })
})
