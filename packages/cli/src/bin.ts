#!/usr/bin/env node
import { main } from './main.js'

const code = await main(process.argv.slice(2))
process.exitCode = code
// Every command releases what it holds before main returns; should anything (a socket libp2p keeps,
// a worker) still hold the event loop, the process ends anyway, within a second, with its exit code.
setTimeout(() => process.exit(code), 1000).unref()
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(code))
