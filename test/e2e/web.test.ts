/**
 * The web page (issue 14) in real headless Chromium against real daemons in real processes: log in with the
 * link `ferry web --print` prints, see the token leave the address bar, be refused without the cookie, see
 * the node's PeerId, add a second daemon as a peer and watch it connect (server-sent events), browse that
 * daemon's scans (added with `ferry add`), pull one from the page as a task and watch it succeed. With
 * FERRY_SCREENSHOTS=1 (`npm run screenshots`) it also writes PNGs into docs/images/.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Ajv } from 'ajv'
import { chromium, type Browser, type Page } from 'playwright-core'
import type { TaskDetail, TaskEvent } from '@ferry/tasks'
import { ferry, initTestHome, json } from '../support/ferry.js'
import { DaemonSet, type Daemon } from '../support/daemon.js'
import { apiOf, type ApiHandle } from '../support/api.js'
import { requireInCi } from '../support/ci.js'
import { cleanup, hashTree, tempDir, writeTree } from '../support/tree.js'

const CHROMIUM = '/usr/bin/chromium'
const IMAGES = fileURLToPath(new URL('../../docs/images/', import.meta.url))
const SHOTS = process.env.FERRY_SCREENSHOTS === '1'

const daemons = new DaemonSet()
let dir: string
let a: { dir: string, id: string }
let b: { dir: string, id: string }
let daemonB: Daemon
let api: ApiHandle
let browser: Browser | undefined
let page: Page

async function shot (name: string, width = 1280): Promise<void> {
  if (!SHOTS) return
  mkdirSync(IMAGES, { recursive: true })
  await page.setViewportSize({ width, height: 800 })
  await page.screenshot({ path: join(IMAGES, `${name}.png`), fullPage: true })
  await page.setViewportSize({ width: 1280, height: 800 })
}

beforeAll(async () => {
  dir = tempDir('ferry-web-')
  a = await initTestHome(dir, 'a')
  b = await initTestHome(dir, 'b')
  writeTree(join(dir, 'scan-017'), { 'proj/0001.tif': 300_000, 'proj/0002.tif': 300_000, 'flat.h5': 50_000 })
  writeTree(join(dir, 'scan-018'), { 'proj/0001.tif': 200_000, 'dark.h5': 10_000 })
  for (const scan of ['scan-017', 'scan-018']) {
    const r = await ferry(['add', join(dir, scan), '--collection', 'mx-2412', '--name', scan, '--home', b.dir])
    expect(r.code, r.stderr).toBe(0)
  }
  expect((await ferry(['trust', a.id, '--home', b.dir])).code).toBe(0)
  await Promise.all([daemons.start(a.dir), daemons.start(b.dir).then((d) => { daemonB = d })])
  api = apiOf(a.dir)
  if (existsSync(CHROMIUM)) {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
    })
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, timezoneId: 'Europe/Paris', locale: 'en-GB' })).newPage()
  }
})

afterAll(async () => {
  await browser?.close()
  await daemons.stopAll()
  cleanup(dir)
})

describe('the web page', () => {
  it('refuses every request without the token or the cookie with the login message', async () => {
    for (const path of ['/', '/assets/app.js', '/anything']) {
      const res = await fetch(new URL(path, api.url))
      expect(res.status, path).toBe(401)
      expect(res.headers.get('content-type')).toMatch(/^text\/html/)
      expect(await res.text()).toContain('ferry web')
    }
    const r = await api.call('GET', '/v1/node', undefined, null)
    expect(r.status).toBe(401)
    expect(r.body.error.message).toContain('ferry web')
    const forged = await fetch(new URL('/v1/peers', api.url), { headers: { cookie: 'ferry_session_1=nope' } })
    expect(forged.status).toBe(401)
  })

  it('`ferry web` without a running daemon says to start one (exit 6)', async () => {
    const idle = await initTestHome(dir, 'idle')
    const r = await ferry(['web', '--print', '--home', idle.dir])
    expect(r.code).toBe(6)
    expect(r.stderr).toContain('start it with `ferry daemon`')
  })

  it('logs in with the link `ferry web --print` prints, once, and drops the token from the location', async (ctx) => {
    if (browser === undefined) return requireInCi(ctx, `${CHROMIUM} is missing (apt-get install chromium)`)
    const r = await ferry(['web', '--print', '--home', a.dir])
    expect(r.code, r.stderr).toBe(0)
    const url = r.stdout.trim()
    expect(url).toMatch(new RegExp(`^${api.url}/login\\?token=[A-Za-z0-9_-]{43}$`))
    expect(url).not.toContain(api.token) // a one-time token, not the API's
    await page.goto(url)
    expect(page.url()).toBe(`${api.url}/`)
    await expect.poll(async () => await page.getByTestId('peer-id').textContent()).toBe(a.id)
    const cookies = await page.context().cookies()
    expect(cookies).toEqual([expect.objectContaining({ httpOnly: true, sameSite: 'Strict' })])
    // the link works once
    const again = await fetch(url, { redirect: 'manual' })
    expect(again.status).toBe(401)
    // the cookie alone does not let another origin change anything
    const cross = await fetch(new URL('/v1/peers/x', api.url), { method: 'DELETE', headers: { cookie: `${cookies[0]!.name}=${cookies[0]!.value}`, origin: 'http://evil.example' } })
    expect(cross.status).toBe(401)
    await shot('web-node')
  })

  it('adds a second daemon as a peer, shows plain errors, and sees it connected live', async (ctx) => {
    if (browser === undefined) return requireInCi(ctx, `${CHROMIUM} is missing`)
    await page.getByLabel('Name', { exact: true }).fill('bee')
    await page.getByLabel('Address').fill('/ip4/127.0.0.1/tcp/9')
    await page.getByRole('button', { name: 'Add peer' }).click()
    await expect.poll(async () => await page.getByTestId('add-error').textContent()).toContain('body.addr: must match')
    await page.getByLabel('Address').fill(daemonB.addr)
    await page.getByLabel('Address').press('Enter') // the keyboard submits the form
    const row = page.locator('tr[data-peer="bee"]')
    await expect.poll(async () => await row.getByTestId('peer-state').textContent(), { timeout: 30_000 }).toBe('connected')
    expect(json(await ferry(['peers', '--home', a.dir, '--json'])).peers.map((p: any) => p.name)).toEqual(['bee'])
    await shot('web-peers')
  })

  it('browses the second daemon\'s collection', async (ctx) => {
    if (browser === undefined) return requireInCi(ctx, `${CHROMIUM} is missing`)
    await page.locator('tr[data-peer="bee"]').getByRole('link', { name: 'Browse' }).click()
    const rows = page.locator('table.catalog tbody tr')
    await expect.poll(async () => await rows.count(), { timeout: 20_000 }).toBe(2)
    const text = await page.locator('table.catalog').textContent()
    expect(text).toContain('scan-017')
    expect(text).toContain('mx-2412')
    expect(text).toContain('650 kB') // 300 000 + 300 000 + 50 000 bytes
    // times in the browser's zone (Europe/Paris here), the UTC instant on hover
    const created = page.locator('table.catalog time').first()
    expect(await created.getAttribute('title')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/)
    const iso = await created.getAttribute('datetime') as string
    expect(await created.textContent()).toContain(new Date(iso).toLocaleTimeString('en-GB', { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit' }))
    await page.getByLabel('Name starts with').fill('scan-018')
    await page.getByRole('button', { name: 'Filter' }).click()
    await expect.poll(async () => await rows.count()).toBe(1)
    await page.getByRole('button', { name: 'Pull…' }).click()
    expect(await page.getByLabel('Label').inputValue()).toBe('scan-018')
    expect(await page.getByRole('button', { name: 'Pull this scan' }).isEnabled()).toBe(true)
    await page.getByLabel('Name starts with').fill('')
    await page.getByRole('button', { name: 'Filter' }).click()
    await expect.poll(async () => await rows.count()).toBe(2)
    await page.locator('tr', { hasText: 'scan-017' }).getByRole('button', { name: 'Pull…' }).click()
    const dest = join(dir, 'incoming', 'scan-017')
    await page.getByLabel('Destination').fill(dest)
    await expect.poll(async () => await page.getByTestId('dest-space').textContent()).toMatch(new RegExp(`^[\\d.]+ [kMGTP]?B free on the filesystem of ${dest}$`))
    expect(await page.getByTestId('pull-command').textContent()).toMatch(new RegExp(`^ferry pull bafy\\w+ ${dest} --from bee$`))
    await shot('web-browse')
    await shot('web-browse-narrow', 390)
  })

  it('answers GET /v1/peers/:name/catalog as documented, page by page', async () => {
    const doc = JSON.parse(readFileSync(new URL('../../docs/api.openapi.json', import.meta.url), 'utf8'))
    const op = doc.paths['/v1/peers/{name}/catalog'].get
    const validate = new Ajv({ strict: false, validateFormats: false }).compile(op.responses['200'].content['application/json'].schema)
    const first = await api.call('GET', '/v1/peers/bee/catalog?limit=1')
    expect(first.status, JSON.stringify(first.body)).toBe(200)
    expect(validate(first.body), JSON.stringify(validate.errors)).toBe(true)
    expect(first.body.rows).toHaveLength(1)
    expect(first.body.next).toEqual(expect.any(String))
    const second = await api.call('GET', `/v1/peers/bee/catalog?limit=1&cursor=${first.body.next as string}`)
    expect(second.body.rows).toHaveLength(1)
    expect(second.body.rows[0].name).not.toBe(first.body.rows[0].name)
    expect(second.body.rows[0]).toMatchObject({ collection: 'mx-2412', held: false, state: 'sealed' })
    expect((await api.call('GET', '/v1/peers/bee/catalog?limit=1001')).status).toBe(400)
    expect((await api.call('GET', '/v1/peers/nobody/catalog')).status).toBe(404)
  })

  it('says in plain words when a peer does not trust this node', async (ctx) => {
    if (browser === undefined) return requireInCi(ctx, `${CHROMIUM} is missing`)
    const c = await initTestHome(dir, 'c')
    const daemonC = await daemons.start(c.dir)
    expect((await api.call('POST', '/v1/peers', { name: 'cee', addr: daemonC.addr })).status).toBe(201)
    await page.goto(`${api.url}/#/peers/cee`)
    await expect.poll(async () => await page.getByTestId('browse-error').textContent(), { timeout: 20_000 }).toContain(`ferry trust ${a.id}`)
    const r = await api.call('GET', '/v1/peers/cee/catalog')
    expect(r.status).toBe(403)
    expect(r.body.error.code).toBe('ERR_PEER_REFUSED')
    await page.goto(`${api.url}/#/`)
    await expect.poll(async () => await page.locator('tr[data-peer="cee"]').getByTestId('peer-state').textContent(), { timeout: 20_000 }).toBe('refused us')
    await page.getByRole('button', { name: 'Remove cee' }).click()
    await expect.poll(async () => await page.locator('tr[data-peer="cee"]').count()).toBe(0)
    expect(json(await ferry(['peers', '--home', a.dir, '--json'])).peers.map((p: any) => p.name)).toEqual(['bee'])
  })

  it('marks a scan this node holds once it was pulled from the command line', async (ctx) => {
    if (browser === undefined) return requireInCi(ctx, `${CHROMIUM} is missing`)
    const row = (await api.call('GET', '/v1/peers/bee/catalog?prefix=scan-018')).body.rows[0]
    const pulled = await ferry(['pull', row.root, join(dir, 'incoming', 'scan-018'), '--from', 'bee', '--home', a.dir])
    expect(pulled.code, pulled.stderr).toBe(0)
    await page.goto(`${api.url}/#/peers/bee`)
    await page.reload()
    const held = page.locator('table.catalog tr', { hasText: 'scan-018' }).getByTestId('held')
    await expect.poll(async () => await held.textContent(), { timeout: 20_000 }).toBe('held here')
    expect(await page.locator('table.catalog tr', { hasText: 'scan-017' }).getByTestId('held').count()).toBe(0)
  })

  it('shows the daemon\'s tasks (its task service runs: none yet here)', async (ctx) => {
    if (browser === undefined) return requireInCi(ctx, `${CHROMIUM} is missing`)
    await page.getByRole('link', { name: 'Activity' }).click()
    await expect.poll(async () => await page.getByRole('region', { name: 'Activity' }).textContent()).toContain('No tasks yet.')
    expect(await page.getByTestId('tasks-unavailable').count()).toBe(0)
    await shot('web-activity')
  })

  it('starts a pull of a scan from the browse view and watches its task succeed live', async (ctx) => {
    if (browser === undefined) return requireInCi(ctx, `${CHROMIUM} is missing`)
    await page.goto(`${api.url}/#/peers/bee`)
    await page.locator('table.catalog tr', { hasText: 'scan-017' }).getByRole('button', { name: 'Pull…' }).click()
    // the API's refusal, in its words
    await page.getByLabel('Destination').fill('incoming/scan-017')
    await page.getByRole('button', { name: 'Pull this scan' }).click()
    await expect.poll(async () => await page.getByTestId('pull-error').textContent()).toContain('body.destination: must match')
    const dest = join(dir, 'incoming', 'scan-017')
    await page.getByLabel('Destination').fill(dest)
    await page.getByLabel('Label').fill('scan-017 from the page')
    await page.getByLabel('Deadline').fill('2030-01-01T12:00') // the browser's zone, Europe/Paris here
    await page.getByRole('button', { name: 'Pull this scan' }).click()
    await expect.poll(() => page.url()).toMatch(/#\/tasks\/[0-9a-f-]{36}$/)
    const id = decodeURIComponent(page.url().split('/').pop() as string)
    const main = page.locator('main')
    await expect.poll(async () => await main.locator('.condition').first().textContent(), { timeout: 30_000 }).toBe('succeeded')
    await expect.poll(async () => await main.textContent()).toContain('650 kB of 650 kB')
    const counts = main.locator('dl.counts')
    expect(await counts.locator('div', { hasText: 'Files' }).locator('dd').textContent()).toBe('3')
    expect(await counts.locator('div', { hasText: 'Succeeded' }).locator('dd').textContent()).toBe('3')
    expect(await main.getByRole('heading', { level: 2 }).textContent()).toBe('scan-017 from the page')
    const t = (await api.call('GET', `/v1/tasks/${id}`)).body
    expect(t).toMatchObject({ condition: 'SUCCEEDED', destination: dest, files: 3, bytesTotal: 650_000, bytesTransferred: 650_000, succeeded: 3, deadline: '2030-01-01T11:00:00.000Z' })
    expect(t.sources).toEqual([expect.stringContaining(b.id)])
    expect(hashTree(dest)).toEqual(hashTree(join(dir, 'scan-017')))
  })

  /**
   * The API has no task routes yet, so this one test answers them in the browser (page.route) with records
   * typed as @ferry/tasks makes them: it checks the activity view's layout, not the daemon. Replace it by a
   * real task once GET /v1/tasks exists.
   */
  it('lays out a task record of @ferry/tasks: list, progress, counters, failed files, event log', async (ctx) => {
    if (browser === undefined) return requireInCi(ctx, `${CHROMIUM} is missing`)
    const t: TaskDetail = {
      taskId: 't-0042',
      label: 'scan-017 to home',
      root: 'bafybeicimw4yh7srn7ejlamygdnymwopeqfqyjjwzvaiigb7m3f3kvawtm',
      sources: [daemonB.addr],
      destination: '/data/incoming/scan-017',
      collection: 'mx-2412',
      condition: 'ACTIVE',
      requested: '2026-12-01T21:00:00.000Z',
      started: '2026-12-01T21:00:01.000Z',
      completed: null,
      deadline: '2026-12-02T09:00:00.000Z',
      settings: {},
      files: 2400,
      directories: 3,
      bytesTotal: 12_400_000_000_000,
      bytesTransferred: 4_960_000_000_000,
      pending: 1398,
      succeeded: 998,
      failed: 1,
      retrying: 3,
      skipped: 0,
      cancelled: 0,
      effectiveSpeed: 1_150_000_000,
      activeMs: 4_313_000,
      eta: '2026-12-01T23:48:00.000Z',
      attempts: 1,
      reason: null,
      lastRun: null,
      updated: '2026-12-01T22:12:00.000Z',
      fileErrors: [{ path: 'proj/1187.tif', code: 'ERR_CHANGED_AT_SOURCE', message: 'changed at the source since it was added: add the scan again there', when: '2026-12-01T21:40:12.000Z', attempts: 2 }],
      openScans: []
    }
    const events: TaskEvent[] = [
      { id: 1, taskId: t.taskId, time: '2026-12-01T21:00:00.000Z', kind: 'queued', message: 'queued', data: null },
      { id: 2, taskId: t.taskId, time: '2026-12-01T21:00:01.000Z', kind: 'started', message: 'pulling from bee', data: null }
    ]
    const reply = (body: unknown) => async (route: import('playwright-core').Route) => { await route.fulfill({ json: body }) }
    await page.route('**/v1/tasks', reply({ tasks: [t] }))
    await page.route('**/v1/tasks/t-0042', reply(t))
    await page.route('**/v1/tasks/t-0042/events', reply({ events }))
    try {
      await page.goto(`${api.url}/#/tasks`)
      await page.reload()
      const row = page.locator('tr[data-task="t-0042"]')
      await expect.poll(async () => await row.textContent()).toContain('scan-017 to home')
      expect(await row.locator('progress').getAttribute('value')).toBe('0.4')
      await row.getByRole('link').click()
      const main = page.locator('main')
      await expect.poll(async () => await main.textContent()).toContain('proj/1187.tif')
      const text = await main.textContent() ?? ''
      for (const words of ['/data/incoming/scan-017', '4.96 TB of 12.4 TB', '1.15 GB/s', 'changed at the source', 'pulling from bee', 'Retrying']) expect(text).toContain(words)
      await shot('web-task')
    } finally {
      await page.unrouteAll()
    }
  })

  it('says so when the session has ended, instead of failing quietly', async (ctx) => {
    if (browser === undefined) return requireInCi(ctx, `${CHROMIUM} is missing`)
    await page.goto(`${api.url}/#/`)
    await expect.poll(async () => await page.getByTestId('peer-id').textContent()).toBe(a.id)
    await page.context().clearCookies() // as after a daemon restart: the cookie no longer opens a session
    await page.getByLabel('Name', { exact: true }).fill('late')
    await page.getByLabel('Address').fill(daemonB.addr)
    await page.getByRole('button', { name: 'Add peer' }).click()
    await expect.poll(async () => await page.getByTestId('logged-out').textContent()).toContain('Run ferry web')
  })
})
