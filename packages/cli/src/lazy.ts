/**
 * @ferry/node loads libp2p, which costs a few hundred milliseconds at start-up. Commands import it through
 * this function, only when they run, so every other command (and a pull that needs no peer) starts fast.
 */
export async function nodeApi (): Promise<typeof import('@ferry/node')> {
  return await import('@ferry/node')
}
