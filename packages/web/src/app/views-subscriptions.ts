/**
 * Subscriptions: the browse view's form that subscribes to a whole collection of the browsed peer, and the
 * Subscriptions view, each rule with its state (OK, REPLICATING, STUCK with reasons, WAITING), its sources,
 * its open scans when the API gives them, and Unsubscribe.
 */
import { html, nothing, type TemplateResult } from 'lit-html'
import { adviceFor } from './advice.js'
import type { OpenScan } from './figures.js'
import { formatBytes, formatCount, when } from './format.js'
import type { BrowseState, Store } from './store.js'
import type { NodeInfo, Subscription, SubscriptionSource } from './types.js'
import { openScansTable } from './views-figures.js'

function spaceHint (dest: string, space: { available: number, path: string } | { error: string } | undefined, node: NodeInfo | undefined): string {
  if (space !== undefined) return 'error' in space ? space.error : `${formatBytes(space.available)} free on the filesystem of ${space.path}`
  if (dest !== '' && !dest.startsWith('/')) return 'an absolute path, such as /data/visits/…'
  return node === undefined ? '' : `${formatBytes(node.space.available)} free on the home's filesystem (${node.space.path})`
}

/** The collections on the page shown (for the form's suggestions), the filter's first. */
function collectionsOf (b: BrowseState): string[] {
  const seen = new Set<string>()
  if (b.collection !== '') seen.add(b.collection)
  for (const r of b.page?.rows ?? []) if (r.collection !== null) seen.add(r.collection)
  return [...seen]
}

/** The browse view's "Subscribe to a collection": a button, then the form (POST /v1/subscriptions). */
export function subscribeForm (store: Store, b: BrowseState, node: NodeInfo | undefined): TemplateResult {
  const f = store.state.subscribe
  const collections = collectionsOf(b)
  if (f === undefined) {
    return html`<p><button type="button" class="small" ?disabled=${collections.length === 0} @click=${() => { store.openSubscribe(collections[0] ?? '') }}>Subscribe to a collection…</button>
      <span class="muted">every scan of it on ${b.peer}, those there now and each one added later</span></p>`
  }
  const submit = (e: SubmitEvent): void => {
    e.preventDefault()
    const data = new FormData(e.currentTarget as HTMLFormElement)
    const field = (name: string): string => String(data.get(name) ?? '').trim()
    void store.startSubscription({ collection: field('collection'), destination: field('destination'), peer: b.peer, onDone: field('onDone') })
  }
  const dest = f.dest === '' ? '<destination>' : f.dest
  return html`<form class="card pull" aria-labelledby="sub-h" @submit=${submit}>
    <h3 id="sub-h">Subscribe to a collection of ${b.peer}</h3>
    <div class="row">
      <div class="field"><label for="s-collection">Collection to subscribe to</label><input id="s-collection" name="collection" required list="s-collections" .value=${f.collection} autocomplete="off">
        <datalist id="s-collections">${collections.map((c) => html`<option value=${c}></option>`)}</datalist></div>
      <div class="field wide"><label for="s-dest">Into</label><input id="s-dest" name="destination" required placeholder="/data/visits/…" .value=${f.dest}
        autocomplete="off" spellcheck="false" aria-describedby="s-dest-hint s-dest-space" @input=${(e: Event) => { store.subscribeDestination((e.currentTarget as HTMLInputElement).value.trim()) }}>
        <small id="s-dest-hint" class="muted">each scan goes into its own directory here, named after the scan</small>
        <small id="s-dest-space" data-testid="sub-dest-space" aria-live="polite">${spaceHint(f.dest, f.destSpace, node)}</small></div>
      <div class="field wide"><label for="s-ondone">When each scan is done, run</label><input id="s-ondone" name="onDone" placeholder="optional: ./notify.sh" autocomplete="off" spellcheck="false"
        aria-describedby="s-ondone-hint"><small id="s-ondone-hint" class="muted">a shell command on this node (FERRY_* variables describe the task)</small></div>
      <div class="field"><button type="submit" ?disabled=${f.starting}>${f.starting ? 'Subscribing…' : 'Subscribe'}</button></div>
      <div class="field"><button type="button" class="small" @click=${() => { store.openSubscribe(undefined) }}>Close</button></div>
    </div>
    ${f.error === undefined ? nothing : html`<p class="error" role="alert" data-testid="subscribe-error">Not subscribed: ${f.error}</p>`}
    <p class="muted">From a shell on this node: <code class="cmd" data-testid="subscribe-command">ferry subscribe ${f.collection === '' ? '<collection>' : f.collection} ${dest} --from ${b.peer}</code></p>
  </form>`
}

const STATE_WORDS: Record<Subscription['state'], string> = {
  OK: 'OK',
  REPLICATING: 'replicating',
  STUCK: 'stuck',
  WAITING: 'waiting'
}

function source (s: SubscriptionSource): TemplateResult {
  const who = s.name ?? s.peer ?? 'unknown'
  return html`<li><strong>${who}</strong> <span class="muted">${s.state} since ${when(s.since)}${s.lastListed === null ? '' : `, ${s.listed} ${s.listed === 1 ? 'scan' : 'scans'} listed`}</span>
    ${s.error === null ? nothing : html`<div class="reason">${s.error.message}${s.retryAt === null ? '' : html`; next try ${when(s.retryAt)}`}</div>`}</li>`
}

function stuckList (r: Subscription): TemplateResult | typeof nothing {
  if (r.stuck.length === 0) return nothing
  return html`<h4>Stuck scans</h4><ul class="failed" data-testid="stuck">${r.stuck.map((s) => {
    const a = s.reason === null ? undefined : adviceFor(s.reason.code, s.reason.message)
    return html`<li><strong>${s.name}</strong>: ${s.condition.toLowerCase()}${s.reason === null ? '' : `: ${s.reason.message}`}
      ${a === undefined ? nothing : html`<div class="todo"><strong>What to do:</strong> ${a.todo}</div>`}
      ${s.taskId === null ? nothing : html`<a href="#/tasks/${encodeURIComponent(s.taskId)}">its task</a>`}</li>`
  })}</ul>`
}

function rule (store: Store, r: Subscription & { openScans?: OpenScan[] }): TemplateResult {
  const c = r.counts
  const cancelId = `unsub-cancel-${r.id}`
  return html`<article class="rule" data-subscription=${r.id} aria-labelledby="rule-${r.id}">
    <h3 id="rule-${r.id}">${r.collection} <span class="muted">into</span> <code>${r.destination}</code></h3>
    <p><span class="sub-state sub-${r.state.toLowerCase()}" data-testid="sub-state">${STATE_WORDS[r.state]}</span> <span data-testid="sub-reason">${r.reason}</span></p>
    <p class="muted">${formatCount(c.scans)} scans: ${formatCount(c.succeeded)} replicated, ${formatCount(c.active)} active, ${formatCount(c.queued)} queued, ${formatCount(c.failed)} failed, ${formatCount(c.cancelled)} cancelled.
      From ${r.from.length === 0 ? 'every named peer' : r.from.join(', ')}; since ${when(r.created)}${r.onDone === null ? '' : html`; then runs <code>${r.onDone}</code>`}.</p>
    ${stuckList(r)}
    <h4>Sources</h4><ul class="plain">${r.sources.map(source)}</ul>
    ${openScansTable(r.openScans)}
    <div class="task-actions">
      <button type="button" class="small danger" ?disabled=${store.state.subAction.busy} aria-label="Unsubscribe from ${r.collection} into ${r.destination}"
        @click=${(e: Event) => { void store.unsubscribe(r.id, ((e.currentTarget as HTMLElement).parentElement?.querySelector(`#${cancelId}`) as HTMLInputElement | null)?.checked === true) }}>Unsubscribe</button>
      <label class="check"><input type="checkbox" id=${cancelId}> also cancel its queued and active tasks</label>
    </div>
  </article>`
}

export function subscriptionsView (store: Store): TemplateResult {
  const s = store.state.subscriptions
  let body: TemplateResult
  if (s.status === 'loading') body = html`<p class="muted">Loading…</p>`
  else if (s.status === 'unavailable') body = html`<p class="note" role="note">This daemon has no subscriptions service.</p>`
  else if (s.status === 'error') body = html`<p class="error" role="alert">${s.message}</p>`
  else if (s.subscriptions.length === 0) body = html`<p class="muted">No subscriptions yet: Browse a peer and subscribe to one of its collections.</p>`
  else body = html`${s.subscriptions.map((r) => rule(store, r))}`
  const err = store.state.subAction.error
  return html`<section class="card" aria-labelledby="subs-h"><h2 id="subs-h">Subscriptions</h2>
    ${err === undefined ? nothing : html`<p class="error" role="alert">${err}</p>`}${body}</section>`
}
