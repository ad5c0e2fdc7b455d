/**
 * The web page (issue 14) in real headless Chromium against real daemons in real processes: log in with the
 * link `ferry web --print` prints, see the token leave the address bar, be refused without the cookie, see
 * the node's PeerId, add a second daemon as a peer and watch it connect (server-sent events), browse that
 * daemon's scans (added with `ferry add`), pull one from the page as a task and watch it succeed (its speed
 * chart and per-peer share), see a file changed at the source failed with what to do and Retry it, Cancel a
 * running task, subscribe to a collection and see a scan added later arrive, and unsubscribe. With
 * FERRY_SCREENSHOTS=1 (`npm run screenshots`) it also writes PNGs into docs/images/.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Ajv } from 'ajv'
import { chromium, type Browser, type Page } from 'playwright-core'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { ferry, initTestHome, json } from '../support/ferry.js'
import { DaemonSet, type Daemon } from '../support/daemon.js'
import { apiOf, type ApiHandle } from '../support/api.js'
import { requireInCi } from '../support/ci.js'
import { bytes as tbytes, cleanup, hashTree, tempDir, writeTree } from '../support/tree.js'

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

  it('`ferry web` without a running daemon says to start one (ERR_NO_DAEMON, exit 8 as the task commands)', async () => {
    const idle = await initTestHome(dir, 'idle')
    const r = await ferry(['web', '--print', '--home', idle.dir])
    expect(r.code).toBe(8)
    expect(r.stderr).toContain('start it with `ferry daemon`')
    expect(r.stderr).not.toMatch(/\n\s+at /) // a message, not a stack trace
    const tasks = await ferry(['tasks', '--home', idle.dir])
    expect(tasks.code).toBe(r.code)
    const j = json(await ferry(['web', '--print', '--json', '--home', idle.dir]))
    expect(j.error.code).toBe('ERR_NO_DAEMON')
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
    expect(t.fromPeers).toEqual({ [b.id]: 650_000 })
    expect(hashTree(dest)).toEqual(hashTree(join(dir, 'scan-017')))
    // the speed over time, drawn from the task:updated events the page received, and each peer's share
    const chart = main.getByTestId('speed-chart')
    expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThanOrEqual(1)
    expect(await chart.locator('svg').getAttribute('aria-label')).toMatch(/^Speed over the last \d+ s: now [\d.]+ [kMG]?B\/s, peak [\d.]+ [kMG]?B\/s$/)
    expect(await chart.locator('polyline').getAttribute('points')).toMatch(/^[\d.]+,[\d.]+( [\d.]+,[\d.]+)+$/)
    const share = main.getByTestId('peer-share').locator(`li[data-peer-id="${b.id}"]`)
    expect(await share.textContent()).toMatch(/bee\s+100%\s+650 kB \(100%\)/)
    await shot('web-task')
    // on a phone's width the page reflows: nothing wider than the screen but the tables' own scrolling
    await page.setViewportSize({ width: 390, height: 800 })
    try {
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390)
      await shot('web-task-narrow', 390)
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 })
    }
  })

  it('shows a file changed at the source with its reason and what to do, and retries the task from the page', async (ctx) => {
    if (browser === undefined) return requireInCi(ctx, `${CHROMIUM} is missing`)
    const src = join(dir, 'scan-019')
    writeTree(src, { 'proj/0001.tif': 120_000, 'flat.h5': 40_000 })
    const added = await ferry(['add', src, '--collection', 'mx-2412', '--name', 'scan-019', '--json', '--home', b.dir])
    expect(added.code, added.stderr).toBe(0)
    writeFileSync(join(src, 'proj/0001.tif'), tbytes(120_000, 'edited after it was added')) // same size, other bytes
    const dest = join(dir, 'incoming', 'scan-019')
    const created = await api.call('POST', '/v1/tasks', { root: json(added).root, destination: dest, sources: ['bee'], label: 'scan-019' })
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    const id: string = created.body.task.taskId
    await page.goto(`${api.url}/#/tasks/${id}`)
    const main = page.locator('main')
    await expect.poll(async () => await main.locator('.condition').first().textContent(), { timeout: 60_000 }).toBe('failed')
    const row = main.locator('table.failed tr[data-path="proj/0001.tif"]')
    await expect.poll(async () => await row.getByTestId('file-what').textContent()).toBe('The file changed at the source after it was added.')
    expect(await row.getByTestId('file-todo').textContent()).toContain('Add the scan again there (ferry add on the source node) and pull its new root')
    expect(await row.textContent()).toContain('ERR_CHANGED_AT_SOURCE')
    expect(await main.locator('table.failed tbody tr').count()).toBe(1) // flat.h5 arrived
    expect(await main.getByTestId('task-reason').textContent()).toContain('What to do:')
    expect(await main.getByRole('button', { name: 'Cancel' }).count()).toBe(0) // an ended task has Retry only
    const before = (await api.call('GET', `/v1/tasks/${id}`)).body
    expect(before).toMatchObject({ condition: 'FAILED', attempts: 1, failed: 1, fileErrors: [expect.objectContaining({ path: 'proj/0001.tif', code: 'ERR_CHANGED_AT_SOURCE' })] })
    expect(hashTree(dest)).toEqual({ 'proj/': 'dir', 'flat.h5': hashTree(src)['flat.h5'] }) // the changed file is not placed
    await shot('web-task-failed')
    await main.getByRole('button', { name: 'Retry' }).focus()
    await page.keyboard.press('Enter') // the keyboard works the buttons
    await expect.poll(async () => (await api.call('GET', `/v1/tasks/${id}`)).body.attempts, { timeout: 60_000 }).toBe(2)
    await expect.poll(async () => await main.locator('.condition').first().textContent(), { timeout: 60_000 }).toBe('failed')
    expect((await api.call('GET', `/v1/tasks/${id}/events`)).body.events.map((e: any) => e.kind)).toContain('retry')
  })

  it('cancels a running task from the page: CANCELLED in the daemon too', async (ctx) => {
    if (browser === undefined) return requireInCi(ctx, `${CHROMIUM} is missing`)
    // a source that never ran and a root nobody holds: the task stays ACTIVE, retrying, until cancelled
    const ghost = await initTestHome(dir, 'ghost')
    const unheld = CID.createV1(0x70, await sha256.digest(randomBytes(32))).toString()
    const created = await api.call('POST', '/v1/tasks', { root: unheld, destination: join(dir, 'incoming', 'never'), sources: [`/ip4/127.0.0.1/tcp/1/p2p/${ghost.id}`], label: 'waits forever' })
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    const id: string = created.body.task.taskId
    await page.goto(`${api.url}/#/tasks/${id}`)
    const main = page.locator('main')
    await expect.poll(async () => await main.locator('.condition').first().textContent(), { timeout: 60_000 }).toBe('active')
    // the node view shows the free space where this node writes now: the task's destination is listed
    await page.goto(`${api.url}/#/`)
    const dests = page.getByTestId('destinations')
    const never = join(dir, 'incoming', 'never')
    await expect.poll(async () => await dests.locator(`li[data-path="${never}"]`).textContent(), { timeout: 20_000 }).toMatch(/\(task\): [\d.]+ [kMGTP]?B free of [\d.]+ [kMGTP]?B/)
    const node = (await api.call('GET', '/v1/node')).body
    expect(node.destinations).toEqual(expect.arrayContaining([expect.objectContaining({ path: never, use: ['task'] })]))
    const listed = node.destinations.find((d: any) => d.path === never)
    expect(listed.total).toBeGreaterThan(0)
    expect(listed.available).toBeLessThanOrEqual(listed.total)
    await page.goto(`${api.url}/#/tasks/${id}`)
    await expect.poll(async () => await main.locator('.condition').first().textContent(), { timeout: 60_000 }).toBe('active')
    await main.getByRole('button', { name: 'Cancel' }).click()
    await expect.poll(async () => await main.locator('.condition').first().textContent(), { timeout: 30_000 }).toBe('cancelled')
    expect((await api.call('GET', `/v1/tasks/${id}`)).body.condition).toBe('CANCELLED')
    const shown = json(await ferry(['task', id, '--json', '--home', a.dir]))
    expect(shown.condition).toBe('CANCELLED')
    expect(await main.getByRole('button', { name: 'Retry' }).isEnabled()).toBe(true)
    expect(await main.getByRole('button', { name: 'Cancel' }).count()).toBe(0)
    // a second cancel, as from a stale page, is answered with the task unchanged
    expect((await api.call('POST', `/v1/tasks/${id}/cancel`)).body.task.condition).toBe('CANCELLED')
  })

  it('subscribes to a collection from Browse, and a scan added later at the source arrives, shown live', async (ctx) => {
    if (browser === undefined) return requireInCi(ctx, `${CHROMIUM} is missing`)
    await page.goto(`${api.url}/#/peers/bee`)
    await page.reload() // the catalog as it is now, with scan-019
    await expect.poll(async () => await page.locator('table.catalog tbody tr').count(), { timeout: 20_000 }).toBe(3)
    await page.getByRole('button', { name: 'Subscribe to a collection…' }).click()
    expect(await page.getByLabel('Collection to subscribe to').inputValue()).toBe('mx-2412')
    const visit = join(dir, 'visit')
    await page.getByLabel('Into').fill(visit)
    await expect.poll(async () => await page.getByTestId('sub-dest-space').textContent()).toMatch(new RegExp(`^[\\d.]+ [kMGTP]?B free on the filesystem of ${visit}$`))
    expect(await page.getByTestId('subscribe-command').textContent()).toBe(`ferry subscribe mx-2412 ${visit} --from bee`)
    await shot('web-subscribe')
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click()
    await expect.poll(() => page.url()).toMatch(/#\/subscriptions$/)
    const rules = (await api.call('GET', '/v1/subscriptions')).body.subscriptions
    expect(rules).toEqual([expect.objectContaining({ collection: 'mx-2412', destination: visit, from: ['bee'] })])
    const rule = page.locator(`article[data-subscription="${rules[0].id as string}"]`)
    // scan-019 changed at the source after it was added: its task fails, and the rule says STUCK, why, and what to do
    await expect.poll(async () => await rule.getByTestId('sub-state').textContent(), { timeout: 60_000 }).toBe('stuck')
    expect(await rule.getByTestId('stuck').textContent()).toContain('scan-019')
    expect(await rule.getByTestId('stuck').textContent()).toContain('Add the scan again there')
    // a scan added at the source now arrives by itself
    const src = join(dir, 'scan-020')
    writeTree(src, { 'proj/0001.tif': 250_000, 'proj/0002.tif': 250_001, 'dark.h5': 9_000 })
    const added = await ferry(['add', src, '--collection', 'mx-2412', '--name', 'scan-020', '--home', b.dir])
    expect(added.code, added.stderr).toBe(0)
    await expect.poll(async () => await rule.textContent(), { timeout: 60_000 }).toContain('4 scans: 3 replicated')
    await shot('web-subscriptions')
    await page.setViewportSize({ width: 390, height: 800 })
    try {
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390)
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 })
    }
    await page.getByRole('link', { name: 'Activity' }).click()
    const row = page.locator('table.tasks tr', { hasText: 'scan-020' })
    await expect.poll(async () => await row.locator('.condition').textContent(), { timeout: 30_000 }).toBe('succeeded')
    expect(hashTree(join(visit, 'scan-020'))).toEqual(hashTree(src))
    const task = (await api.call('GET', '/v1/tasks')).body.tasks.find((t: any) => t.destination === join(visit, 'scan-020'))
    expect(task).toMatchObject({ condition: 'SUCCEEDED', files: 3, bytesTotal: 509_001, bytesTransferred: 509_001 })
    // unsubscribe from the page: the rule is gone from the daemon too
    await page.getByRole('link', { name: 'Subscriptions' }).click()
    await page.getByRole('button', { name: `Unsubscribe from mx-2412 into ${visit}` }).click()
    await expect.poll(async () => await page.getByRole('region', { name: 'Subscriptions' }).textContent()).toContain('No subscriptions yet')
    expect((await api.call('GET', '/v1/subscriptions')).body.subscriptions).toEqual([])
    expect(json(await ferry(['subscriptions', '--json', '--home', a.dir])).subscriptions).toEqual([])
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
