#!/usr/bin/env node
/**
 * One-way UDP loss count for the emulator's test, run inside a namespace:
 *   udp-count.js recv <addr> <port> <ms>   counts datagrams until none came for <ms>, prints the count
 *   udp-count.js send <addr> <port> <n>    sends n 64-byte datagrams, paced at ~20 per millisecond
 * Pacing keeps the sender's own queue (the TUN device's 1,000 packets) and the receiver's socket buffer from
 * dropping any on a busy machine: only the relay should.
 */
import { createSocket } from 'node:dgram'
import { setTimeout as sleep } from 'node:timers/promises'

const [mode, addr, portS, nS] = process.argv.slice(2)
const port = Number(portS)
const n = Number(nS)

if (mode === 'recv') {
  const sock = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 })
  let count = 0
  let last = 0
  const done = () => { process.stdout.write(`${count}\n`); process.exit(0) }
  sock.on('message', () => { count++; last = performance.now() })
  sock.bind(port, addr, () => process.stdout.write('ready\n'))
  setInterval(() => { if (count > 0 && performance.now() - last > n) done() }, 100)
  setTimeout(done, 20_000) // bounded even if nothing arrives
} else if (mode === 'send') {
  const sock = createSocket('udp4')
  const payload = Buffer.alloc(64)
  for (let i = 0; i < n; i += 20) {
    for (let j = i; j < Math.min(n, i + 20); j++) { payload.writeUInt32BE(j, 0); sock.send(payload, port, addr) }
    await sleep(1)
  }
  await sleep(100)
  sock.close()
} else {
  process.stderr.write('usage: udp-count.js recv|send <addr> <port> <ms|n>\n')
  process.exitCode = 2
}
