/** Small pieces shared by the test suites (the packages' and the end-to-end ones). */
import { expect } from 'vitest'
import { FerryError } from '@ferry/errors'

/** Deterministic bytes from `seed` (a small linear congruential generator): the same on every run. */
export function pattern (size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size)
  let x = seed * 2654435761 >>> 0
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    b[i] = x >>> 24
  }
  return b
}

/** The FerryError `p` rejects with; fails the test if `p` resolves or rejects with anything else. */
export async function rejection (p: Promise<unknown>): Promise<FerryError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError)
    return err as FerryError
  }
  throw new Error('expected a rejection')
}

/**
 * Waits until `cond` holds, polling every `intervalMs` (default 10), and fails with `what` if it still does
 * not after `timeoutMs` (default 5000): synchronisation on the condition itself, never on a guessed sleep.
 */
export async function waitFor (cond: () => boolean | Promise<boolean>, { timeoutMs = 5000, intervalMs = 10, what }: { timeoutMs?: number, intervalMs?: number, what: string }): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/**
 * Splits what arrived on a stream into its length-prefixed frames (varint length, then payload); fails the
 * test if the bytes do not end on a frame boundary (whole frames only).
 */
export function frames (bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  let i = 0
  while (i < bytes.length) {
    let len = 0
    let shift = 0
    for (;;) {
      const b = bytes[i++] as number
      len += (b & 0x7f) * 2 ** shift
      shift += 7
      if ((b & 0x80) === 0) break
    }
    out.push(bytes.subarray(i, i + len))
    i += len
  }
  expect(i).toBe(bytes.length)
  return out
}
