/**
 * The access policy on its own: plain lists in, a verdict out, no home, no catalog, no file. Each row is
 * one case: the lists, who asks for what (and in which collections the catalog would say it is), the
 * verdict, and whether the collections were asked for at all.
 */
import { describe, expect, it } from 'vitest'
import { accessPolicy, notPermittedMessage, notTrustedMessage, type AccessPolicyInit, type AccessSubject, type RefusalKind } from '@ferry/node'

const SELF = 'self-node'

/** alice and bob trusted; 'secret' granted to alice only, 'sealed' to nobody; 'public' has no entry. */
const GRANTED: Omit<AccessPolicyInit, 'self'> = {
  trusted: ['alice', 'bob'],
  grants: new Map([['secret', new Set(['alice'])], ['sealed', new Set<string>()]]),
  open: false
}
const NO_GRANTS: Omit<AccessPolicyInit, 'self'> = { trusted: ['alice', 'bob'], grants: new Map(), open: false }
const OPEN: Omit<AccessPolicyInit, 'self'> = { ...GRANTED, open: true }

type Ask = { kind: 'peer' } | { kind: 'scan' | 'block', name: string, in: Array<string | null> }

interface Case {
  name: string
  lists: Omit<AccessPolicyInit, 'self'>
  peer: string
  ask: Ask
  /** true, or the refusal's kind. */
  expect: true | RefusalKind
  /** Whether the policy asked for the collections. */
  lookedUp: boolean
}

const peerOnly: Ask = { kind: 'peer' }
const scanIn = (...collections: Array<string | null>): Ask => ({ kind: 'scan', name: 'bafyroot', in: collections })
const blockIn = (...collections: Array<string | null>): Ask => ({ kind: 'block', name: 'bafyblock', in: collections })

const CASES: Case[] = [
  // 1. who may ask at all
  { name: 'a trusted peer may ask', lists: GRANTED, peer: 'alice', ask: peerOnly, expect: true, lookedUp: false },
  { name: 'an untrusted peer may not', lists: GRANTED, peer: 'mallory', ask: peerOnly, expect: 'not trusted', lookedUp: false },
  { name: 'an untrusted peer is refused before any lookup', lists: GRANTED, peer: 'mallory', ask: scanIn('public'), expect: 'not trusted', lookedUp: false },
  { name: 'an untrusted peer may ask in open mode', lists: OPEN, peer: 'mallory', ask: peerOnly, expect: true, lookedUp: false },
  { name: 'nobody is trusted: everyone refused', lists: { ...NO_GRANTS, trusted: [] }, peer: 'alice', ask: peerOnly, expect: 'not trusted', lookedUp: false },
  // without grants nothing is looked up
  { name: 'no grants: a block in no scan is served', lists: NO_GRANTS, peer: 'bob', ask: blockIn(), expect: true, lookedUp: false },
  { name: 'no grants: a scan in any collection is served', lists: NO_GRANTS, peer: 'bob', ask: scanIn('secret'), expect: true, lookedUp: false },
  // 2. grants
  { name: 'the grantee reads the granted collection', lists: GRANTED, peer: 'alice', ask: scanIn('secret'), expect: true, lookedUp: true },
  { name: 'another trusted peer may not', lists: GRANTED, peer: 'bob', ask: scanIn('secret'), expect: { collection: 'secret' }, lookedUp: true },
  { name: 'a collection without entry is read by every trusted peer', lists: GRANTED, peer: 'bob', ask: blockIn('public'), expect: true, lookedUp: true },
  { name: 'a scan without collection is read by every trusted peer', lists: GRANTED, peer: 'bob', ask: scanIn(null), expect: true, lookedUp: true },
  { name: 'a collection granted to nobody is read by nobody', lists: GRANTED, peer: 'alice', ask: blockIn('sealed'), expect: { collection: 'sealed' }, lookedUp: true },
  { name: 'grants apply in open mode', lists: OPEN, peer: 'mallory', ask: blockIn('secret'), expect: { collection: 'secret' }, lookedUp: true },
  { name: 'open mode: an untrusted peer reads an open collection', lists: OPEN, peer: 'mallory', ask: blockIn('public'), expect: true, lookedUp: true },
  // 3. a block or scan in several collections, or in none
  { name: 'one readable collection among restricted ones is enough', lists: GRANTED, peer: 'bob', ask: blockIn('secret', 'public'), expect: true, lookedUp: true },
  { name: 'every collection restricted: refused, naming the first', lists: GRANTED, peer: 'bob', ask: blockIn('sealed', 'secret'), expect: { collection: 'sealed' }, lookedUp: true },
  { name: 'a root in no scan is let through (NOT_FOUND follows)', lists: GRANTED, peer: 'bob', ask: scanIn(), expect: true, lookedUp: true },
  { name: 'a block in no scan is refused', lists: GRANTED, peer: 'alice', ask: blockIn(), expect: 'no scan', lookedUp: true },
  { name: 'a block in no scan is served in open mode', lists: OPEN, peer: 'mallory', ask: blockIn(), expect: true, lookedUp: true }
]

describe('AccessPolicy', () => {
  it.each(CASES)('$name', (c) => {
    const policy = accessPolicy({ ...c.lists, self: SELF })
    let lookedUp = false
    const subject: AccessSubject = c.ask.kind === 'peer'
      ? c.ask
      : { kind: c.ask.kind, name: c.ask.name, collections: () => { lookedUp = true; return (c.ask as { in: Array<string | null> }).in } }
    const verdict = policy.decide(c.peer, subject)
    if (c.expect === true) expect(verdict).toEqual({ allow: true })
    else expect(verdict).toMatchObject({ allow: false, kind: c.expect })
    expect(lookedUp).toBe(c.lookedUp)
  })

  it('tells the refused peer what to ask for', () => {
    const policy = accessPolicy({ ...GRANTED, self: SELF })
    expect(policy.decide('mallory', peerOnly)).toEqual({ allow: false, kind: 'not trusted', reason: notTrustedMessage('mallory', SELF) })
    expect(policy.decide('bob', { kind: 'block', name: 'bafyblock', collections: () => ['secret'] }))
      .toEqual({ allow: false, kind: { collection: 'secret' }, reason: notPermittedMessage('block bafyblock', 'secret', 'bob', SELF) })
    expect(policy.decide('alice', { kind: 'block', name: 'bafyblock', collections: () => [] }))
      .toEqual({ allow: false, kind: 'no scan', reason: `not permitted: block bafyblock belongs to no scan on ${SELF}` })
  })

  it('answers mayRead from the grants alone, trust aside', () => {
    const policy = accessPolicy({ ...GRANTED, self: SELF })
    expect(policy.mayRead('alice', 'secret')).toBe(true)
    expect(policy.mayRead('bob', 'secret')).toBe(false)
    expect(policy.mayRead('mallory', 'public')).toBe(true)
    expect(policy.mayRead('alice', 'sealed')).toBe(false)
    expect(policy.mayRead('bob', null)).toBe(true)
  })

  it('hides from a peer exactly the collections whose grants exclude it (what a catalog listing leaves out)', () => {
    const policy = accessPolicy({ ...GRANTED, self: SELF })
    expect(policy.hiddenFrom('alice')).toEqual(['sealed'])
    expect(policy.hiddenFrom('bob').sort()).toEqual(['sealed', 'secret'])
    expect(accessPolicy({ ...NO_GRANTS, self: SELF }).hiddenFrom('bob')).toEqual([])
  })

  it('keeps its own copy of the lists', () => {
    const trusted = ['alice']
    const secret = new Set(['alice'])
    const policy = accessPolicy({ trusted, grants: new Map([['secret', secret]]), open: false, self: SELF })
    trusted.push('bob')
    secret.add('bob')
    expect(policy.decide('bob', peerOnly)).toMatchObject({ allow: false, kind: 'not trusted' })
    expect(policy.mayRead('bob', 'secret')).toBe(false)
  })
})
