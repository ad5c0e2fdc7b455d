/** Talking to a real daemon's HTTP API in end-to-end tests: its URL and token from the home, SSE reading. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export interface ApiHandle {
  url: string
  token: string
  /** fetch on the API with the token (unless `auth` is given: a header value, or null for none). */
  call: (method: string, path: string, body?: unknown, auth?: string | null) => Promise<{ status: number, headers: Headers, body: any }>
}

/** The API of the daemon running on `home` (from daemon.json and api-token). */
export function apiOf (home: string): ApiHandle {
  const info = JSON.parse(readFileSync(join(home, 'daemon.json'), 'utf8')) as { api: string }
  const token = readFileSync(join(home, 'api-token'), 'utf8').trim()
  return {
    url: info.api,
    token,
    async call (method, path, body, auth) {
      const headers: Record<string, string> = {}
      const header = auth === undefined ? `Bearer ${token}` : auth
      if (header !== null) headers.authorization = header
      let payload: string | undefined
      if (body !== undefined) {
        headers['content-type'] = 'application/json'
        payload = typeof body === 'string' ? body : JSON.stringify(body)
      }
      const res = await fetch(new URL(path, info.api), { method, headers, body: payload, signal: AbortSignal.timeout(15_000) })
      const text = await res.text()
      let parsed: unknown = text
      try {
        parsed = JSON.parse(text)
      } catch {}
      return { status: res.status, headers: res.headers, body: parsed }
    }
  }
}

/** An open GET /v1/events stream: the events parsed so far, and a bounded wait for one. */
export interface EventStream {
  events: Array<{ event: string, id: string, data: any }>
  comments: string[]
  waitFor: (pred: (e: { event: string, data: any }) => boolean, timeoutMs?: number) => Promise<{ event: string, data: any }>
  close: () => void
}

export async function openEvents (api: ApiHandle): Promise<EventStream> {
  const controller = new AbortController()
  const res = await fetch(new URL('/v1/events', api.url), { headers: { authorization: `Bearer ${api.token}` }, signal: controller.signal })
  if (res.status !== 200 || res.body === null) throw new Error(`GET /v1/events answered ${res.status}`)
  const stream: EventStream = {
    events: [],
    comments: [],
    async waitFor (pred, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        const hit = stream.events.find(pred)
        if (hit !== undefined) return hit
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      throw new Error(`no such event within ${timeoutMs} ms; got ${JSON.stringify(stream.events)}`)
    },
    close: () => { controller.abort() }
  }
  void (async () => {
    let buf = ''
    const decoder = new TextDecoder()
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true })
        let end
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end)
          buf = buf.slice(end + 2)
          const fields: Record<string, string> = {}
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) stream.comments.push(line.slice(1).trim())
            else {
              const i = line.indexOf(':')
              fields[line.slice(0, i)] = line.slice(i + 1).trimStart()
            }
          }
          if (fields.event !== undefined) stream.events.push({ event: fields.event, id: fields.id ?? '', data: JSON.parse(fields.data ?? 'null') })
        }
      }
    } catch {
      // aborted by close()
    }
  })()
  return stream
}

/** Polls `fn` until it returns a value that is not undefined (bounded). */
export async function until<T> (fn: () => Promise<T | undefined>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
