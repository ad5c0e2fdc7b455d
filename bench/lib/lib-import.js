#!/usr/bin/env node
// Imports a directory with the library alone (no home, no catalog, no block store) and prints the result
// as JSON like `ferry add --json`. Used by `node bench/run.js --driver lib`.
import { importDirectory } from '../../packages/dag/dist/index.js'

const dir = process.argv[2]
if (dir == null) {
  process.stderr.write('usage: node bench/lib/lib-import.js <dir>\n')
  process.exit(2)
}
const started = performance.now()
const r = await importDirectory(dir)
process.stdout.write(JSON.stringify({
  root: r.root.toString(),
  files: r.files,
  directories: r.directories,
  bytes: r.bytes,
  seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
  skipped: r.skipped
}) + '\n')
process.exitCode = r.skipped.length > 0 ? 3 : 0
