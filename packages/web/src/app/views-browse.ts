/** A peer's catalog: filter by collection and name, page on, pick a scan for the pull form. */
import { html, nothing, type TemplateResult } from 'lit-html'
import { formatBytes, formatCount, when } from './format.js'
import type { BrowseState, Store } from './store.js'
import type { CatalogRow, NodeInfo } from './types.js'
import { subscribeForm } from './views-subscriptions.js'

function row (store: Store, r: CatalogRow, picked: boolean): TemplateResult {
  return html`<tr data-root=${r.root} class=${picked ? 'picked' : ''}>
    <th scope="row">${r.name}${r.skipped > 0 ? html` <span class="badge warn" title="entries the origin could not read">${formatCount(r.skipped)} skipped</span>` : nothing}</th>
    <td>${r.collection ?? html`<span class="muted">none</span>`}</td>
    <td class="num">${formatBytes(r.bytes)}</td>
    <td class="num">${formatCount(r.files)}</td>
    <td>${when(r.created)}</td>
    <td>${r.state === 'sealed' ? 'sealed' : html`<span class="badge warn">open</span>`}</td>
    <td>${r.held ? html`<span class="badge" data-testid="held">held here</span>` : html`<span class="muted">not here</span>`}</td>
    <td class="actions"><button type="button" class="small" aria-pressed=${picked ? 'true' : 'false'} @click=${() => { store.pick(picked ? undefined : r.root) }}>Pull…</button></td>
  </tr>`
}

function filters (store: Store, b: BrowseState): TemplateResult {
  const submit = (e: SubmitEvent): void => {
    e.preventDefault()
    const data = new FormData(e.currentTarget as HTMLFormElement)
    void store.filter(String(data.get('collection') ?? '').trim(), String(data.get('prefix') ?? ''))
  }
  return html`<form class="filters" role="search" @submit=${submit}>
    <div class="field"><label for="f-collection">Collection</label><input id="f-collection" name="collection" .value=${b.collection} placeholder="any"></div>
    <div class="field"><label for="f-prefix">Name starts with</label><input id="f-prefix" name="prefix" .value=${b.prefix} placeholder="any"></div>
    <div class="field"><button type="submit">Filter</button></div>
  </form>`
}

function spaceHint (b: BrowseState, node: NodeInfo | undefined): string {
  const s = b.destSpace
  if (s !== undefined) return 'error' in s ? s.error : `${formatBytes(s.available)} free on the filesystem of ${s.path}`
  if (b.dest !== '' && !b.dest.startsWith('/')) return 'an absolute path, such as /data/visits/…'
  return node === undefined ? '' : `${formatBytes(node.space.available)} free on the home's filesystem (${node.space.path})`
}

/**
 * The pull form: a task (POST /v1/tasks) for the picked scan from the browsed peer, by its name (the API
 * resolves it). The destination shows its free space; the API's refusal shows in its words; once started,
 * the page goes to the task's page. The command that pulls from a shell is shown too.
 */
function pullForm (store: Store, b: BrowseState, node: NodeInfo | undefined): TemplateResult {
  const r = b.page?.rows.find((x) => x.root === b.picked)
  if (r === undefined) return html``
  const dest = b.dest === '' ? '<destination>' : b.dest
  const submit = (e: SubmitEvent): void => {
    e.preventDefault()
    const data = new FormData(e.currentTarget as HTMLFormElement)
    const field = (name: string): string => String(data.get(name) ?? '').trim()
    void store.startPull({ root: r.root, destination: field('destination'), label: field('label'), deadline: field('deadline') })
  }
  return html`<form class="card pull" aria-labelledby="pull-h" @submit=${submit}>
    <h3 id="pull-h">Pull ${r.name} (${formatBytes(r.bytes)})</h3>
    <div class="row">
      <div class="field wide"><label for="p-dest">Destination</label><input id="p-dest" name="destination" placeholder="/data/visits/…" .value=${b.dest}
        autocomplete="off" spellcheck="false" aria-describedby="p-dest-hint" @input=${(e: Event) => { store.destination((e.currentTarget as HTMLInputElement).value.trim()) }}>
        <small id="p-dest-hint" data-testid="dest-space" aria-live="polite">${spaceHint(b, node)}</small></div>
      <div class="field"><label for="p-label">Label</label><input id="p-label" name="label" .value=${r.name}></div>
      <div class="field"><label for="p-deadline">Deadline</label><input id="p-deadline" name="deadline" type="datetime-local" aria-describedby="p-deadline-hint">
        <small id="p-deadline-hint" class="muted">your time; empty: a day from now</small></div>
      <div class="field"><button type="submit" ?disabled=${b.starting}>${b.starting ? 'Starting…' : 'Pull this scan'}</button></div>
    </div>
    ${b.pullError === undefined ? nothing : html`<p class="error" role="alert" data-testid="pull-error">The pull did not start: ${b.pullError}</p>`}
    <p class="muted">From a shell on this node: <code class="cmd" data-testid="pull-command">ferry pull ${r.root} ${dest} --from ${b.peer}</code></p>
  </form>`
}

function table (store: Store, b: BrowseState): TemplateResult {
  const page = b.page
  if (b.error !== undefined) return html`<p class="error" role="alert" data-testid="browse-error">${b.error}</p>`
  if (page === undefined) return html`<p class="muted">${b.loading ? 'Asking the peer…' : ''}</p>`
  if (page.rows.length === 0) return html`<p class="muted">No scans: the peer offers none that this node may read${b.collection !== '' || b.prefix !== '' ? ' with these filters' : ''}.</p>`
  return html`<div class="scroll"><table class="catalog" aria-busy=${b.loading ? 'true' : 'false'}>
    <thead><tr><th scope="col">Scan</th><th scope="col">Collection</th><th scope="col" class="num">Size</th><th scope="col" class="num">Files</th><th scope="col">Created</th><th scope="col">State</th><th scope="col">Here</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
    <tbody>${page.rows.map((r) => row(store, r, r.root === b.picked))}</tbody></table></div>
    <nav class="pager" aria-label="Pages">
      <button type="button" class="small" ?disabled=${b.back.length === 0 || b.loading} @click=${() => { void store.previousPage() }}>Previous</button>
      <span class="muted">page ${b.back.length + 1}</span>
      <button type="button" class="small" ?disabled=${page.next === null || b.loading} @click=${() => { void store.nextPage() }}>Next</button>
    </nav>`
}

export function browseView (store: Store): TemplateResult {
  const b = store.state.browse
  if (b === undefined) return html`<p class="muted">Loading…</p>`
  const peer = store.state.peers?.find((p) => p.name === b.peer)
  return html`<section class="card" aria-labelledby="browse-h">
    <h2 id="browse-h">Scans on ${b.peer}</h2>
    <p class="muted">${peer === undefined ? '' : html`<code title=${peer.id}>${peer.id}</code>: `}the scans it lets this node read.</p>
    ${filters(store, b)}${table(store, b)}${subscribeForm(store, b, store.state.node)}
  </section>${pullForm(store, b, store.state.node)}`
}
