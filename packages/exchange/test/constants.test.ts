/**
 * docs/protocol.md lists every limit and default with its value. This keeps the documentation and the
 * constants from drifting apart: every numeric constant exported by @ferry/exchange is in the tables with
 * the same value, and every table row names a real constant.
 */
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import * as exchange from '@ferry/exchange'

const doc = fs.readFileSync(fileURLToPath(new URL('../../../docs/protocol.md', import.meta.url)), 'utf8')
const rows = new Map([...doc.matchAll(/^\| `([A-Z0-9_]+)` \| (\d+) \|/gm)].map((m) => [m[1]!, Number(m[2])]))
const exported = Object.entries(exchange).filter((e): e is [string, number] => /^[A-Z0-9_]+$/.test(e[0]) && typeof e[1] === 'number')

describe('docs/protocol.md and the constants', () => {
  it('documents every exported limit and default with its value', () => {
    expect(exported.length).toBeGreaterThan(15)
    for (const [name, value] of exported) expect({ name, value: rows.get(name) }).toEqual({ name, value })
  })

  it('documents only constants that exist', () => {
    const known = new Map(exported)
    for (const [name, value] of rows) {
      if (name.startsWith('YAMUX_')) continue // the node's connection profile, checked in packages/node
      expect({ name, value: known.get(name) }).toEqual({ name, value })
    }
  })

  it('names the protocols as the code does', () => {
    expect(doc).toContain(`\`${exchange.BLOCKS_PROTOCOL}\``)
    expect(doc).toContain(`\`${exchange.SCAN_PROTOCOL}\``)
    expect(doc).toContain(`\`${exchange.CATALOG_PROTOCOL}\``)
    expect(doc).toContain(`\`${exchange.ANNOUNCE_PROTOCOL}\``)
  })
})
