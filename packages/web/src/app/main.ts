/** The page: a store, one render function (lit-html), hash routes, and live updates from /v1/events. */
import { html, render, type TemplateResult } from 'lit-html'
import { subscribe } from './api.js'
import { createStore, parseRoute, type Store } from './store.js'
import { browseView } from './views-browse.js'
import { homeView } from './views-home.js'
import { taskView } from './views-task.js'
import { subscriptionsView } from './views-subscriptions.js'
import { tasksView } from './views-tasks.js'

function content (store: Store): TemplateResult {
  const r = store.state.route
  switch (r.view) {
    case 'browse': return browseView(store)
    case 'tasks': return tasksView(store)
    case 'task': return taskView(store, r.id)
    case 'subscriptions': return subscriptionsView(store)
    default: return homeView(store)
  }
}

function page (store: Store): TemplateResult {
  const { route, live, node } = store.state
  const current = (v: string): 'page' | 'false' => (route.view === v || (v === 'tasks' && route.view === 'task') ? 'page' : 'false')
  return html`<a class="skip" href="#main">Skip to content</a>
  <header class="top">
    <a class="brand" href="#/">Ferry</a>${node === undefined ? '' : html`<span class="site">${node.name}</span>`}
    <nav aria-label="Main"><a href="#/" aria-current=${current('home')}>Node and peers</a><a href="#/tasks" aria-current=${current('tasks')}>Activity</a><a href="#/subscriptions" aria-current=${current('subscriptions')}>Subscriptions</a></nav>
    <span class="live ${live ? 'on' : 'off'}" role="status" title=${live ? 'Receiving live events from the daemon' : 'Not receiving events: reconnecting'}>${live ? 'live' : 'reconnecting…'}</span>
  </header>
  ${store.state.loggedOut
    ? html`<p class="error banner" role="alert" data-testid="logged-out">This browser is no longer logged in to the daemon (it restarted, or the session expired).
      Run <code>ferry web</code> on the daemon's machine and open the new link.</p>`
    : ''}
  <main id="main" tabindex="-1">${content(store)}</main>`
}

function start (root: HTMLElement): void {
  let queued = false
  const draw = (): void => {
    if (queued) return
    queued = true
    requestAnimationFrame(() => { queued = false; render(page(store), root) })
  }
  root.textContent = '' // the "Loading…" of index.html; lit-html renders into an empty container
  const store = createStore(draw)
  const go = (): void => { void store.navigate(parseRoute(location.hash)) }
  // a new view: the keyboard and screen readers start at its content, not at the link that led there
  window.addEventListener('hashchange', () => { go(); document.getElementById('main')?.focus({ preventScroll: true }) })
  subscribe((e) => { store.onEvent(e) }, (live) => { store.onLive(live) }, () => !store.state.loggedOut)
  void store.loadNode()
  void store.loadPeers()
  go()
}

start(document.getElementById('app') as HTMLElement)
