/**
 * Subscriptions in this process, on a real catalog with fake sources: the naming rule, source resolution,
 * the catch-up contract (subscribe, then list; dedupe by root), reconnection with backoff, persistence
 * across a restart, states, and unsubscribe.
 */
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { FerryError } from '@ferry/errors'
import { openCatalog, type Catalog, type PeerEntry } from '@ferry/store'
import {
  createSubscriptionService, queueTask, resolveSources, scanDirName, shortRoot, type CatalogPeer, type CatalogRowLike, type SubscriptionService
} from '@ferry/tasks'
import { cleanup, tempDir } from '../../../test/support/tree.js'
import { waitFor } from '../../../test/support/unit.js'

const P1 = '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf'
const P2 = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'

async function cid (seed: string): Promise<string> {
  return CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode(seed))).toString()
}

/** A fake source: a catalog (rows), announcements pushed with `announce`, failures on demand. */
class FakeSource {
  rows: CatalogRowLike[] = []
  dials = 0
  failDials = 0
  private listeners = new Set<(row: CatalogRowLike) => void>()
  private breakers = new Set<(err: Error) => void>()

  announce (row: CatalogRowLike): void {
    this.rows.push(row)
    for (const l of this.listeners) l(row)
  }

  /** Ends every open announcement stream with a network error. */
  drop (): void { for (const b of this.breakers) b(new FerryError('ERR_NETWORK', 'link dropped')) }

  peer (): CatalogPeer {
    const self = this
    return {
      async * listCatalog (options) {
        for (let i = 0; i < self.rows.length; i += 2) yield { rows: self.rows.slice(i, i + 2).filter((r) => r.collection === options.collection) }
      },
      async * watchAnnouncements (options) {
        const queue: CatalogRowLike[] = []
        let wake: (() => void) | undefined
        let broken: Error | undefined
        const l = (row: CatalogRowLike): void => { if (row.collection === options.collection) queue.push(row); wake?.() }
        const b = (err: Error): void => { broken = err; wake?.() }
        self.listeners.add(l)
        self.breakers.add(b)
        try {
          options.onSubscribed?.()
          for (;;) {
            if (options.signal?.aborted === true) throw new FerryError('ERR_ABORTED', 'aborted')
            if (broken !== undefined) throw broken
            const next = queue.shift()
            if (next !== undefined) yield next
            else await new Promise<void>((resolve) => { wake = resolve; options.signal?.addEventListener('abort', () => { resolve() }, { once: true }) })
          }
        } finally {
          self.listeners.delete(l)
          self.breakers.delete(b)
        }
      },
      close: async () => {}
    }
  }
}

describe('the naming rule', () => {
  it('uses the name, then name~<short root> for another scan of that name, and never an unsafe segment', () => {
    const taken = new Set<string>()
    const pick = (name: string, root: string): string => {
      const d = scanDirName(name, root, (x) => taken.has(x))
      taken.add(d)
      return d
    }
    expect(pick('scan_0007', 'bafkreiaaaaaaaaaaaaaa11111111')).toBe('scan_0007')
    expect(pick('scan_0007', 'bafkreibbbbbbbbbbbbbb22222222')).toBe('scan_0007~22222222')
    expect(shortRoot('bafkreibbbbbbbbbbbbbb22222222')).toBe('22222222')
    expect(pick('scan_0007', 'bafkreicccccccccccccc22222222')).toBe('scan_0007~bafkreicccccccccccccc22222222')
    for (const bad of ['', '.', '..', 'a/b', '../../etc', 'x\0y', 'n'.repeat(300)]) expect(pick(bad, `bafkrei${bad.length}zzzzzzzz`)).toMatch(/^scan~/)
  })
})

describe('sources', () => {
  const book: PeerEntry[] = [
    { name: 'esrf', id: P1, addrs: ['/ip4/192.0.2.1/tcp/4001', '/ip4/192.0.2.2/tcp/4001'] },
    { id: P2, addrs: ['/ip4/192.0.2.9/tcp/4001'] } // trusted, not named
  ]
  it('resolves names and multiaddrs, merges addresses of one peer, and takes every named peer when none is given', () => {
    const all = resolveSources(book, [])
    expect(all.peers).toEqual([{ id: P1, name: 'esrf', addrs: ['/ip4/192.0.2.1/tcp/4001/p2p/' + P1, '/ip4/192.0.2.2/tcp/4001/p2p/' + P1] }])
    const mixed = resolveSources(book, ['esrf', `/ip4/192.0.2.3/tcp/1/p2p/${P1}`, `/ip4/192.0.2.9/tcp/4001/p2p/${P2}`, 'nobody'])
    expect(mixed.peers.map((p) => [p.id, p.addrs.length])).toEqual([[P1, 3], [P2, 1]])
    expect(mixed.unresolved.map((u) => u.from)).toEqual(['nobody'])
  })
})

describe('the subscription service', () => {
  const open: Array<{ s?: SubscriptionService, c?: Catalog, dir: string }> = []
  afterEach(async () => {
    for (const o of open.splice(0)) {
      await o.s?.close()
      o.c?.close()
      cleanup(o.dir)
    }
  })

  const setup = (sources: Record<string, FakeSource>, book: PeerEntry[]): { dir: string, catalog: Catalog, start: () => SubscriptionService } => {
    const dir = tempDir('ferry-subs-')
    const catalog = openCatalog(join(dir, 'catalog.db'))
    const slot: { s?: SubscriptionService, c?: Catalog, dir: string } = { c: catalog, dir }
    open.push(slot)
    const start = (): SubscriptionService => {
      const s = createSubscriptionService({
        catalog,
        tasks: { create: (r) => queueTask(catalog.tasks, r), cancel: (id) => { catalog.tasks.update(id, { condition: 'CANCELLED' }); return catalog.tasks.get(id)! } },
        dial: async (addr) => {
          const id = addr.split('/p2p/')[1] ?? ''
          const src = sources[id]
          if (src === undefined) throw new FerryError('ERR_NETWORK', `no peer at ${addr}`)
          src.dials++
          if (src.failDials > 0) {
            src.failDials--
            throw new FerryError('ERR_NETWORK', 'connection refused')
          }
          return src.peer()
        },
        peers: async () => book,
        self: 'SELF',
        pollMs: 60_000,
        retryInitialMs: 20,
        retryMaxMs: 100
      })
      slot.s = s
      return s
    }
    return { dir, catalog, start }
  }

  it('queues the scans there, then announced ones, each once, two of one name apart; resumes after a restart without re-queuing', async () => {
    const src = new FakeSource()
    const roots = await Promise.all(['a', 'b', 'c', 'd', 'x'].map(cid))
    src.rows = [
      { root: roots[0]!, collection: 'visit', name: 'scan_a', state: 'sealed' },
      { root: roots[4]!, collection: 'other', name: 'scan_x', state: 'sealed' },
      { root: roots[1]!, collection: 'visit', name: 'scan_b', state: 'sealed' }
    ]
    const { catalog, start } = setup({ [P1]: src }, [{ name: 'esrf', id: P1, addrs: ['/ip4/192.0.2.1/tcp/4001'] }])
    let s = start()
    const { subscription, existing } = await s.create({ collection: 'visit', destination: '/data/visit' })
    expect(existing).toBe(false)
    const dests = (): string[] => catalog.tasks.list().map((t) => t.destination).sort()
    await waitFor(() => dests().length === 2, { what: 'the two listed scans queued' })
    expect(dests()).toEqual(['/data/visit/scan_a', '/data/visit/scan_b'])
    src.announce({ root: roots[2]!, collection: 'visit', name: 'scan_a', state: 'sealed' }) // same name, another root
    src.announce({ root: roots[0]!, collection: 'visit', name: 'scan_a', state: 'sealed' }) // again: deduped
    src.announce({ root: roots[3]!, collection: 'visit', name: 'scan_d', state: 'open' }) // not sealed: skipped
    await waitFor(() => dests().length === 3, { what: 'the announced scan queued' })
    expect(dests()).toContain(`/data/visit/scan_a~${shortRoot(roots[2]!)}`)
    expect(s.get(subscription.id)).toMatchObject({ state: 'REPLICATING', counts: { scans: 3, queued: 3 }, sources: [{ peer: P1, name: 'esrf', state: 'watching' }] })

    // a restart lists again: nothing is queued twice
    await s.close()
    s = start()
    await waitFor(() => s.get(subscription.id)?.sources[0]?.state === 'watching', { what: 'the restarted watcher' })
    expect(catalog.tasks.list()).toHaveLength(3)

    // states: OK when every task succeeded, STUCK with the reason when one failed
    for (const t of catalog.tasks.list()) catalog.tasks.update(t.taskId, { condition: 'SUCCEEDED' })
    expect(s.get(subscription.id)).toMatchObject({ state: 'OK', counts: { succeeded: 3 } })
    const one = catalog.tasks.list()[0]!
    catalog.tasks.update(one.taskId, { condition: 'FAILED', reason: { code: 'ERR_NO_SPACE', message: 'disk full' } })
    const stuck = s.get(subscription.id)
    expect(stuck).toMatchObject({ state: 'STUCK', stuck: [{ taskId: one.taskId, reason: { code: 'ERR_NO_SPACE' } }] })
    expect(stuck?.reason).toContain('disk full')

    // unsubscribe: nothing new is queued
    s.remove(subscription.id)
    src.announce({ root: await cid('later'), collection: 'visit', name: 'later', state: 'sealed' })
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(catalog.tasks.list()).toHaveLength(3)
    expect(s.list()).toEqual([])
  })

  it('reconnects with backoff after a dropped link and catches up by listing', async () => {
    const src = new FakeSource()
    src.failDials = 2
    const { catalog, start } = setup({ [P1]: src }, [])
    const s = start()
    const { subscription } = await s.create({ collection: 'visit', destination: '/d', from: [`/ip4/192.0.2.1/tcp/1/p2p/${P1}`] })
    await waitFor(() => s.get(subscription.id)?.sources[0]?.state === 'watching', { what: 'a session after two failed dials' })
    expect(src.dials).toBe(3)
    expect(s.get(subscription.id)).toMatchObject({ state: 'WAITING' })
    expect(s.get(subscription.id)?.reason).toContain('ferry grant visit SELF')
    src.failDials = 1
    src.drop()
    src.rows.push({ root: await cid('missed'), collection: 'visit', name: 'missed', state: 'sealed' }) // completed while away: not announced
    await waitFor(() => catalog.tasks.list().length === 1, { what: 'the missed scan, from the listing after reconnecting' })
    expect(src.dials).toBe(5)
  })

  it('creates the task of a scan whose name was reserved when the daemon died before queuing it', async () => {
    const src = new FakeSource()
    const root = await cid('reserved')
    src.rows = [{ root, collection: 'visit', name: 'scan_r', state: 'sealed' }]
    const { catalog, start } = setup({ [P1]: src }, [{ name: 'esrf', id: P1, addrs: ['/ip4/192.0.2.1/tcp/4001'] }])
    catalog.subscriptions.create({ id: 'abcdef01', collection: 'visit', destination: '/d', from: [] })
    catalog.subscriptions.reserve('abcdef01', { root, name: 'scan_r', peer: P1 }, () => 'scan_r') // then the crash
    const s = start()
    await waitFor(() => catalog.tasks.list().length === 1, { what: 'the missing task' })
    expect(catalog.tasks.list()[0]).toMatchObject({ root, destination: '/d/scan_r', collection: 'visit', sources: [`/ip4/192.0.2.1/tcp/4001/p2p/${P1}`] })
    expect(catalog.subscriptions.withoutTask('abcdef01')).toEqual([])
    expect(s.get('abcdef01')?.counts).toMatchObject({ scans: 1, queued: 1 })
  })

  it('refuses a --from name not in the address book, a relative destination, and a conflicting rule', async () => {
    const { start } = setup({}, [])
    const s = start()
    await expect(s.create({ collection: 'v', destination: '/d', from: ['nobody'] })).rejects.toMatchObject({ code: 'ERR_USAGE' })
    await expect(s.create({ collection: 'v', destination: 'rel' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    const first = await s.create({ collection: 'v', destination: '/d', from: [`/ip4/192.0.2.1/tcp/1/p2p/${P1}`] })
    expect((await s.create({ collection: 'v', destination: '/d', from: [`/ip4/192.0.2.1/tcp/1/p2p/${P1}`] })).subscription.id).toBe(first.subscription.id)
    await expect(s.create({ collection: 'v', destination: '/d' })).rejects.toMatchObject({ code: 'ERR_CONFLICT' })
    await waitFor(() => s.get(first.subscription.id)?.sources[0]?.state === 'retrying', { what: 'the unreachable source to say so' })
    expect(s.get(first.subscription.id)).toMatchObject({ state: 'STUCK', sources: [{ error: { code: 'ERR_NETWORK' } }] })
  })
})
