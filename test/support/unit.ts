/** Small pieces shared by the package test suites (exchange, node). */
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
