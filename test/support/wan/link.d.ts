/** Types of link.js (the WAN emulator harness); see there. */
export interface LinkSpec {
  a: string
  b: string
  /** round-trip time in ms, half each way */
  rttMs: number
  /** Bernoulli loss probability per packet, each direction */
  loss?: number
  /** bits per second, each direction; 0 or absent: unlimited */
  rateBps?: number
  mtu?: number
  queueBytes?: number
  seed?: number
}
export interface DirectionStats { rx: number, tx: number, lost: number, queueDrops: number, bytes: number, maxQueueBytes: number }
export interface LinkStats { aToB: DirectionStats, bToA: DirectionStats }
export interface Wan {
  links: LinkSpec[]
  cc: string
  ns: (host: string) => string
  addr: (host: string, link: number) => string
  wrap: (host: string, cmd: string, args?: string[]) => [string, string[]]
  stop: () => Promise<Array<LinkStats | null>>
}
export const PREFIX: string
export const DEFAULT_CC: string
export const TCP_MEM: { rmem: string, wmem: string }
export function unsupportedReason (): string | null
export function allowCongestionControl (cc: string): void
export function buildRelay (): string
export function cleanupLeftovers (opts?: { all?: boolean }): void
export function createWan (opts: { hosts: string[], links: LinkSpec[], maxSeconds?: number, tcpMem?: { rmem: string, wmem: string }, cc?: string }): Promise<Wan>
