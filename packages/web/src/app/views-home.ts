/** The home view: this node (name, PeerId with a copy button, addresses, version, free space) and its peers. */
import { html, nothing, type TemplateResult } from 'lit-html'
import { formatBytes, when } from './format.js'
import type { Store } from './store.js'
import type { NodeInfo, Peer, Space } from './types.js'

async function copy (text: string, button: HTMLButtonElement): Promise<void> {
  try {
    await navigator.clipboard.writeText(text)
    button.textContent = 'Copied'
  } catch {
    button.textContent = 'Select and copy it'
  }
  setTimeout(() => { button.textContent = 'Copy' }, 2000)
}

/** Free of total, a meter and the percentage used; `note` follows the percentage (where it was measured). */
function spaceLine (s: Space, note = ''): TemplateResult {
  const used = s.total === 0 ? 0 : 1 - s.available / s.total
  return html`${formatBytes(s.available)} free of ${formatBytes(s.total)}
    <meter min="0" max="1" value=${used} high="0.9" aria-label="Space used at ${s.path}">${Math.round(used * 100)}%</meter>
    <span class="muted">${Math.round(used * 100)}% used${note}</span>`
}

function destinationsView (node: NodeInfo): TemplateResult {
  if (node.destinations.length === 0) return html`<dt>Destinations</dt><dd class="muted">None in use (no queued or active task, no subscription)</dd>`
  return html`<dt>Destinations</dt>
    <dd><ul class="plain" data-testid="destinations">${node.destinations.map((d) => html`<li data-path=${d.path}>
      <code>${d.path}</code> <span class="muted">(${d.use.join(', ')})</span>: ${spaceLine(d)}</li>`)}</ul></dd>`
}

function nodeView (node: NodeInfo | undefined, error: string | undefined): TemplateResult {
  if (node === undefined) return html`<section class="card" aria-labelledby="node-h"><h2 id="node-h">This node</h2><p class=${error === undefined ? '' : 'error'}>${error ?? 'Loading…'}</p></section>`
  return html`<section class="card" aria-labelledby="node-h">
    <h2 id="node-h">This node: ${node.name}</h2>
    <dl class="facts">
      <dt>PeerId</dt>
      <dd class="peerid"><code data-testid="peer-id">${node.peerId}</code>
        <button type="button" class="small" @click=${(e: Event) => { void copy(node.peerId, e.currentTarget as HTMLButtonElement) }}>Copy</button></dd>
      <dt>Addresses</dt>
      <dd><ul class="plain">${node.addresses.map((a) => html`<li><code>${a}</code></li>`)}</ul></dd>
      <dt>Free space</dt>
      <dd>${spaceLine(node.space, `, on the filesystem of ${node.space.path}`)}</dd>
      ${destinationsView(node)}
      <dt>Version</dt><dd>Ferry ${node.version}, running since ${when(node.started)}</dd>
    </dl>
  </section>`
}

function stateText (p: Peer): TemplateResult {
  const s = p.state
  const since = s.since === null ? nothing : html` since ${when(s.since)}`
  const reason = s.reason === null ? nothing : html`<div class="reason">${s.reason}</div>`
  const label = { connected: 'connected', disconnected: 'disconnected', unreachable: 'unreachable', refused: 'refused us', unknown: 'not checked yet' }[s.state]
  return html`<span class="state state-${s.state}" data-testid="peer-state">${label}</span>${since}${reason}`
}

function peerRow (store: Store, p: Peer): TemplateResult {
  return html`<tr data-peer=${p.name}>
    <th scope="row"><a href="#/peers/${encodeURIComponent(p.name)}">${p.name}</a></th>
    <td><code class="id" title=${p.id}>${p.id.slice(0, 8)}…${p.id.slice(-6)}</code></td>
    <td>${stateText(p)}</td>
    <td>${p.trusted ? html`<span class="badge">trusted</span>` : html`<span class="muted">not trusted</span>`}</td>
    <td class="actions">
      <a class="button small" href="#/peers/${encodeURIComponent(p.name)}">Browse</a>
      <button type="button" class="small danger" aria-label="Remove ${p.name}" @click=${() => { void store.removePeer(p.name) }}>Remove</button>
    </td>
  </tr>`
}

function addForm (store: Store): TemplateResult {
  const submit = async (e: SubmitEvent): Promise<void> => {
    e.preventDefault()
    const form = e.currentTarget as HTMLFormElement
    const data = new FormData(form)
    if (await store.addPeer(String(data.get('name') ?? '').trim(), String(data.get('addr') ?? '').trim())) form.reset()
  }
  const err = store.state.addError
  return html`<form class="add-peer" @submit=${submit}>
    <h3>Add a peer</h3>
    <div class="field"><label for="peer-name">Name</label>
      <input id="peer-name" name="name" required pattern="[a-z][a-z0-9_\\-]{0,31}" placeholder="esrf" autocomplete="off"
        aria-describedby="peer-name-hint"><small id="peer-name-hint">a short slug: lowercase letters, digits, - or _</small></div>
    <div class="field wide"><label for="peer-addr">Address</label>
      <input id="peer-addr" name="addr" required placeholder="/dns4/ferry.esrf.fr/tcp/4001/p2p/12D3KooW…" autocomplete="off" spellcheck="false"
        aria-describedby="peer-addr-hint"><small id="peer-addr-hint">a multiaddr ending in /p2p/&lt;PeerId&gt; (<code>ferry id</code> on that node prints it)</small></div>
    <div class="field"><button type="submit" ?disabled=${store.state.busy}>Add peer</button></div>
    ${err === undefined ? nothing : html`<p class="error" role="alert" data-testid="add-error">${err}</p>`}
    <p class="muted note">Adding a peer does not trust it: it can fetch from this node only after <code>ferry trust &lt;its PeerId&gt;</code> here.</p>
  </form>`
}

function peersView (store: Store): TemplateResult {
  const { peers, peersError } = store.state
  const table = peers === undefined || peers.length === 0
    ? html`<p class="muted">${peers === undefined ? 'Loading…' : 'No peers yet: add one below.'}</p>`
    : html`<div class="scroll"><table class="peers"><thead><tr><th scope="col">Name</th><th scope="col">PeerId</th><th scope="col">State</th><th scope="col">Trust</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${peers.map((p) => peerRow(store, p))}</tbody></table></div>`
  return html`<section class="card" aria-labelledby="peers-h"><h2 id="peers-h">Peers</h2>
    ${peersError === undefined ? nothing : html`<p class="error" role="alert">${peersError}</p>`}
    ${table}${addForm(store)}</section>`
}

export function homeView (store: Store): TemplateResult {
  return html`${nodeView(store.state.node, store.state.nodeError)}${peersView(store)}`
}
