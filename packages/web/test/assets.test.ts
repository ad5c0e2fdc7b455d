/** @ferry/web's daemon side: the built page read into memory by URL path, and a page that was not built. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadWebAssets, webAssetsDir } from '@ferry/web'

describe('loadWebAssets', () => {
  it('serves the built page: index.html as /, the rest under /assets/, with types and ETags', async () => {
    const assets = await loadWebAssets(webAssetsDir())
    expect([...assets.keys()].sort()).toEqual(['/', '/assets/app.css', '/assets/app.js', '/assets/app.js.map'])
    expect(assets.get('/')?.type).toBe('text/html; charset=utf-8')
    expect(assets.get('/')?.body.toString()).toContain('<script type="module" src="/assets/app.js">')
    expect(assets.get('/assets/app.js')?.type).toBe('text/javascript; charset=utf-8')
    expect(assets.get('/assets/app.js')?.body.toString()).not.toMatch(/from\s*["']lit-html["']/) // bundled, no bare imports
    expect(assets.get('/assets/app.css')?.etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/)
  })

  it('is empty for a page that was not built, and skips files of unknown types', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-web-assets-'))
    try {
      expect((await loadWebAssets(join(dir, 'missing'))).size).toBe(0)
      writeFileSync(join(dir, 'index.html'), '<!doctype html>')
      writeFileSync(join(dir, 'notes.txt'), 'not served')
      expect([...(await loadWebAssets(dir)).keys()]).toEqual(['/'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
