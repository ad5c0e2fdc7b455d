#!/usr/bin/env node
/**
 * Builds the web page into packages/web/dist/web/: type-checks the browser code (tsconfig.app.json), bundles
 * src/app/main.ts with its one dependency (lit-html) into app.js with esbuild, and copies index.html and
 * app.css. Run by the root `npm run build` after `tsc -b`; the daemon serves the result (src/index.ts).
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const PKG = join(dirname(fileURLToPath(import.meta.url)), '..')
const OUT = join(PKG, 'dist', 'web')
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

execFileSync(process.execPath, [tsc, '-p', join(PKG, 'tsconfig.app.json')], { stdio: 'inherit' })
rmSync(OUT, { recursive: true, force: true })
mkdirSync(OUT, { recursive: true })
await build({
  entryPoints: [join(PKG, 'src', 'app', 'main.ts')],
  outfile: join(OUT, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome111', 'firefox113', 'safari16.4'],
  minify: true,
  sourcemap: 'linked',
  logLevel: 'warning'
})
for (const file of ['index.html', 'app.css']) copyFileSync(join(PKG, 'src', 'app', file), join(OUT, file))
process.stdout.write(`built the web page into ${OUT}\n`)
