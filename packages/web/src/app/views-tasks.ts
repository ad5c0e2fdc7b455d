/**
 * The activity view: the list of tasks and a task's page, laid out for the task record (types.ts). The task
 * service is not on this daemon yet: GET /v1/tasks answers 404, and the view says so.
 */
import { html, nothing, type TemplateResult } from 'lit-html'
import { formatBytes, formatCount, when } from './format.js'
import type { Store, TasksState } from './store.js'
import type { TaskRecord } from './types.js'

function progress (t: TaskRecord): TemplateResult {
  const total = t.bytes?.total ?? 0
  const done = t.bytes?.transferred ?? 0
  const ratio = total > 0 ? done / total : 0
  return html`<progress max="1" value=${ratio} aria-label="Progress of ${t.label ?? t.taskId}">${Math.round(ratio * 100)}%</progress>
    <span class="muted">${formatBytes(done)} of ${formatBytes(total)}</span>`
}

function unavailable (s: TasksState): TemplateResult | undefined {
  if (s.status === 'loading') return html`<p class="muted">Loading…</p>`
  if (s.status === 'unavailable') {
    return html`<p class="note" role="note" data-testid="tasks-unavailable">The task service is not available on this daemon, so there are no tasks to show.
      Transfers started with <code>ferry pull</code> report in that command's terminal.</p>`
  }
  if (s.status === 'error') return html`<p class="error" role="alert">${s.message}</p>`
  return undefined
}

export function tasksView (store: Store): TemplateResult {
  const s = store.state.tasks
  const body = unavailable(s) ?? (s.status === 'ok' && s.tasks.length === 0
    ? html`<p class="muted">No tasks yet.</p>`
    : html`<div class="scroll"><table><thead><tr><th scope="col">Task</th><th scope="col">State</th><th scope="col">Requested</th><th scope="col">Progress</th></tr></thead>
      <tbody>${(s.status === 'ok' ? s.tasks : []).map((t) => html`<tr>
        <th scope="row"><a href="#/tasks/${encodeURIComponent(t.taskId)}">${t.label ?? t.taskId}</a></th>
        <td>${t.state ?? ''}</td><td>${when(t.requested)}</td><td>${progress(t)}</td></tr>`)}</tbody></table></div>`)
  return html`<section class="card" aria-labelledby="tasks-h"><h2 id="tasks-h">Activity</h2>${body}</section>`
}

function counts (t: TaskRecord): TemplateResult {
  const f = t.files ?? {}
  const cell = (label: string, n: number | undefined): TemplateResult => html`<div><dt>${label}</dt><dd>${n === undefined ? '—' : formatCount(n)}</dd></div>`
  return html`<dl class="counts">${cell('Files', f.total)}${cell('Pending', f.pending)}${cell('Succeeded', f.succeeded)}${cell('Failed', f.failed)}${cell('Retrying', f.retrying)}${cell('Skipped', f.skipped)}${cell('Cancelled', f.cancelled)}</dl>`
}

function taskBody (t: TaskRecord): TemplateResult {
  return html`<dl class="facts">
      <dt>Task</dt><dd><code>${t.taskId}</code></dd>
      <dt>State</dt><dd>${t.state ?? '—'}</dd>
      <dt>Sources</dt><dd>${(t.sources ?? []).map((s) => html`<code>${s}</code> `)}</dd>
      <dt>Destination</dt><dd><code>${t.destination ?? '—'}</code></dd>
      <dt>Condition</dt><dd>${t.condition ?? '—'}</dd>
      <dt>Requested</dt><dd>${when(t.requested)}</dd>
      <dt>Completed</dt><dd>${when(t.completed)}</dd>
      <dt>Deadline</dt><dd>${when(t.deadline)}</dd>
      <dt>Transferred</dt><dd>${progress(t)}</dd>
      <dt>Effective speed</dt><dd>${t.speed === undefined ? '—' : `${formatBytes(Math.round(t.speed))}/s`}</dd>
    </dl>${counts(t)}
    <h3>Failed files</h3>
    ${(t.failed ?? []).length === 0 ? html`<p class="muted">None.</p>` : html`<ul class="failed">${(t.failed ?? []).map((f) => html`<li><code>${f.path}</code>: ${f.reason}</li>`)}</ul>`}
    <h3>Event log</h3>
    <ol class="log">${(t.log ?? []).map((e) => html`<li>${when(e.at)} ${e.message}</li>`)}</ol>`
}

export function taskView (store: Store, id: string): TemplateResult {
  const s = store.state.tasks
  const t = store.state.task
  const body = unavailable(s) ?? (t === undefined ? html`<p class="error" role="alert">No task ${id} on this daemon.</p>` : taskBody(t))
  return html`<section class="card" aria-labelledby="task-h"><h2 id="task-h">${t?.label ?? `Task ${id}`}</h2>${body}</section>${nothing}`
}
