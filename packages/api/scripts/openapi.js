#!/usr/bin/env node
// Writes the API's OpenAPI document, generated from the route schemas, to docs/api.openapi.json
// (`npm run -w @ferry/api openapi`, after `npm run build`). A test fails when the file is not current.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { openapiDocument } from '../dist/openapi.js'

const version = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'))).version
const out = fileURLToPath(new URL('../../../docs/api.openapi.json', import.meta.url))
writeFileSync(out, JSON.stringify(await openapiDocument(version), null, 2) + '\n')
process.stdout.write(`wrote ${out}\n`)
