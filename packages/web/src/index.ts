/**
 * @ferry/web: the daemon's web page (docs/api.md, "The web page"). The page itself is browser code in
 * src/app, bundled by scripts/build.js into dist/web/; this module is the daemon's side: where those files
 * are and their bytes, which the API serves on its own address. Nothing is fetched at run time.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** One file of the page. */
export interface WebAsset {
  body: Buffer
  /** Content-Type. */
  type: string
  /** Strong ETag (a hash of the bytes). */
  etag: string
}

/** The page's files by URL path (`/`, `/assets/app.js`, ...). */
export type WebAssets = ReadonlyMap<string, WebAsset>

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8'
}

/**
 * The directory of the built page: `web/` beside this module, which is packages/web/dist/web in a checkout
 * and packages/cli/bundle/web in the bundled CLI (scripts/bundle.js copies it there).
 */
export function webAssetsDir (): string {
  return fileURLToPath(new URL('./web/', import.meta.url))
}

/**
 * Reads the built page from `dir` into memory: index.html as `/`, everything else as `/assets/<name>`.
 * An empty map if the page was not built (the API then says how to build it).
 */
export async function loadWebAssets (dir: string = webAssetsDir()): Promise<WebAssets> {
  const assets = new Map<string, WebAsset>()
  let names: string[]
  try {
    names = await fs.readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return assets
    throw err
  }
  for (const name of names) {
    const type = TYPES[path.extname(name)]
    if (type === undefined) continue
    const body = await fs.readFile(path.join(dir, name))
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
    assets.set(name === 'index.html' ? '/' : `/assets/${name}`, { body, type, etag })
  }
  return assets
}
