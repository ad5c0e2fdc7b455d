/**
 * A task's page: its facts and counters, Cancel and Retry, why it or any of its files failed and what to do
 * about it (advice.ts), its speed over time and each peer's share, its open scans, and its event log.
 */
import { html, nothing, type TemplateResult } from 'lit-html'
import { adviceFor } from './advice.js'
import type { OpenScan } from './figures.js'
import { formatBytes, formatCount, when } from './format.js'
import type { Store } from './store.js'
import type { TaskDetail, TaskEvent, TaskFileFailure, TaskRecord } from './types.js'
import { openScansTable, peerShareList, speedChart } from './views-figures.js'
import { condition, progress, unavailable } from './views-tasks.js'

/** A task with the open scans it follows, which the API adds to some tasks (rendered when present). */
type TaskExtras = TaskDetail & { openScans?: OpenScan[] }

function counts (t: TaskRecord): TemplateResult {
  const cell = (label: string, n: number): TemplateResult => html`<div><dt>${label}</dt><dd>${formatCount(n)}</dd></div>`
  return html`<dl class="counts">${cell('Files', t.files)}${cell('Pending', t.pending)}${cell('Succeeded', t.succeeded)}${cell('Failed', t.failed)}${cell('Retrying', t.retrying)}${cell('Skipped', t.skipped)}${cell('Cancelled', t.cancelled)}</dl>`
}

function reasonText (t: TaskRecord): TemplateResult | typeof nothing {
  if (t.reason === null) return nothing
  const a = adviceFor(t.reason.code, t.reason.message)
  return html`<div class="reason" data-testid="task-reason">${t.reason.message}
    ${t.condition === 'FAILED' || t.condition === 'CANCELLED' ? html`<div class="todo"><strong>What to do:</strong> ${a.todo}</div>` : nothing}</div>`
}

function facts (t: TaskRecord): TemplateResult {
  return html`<dl class="facts">
    <dt>Task</dt><dd><code>${t.taskId}</code></dd>
    <dt>Condition</dt><dd>${condition(t)}${reasonText(t)}</dd>
    <dt>Scan</dt><dd><code>${t.root}</code>${t.collection === null ? nothing : html` <span class="muted">(${t.collection})</span>`}</dd>
    <dt>Sources</dt><dd><ul class="plain">${t.sources.map((s) => html`<li><code>${s}</code></li>`)}</ul></dd>
    <dt>Destination</dt><dd><code>${t.destination}</code></dd>
    <dt>Requested</dt><dd>${when(t.requested)}</dd>
    <dt>Completed</dt><dd>${when(t.completed)}</dd>
    <dt>Deadline</dt><dd>${when(t.deadline)}</dd>
    <dt>Transferred</dt><dd>${progress(t)}</dd>
    <dt>Effective speed</dt><dd>${t.effectiveSpeed > 0 ? `${formatBytes(Math.round(t.effectiveSpeed))}/s` : '—'}${t.eta === null ? nothing : html`, done by ${when(t.eta)}`}</dd>
  </dl>`
}

/** Cancel while the task is live, Retry once it FAILED or was CANCELLED; the API's refusal in its words. */
function actions (store: Store, t: TaskRecord): TemplateResult {
  const { busy, error } = store.state.taskAction
  const live = t.condition === 'QUEUED' || t.condition === 'ACTIVE'
  const again = t.condition === 'FAILED' || t.condition === 'CANCELLED'
  const cancel = html`<button type="button" class="danger" ?disabled=${busy} aria-describedby="cancel-hint" @click=${() => { void store.cancelTask(t.taskId) }}>Cancel</button>
    <small id="cancel-hint" class="muted">stops it at once; what is in place stays, and Retry goes on from there</small>`
  const retry = html`<button type="button" ?disabled=${busy} aria-describedby="retry-hint" @click=${() => { void store.retryTask(t.taskId) }}>Retry</button>
    <small id="retry-hint" class="muted">queues it again: only what is not in place is fetched</small>`
  return html`<div class="task-actions">${live ? cancel : nothing}${again ? retry : nothing}
    ${error === undefined ? nothing : html`<p class="error" role="alert" data-testid="task-action-error">${error}</p>`}
  </div>`
}

function failedFile (f: TaskFileFailure): TemplateResult {
  const a = adviceFor(f.code, f.message)
  return html`<tr data-path=${f.path}>
    <th scope="row"><code>${f.path}</code></th>
    <td><div data-testid="file-what">${a.what}</div><div class="muted small">${f.message}</div></td>
    <td data-testid="file-todo">${a.todo}</td>
    <td class="muted"><code>${f.code}</code><br>${when(f.when)}<br>${f.attempts} ${f.attempts === 1 ? 'attempt' : 'attempts'}</td>
  </tr>`
}

function failedFiles (t: TaskDetail): TemplateResult {
  if (t.fileErrors.length === 0) return html`<h3>Failed files</h3><p class="muted">None.</p>`
  return html`<h3>Failed files <span class="muted">(${formatCount(t.fileErrors.length)})</span></h3>
    <div class="scroll"><table class="failed" data-testid="failed-files">
      <thead><tr><th scope="col">File</th><th scope="col">What happened</th><th scope="col">What to do</th><th scope="col">Details</th></tr></thead>
      <tbody>${t.fileErrors.map(failedFile)}</tbody></table></div>`
}

function taskBody (store: Store, t: TaskExtras, log: TaskEvent[]): TemplateResult {
  return html`${actions(store, t)}${facts(t)}${counts(t)}
    <h3>Speed</h3>${speedChart(store.state.samples.get(t.taskId), t.condition === 'ACTIVE' || t.condition === 'QUEUED')}
    <h3>From each peer</h3>${peerShareList(t.fromPeers, store.state.peers)}
    ${openScansTable(t.openScans)}
    ${failedFiles(t)}
    <h3>Event log</h3>
    <ol class="log">${log.map((e) => html`<li>${when(e.time)} <span class="muted">${e.kind}</span> ${e.message}</li>`)}</ol>`
}

export function taskView (store: Store, id: string): TemplateResult {
  const s = store.state.tasks
  const t = store.state.task
  const body = unavailable(s) ?? (t === undefined ? html`<p class="error" role="alert">No task ${id} on this daemon.</p>` : taskBody(store, t.detail, t.events))
  return html`<section class="card" aria-labelledby="task-h"><h2 id="task-h">${t?.detail.label ?? `Task ${id}`}</h2>${body}</section>`
}
