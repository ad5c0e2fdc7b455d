#!/usr/bin/env node
/**
 * One-way UDP loss count for the emulator's test, run inside a namespace:
 *   udp-count.js recv <addr> <port> <ms>   counts datagrams for <ms> after the first, prints the count
 *   udp-count.js send <addr> <port> <n>    sends n 64-byte datagrams, paced at ~50 per millisecond
 * Pacing keeps the sender's own queue (the TUN device's 1,000 packets) from dropping any: only the relay may.
 */
import { createSocket } from 'node:dgram'
import { setTimeout as sleep } from 'node:timers/promises'

const [mode, addr, portS, nS] = process.argv.slice(2)
const port = Number(portS)
const n = Number(nS)

if (mode === 'recv') {
  const sock = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 })
  let count = 0
  let timer = null
  const done = () => { process.stdout.write(`${count}\n`); sock.close() }
  sock.on('message', () => {
    count++
    if (timer == null) timer = setTimeout(done, n)
  })
  sock.bind(port, addr, () => process.stdout.write('ready\n'))
  setTimeout(done, n + 20_000).unref() // bounded even if nothing arrives
} else if (mode === 'send') {
  const sock = createSocket('udp4')
  const payload = Buffer.alloc(64)
  for (let i = 0; i < n; i += 50) {
    for (let j = i; j < Math.min(n, i + 50); j++) { payload.writeUInt32BE(j, 0); sock.send(payload, port, addr) }
    await sleep(1)
  }
  await sleep(100)
  sock.close()
} else {
  process.stderr.write('usage: udp-count.js recv|send <addr> <port> <ms|n>\n')
  process.exitCode = 2
}
