/** Counting semaphore with a way to wait until every permit is back. */
export class Semaphore {
  private available: number
  private readonly queue: Array<() => void> = []
  private readonly idle: Array<() => void> = []

  constructor (private readonly permits: number) {
    this.available = permits
  }

  async acquire (): Promise<void> {
    if (this.available > 0) {
      this.available--
      return
    }
    await new Promise<void>((resolve) => { this.queue.push(resolve) })
  }

  release (): void {
    const next = this.queue.shift()
    if (next != null) {
      next()
      return
    }
    this.available++
    if (this.available === this.permits) for (const r of this.idle.splice(0)) r()
  }

  /** Resolves once no permit is held. */
  async drained (): Promise<void> {
    if (this.available === this.permits) return
    await new Promise<void>((resolve) => { this.idle.push(resolve) })
  }
}
