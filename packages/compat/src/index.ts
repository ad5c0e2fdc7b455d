/**
 * Shims for Node.js 20, in one place. Import this module first in every entry point (CLI, daemon, tests that
 * start libp2p) before any dependency is loaded.
 *
 * - `Promise.withResolvers` (ES2024): libp2p 3 and its Noise handshake call it; Node 22 has it natively.
 *   Drop this shim when Ferry requires Node >= 22.
 *
 * The other Node 20 accommodation cannot live in code: the root package.json's `overrides` pins p-retry to
 * 7.1.1 (libp2p 3 asks for p-retry 8, which requires Node 22; its API is the same). Drop it with this file.
 */
interface Resolvers<T> {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

const P = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> }
if (typeof P.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> (): Resolvers<T> {
      let resolve!: Resolvers<T>['resolve']
      let reject!: Resolvers<T>['reject']
      const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}

export {}
