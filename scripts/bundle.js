#!/usr/bin/env node
/**
 * Bundles the compiled CLI (packages/cli/dist) into packages/cli/bundle/: ferry.js and the three worker
 * scripts it starts, each one file. The `ferry` launcher (packages/cli/bin/ferry) runs the bundle.
 *
 * Why: Node 20's ESM loader resolves, reads and compiles every module file on its own; the CLI and its
 * dependencies are several hundred files, which cost ~0.3 s before any command ran (`ferry --version` took
 * 0.40 s against 0.11 s for bare `node`). One file cuts that by ~0.12 s for every command, which is most
 * of a no-op pull. Drop this when Node's module compile cache (22.1+) makes the unbundled start as fast.
 *
 * Code that only some commands load (`import()` in packages/cli/src/lazy.ts: libp2p, the daemon's HTTP API
 * with Fastify) is split into chunk-*.js files beside ferry.js (esbuild `splitting`): `ferry --help` loads about
 * 0.7 MB of the 4 MB; in one file, the API alone would have added ~0.1 s to every command.
 *
 * The workers keep their file names next to ferry.js: the pools find them with
 * `new URL('./<name>-worker.js', import.meta.url)`, which then points into this directory. better-sqlite3
 * stays outside (a native addon), resolved from node_modules as before. The web page's files
 * (packages/web/dist/web, built before this script) are copied to web/ beside ferry.js, where @ferry/web
 * finds them (`new URL('./web/', import.meta.url)`).
 */
import { cpSync, writeFileSync, mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..')
const OUT = join(REPO, 'packages', 'cli', 'bundle')
const ENTRIES = {
  ferry: 'packages/cli/dist/bin.js',
  'hash-worker': 'packages/dag/dist/import/hash-worker.js',
  'verify-worker': 'packages/exchange/dist/verify-worker.js',
  'leaf-worker': 'packages/node/dist/leaf-worker.js'
}

rmSync(OUT, { recursive: true, force: true })
mkdirSync(OUT, { recursive: true })
// ESM output: some dependencies are CommonJS and call require() for Node built-ins. The version check runs
// before any SQLite database is opened (better-sqlite3 13 loads on Node 20 but crashes there when it opens one).
// eslint-disable-next-line no-template-curly-in-string -- this is code for the bundle's banner, not a template here
const nodeCheck = "if (Number(process.versions.node.split('.')[0]) < 22) { process.stderr.write(`ferry: needs Node.js 22 or later, this is ${process.version}; in the Ferry checkout, npm ci brings Node 24 (node_modules/.bin/node), which the ferry launcher uses\\n`); process.exit(1) }"
const banner = "import { createRequire as __ferryCreateRequire } from 'node:module'; const require = __ferryCreateRequire(import.meta.url); " + nodeCheck
const result = await build({
  entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, join(REPO, file)])),
  outdir: OUT,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22', // the oldest Node Ferry supports (engines); npm scripts run it on Node 24 (the root `node` devDependency)
  external: ['better-sqlite3'],
  banner: { js: banner },
  sourcemap: 'linked',
  logLevel: 'warning',
  metafile: true,
  // lazily imported code in chunk-*.js beside ferry.js (see above); the worker URLs stay valid in that directory
  splitting: true,
  chunkNames: 'chunk-[hash]'
})
cpSync(join(REPO, 'packages', 'web', 'dist', 'web'), join(OUT, 'web'), { recursive: true })
writeFileSync(join(OUT, 'package.json'), JSON.stringify({ type: 'module', private: true }, null, 2) + '\n')
const bytes = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.js')).reduce((n, [, o]) => n + o.bytes, 0)
process.stdout.write(`bundled the CLI into ${OUT} (${(bytes / 1e6).toFixed(1)} MB of JS)\n`)
