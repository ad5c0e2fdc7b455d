/**
 * The activity view: the list of tasks and a task's page, laid out for the task record of @ferry/tasks
 * (types.ts), from GET /v1/tasks; a daemon without the task routes answers 404, and the view says so.
 */
import { html, nothing, type TemplateResult } from 'lit-html'
import { formatBytes, formatCount, when } from './format.js'
import type { Store, TasksState } from './store.js'
import type { TaskDetail, TaskEvent, TaskRecord } from './types.js'

function progress (t: TaskRecord): TemplateResult {
  const ratio = t.bytesTotal > 0 ? Math.min(1, t.bytesTransferred / t.bytesTotal) : (t.condition === 'SUCCEEDED' ? 1 : 0)
  return html`<progress max="1" value=${ratio} aria-label="Progress of ${t.label ?? t.taskId}">${Math.round(ratio * 100)}%</progress>
    <span class="muted">${formatBytes(t.bytesTransferred)} of ${formatBytes(t.bytesTotal)}</span>`
}

function condition (t: TaskRecord): TemplateResult {
  return html`<span class="condition condition-${t.condition.toLowerCase()}">${t.condition.toLowerCase()}</span>`
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

function taskRow (t: TaskRecord): TemplateResult {
  return html`<tr data-task=${t.taskId}>
    <th scope="row"><a href="#/tasks/${encodeURIComponent(t.taskId)}">${t.label ?? t.taskId}</a></th>
    <td>${condition(t)}</td><td>${when(t.requested)}</td><td>${progress(t)}</td>
    <td class="num">${t.effectiveSpeed > 0 ? `${formatBytes(Math.round(t.effectiveSpeed))}/s` : '—'}</td></tr>`
}

export function tasksView (store: Store): TemplateResult {
  const s = store.state.tasks
  const body = unavailable(s) ?? (s.status === 'ok' && s.tasks.length === 0
    ? html`<p class="muted">No tasks yet.</p>`
    : html`<div class="scroll"><table class="tasks"><thead><tr><th scope="col">Task</th><th scope="col">Condition</th><th scope="col">Requested</th><th scope="col">Progress</th><th scope="col" class="num">Speed</th></tr></thead>
      <tbody>${(s.status === 'ok' ? s.tasks : []).map(taskRow)}</tbody></table></div>`)
  return html`<section class="card" aria-labelledby="tasks-h"><h2 id="tasks-h">Activity</h2>${body}</section>`
}

function counts (t: TaskRecord): TemplateResult {
  const cell = (label: string, n: number): TemplateResult => html`<div><dt>${label}</dt><dd>${formatCount(n)}</dd></div>`
  return html`<dl class="counts">${cell('Files', t.files)}${cell('Pending', t.pending)}${cell('Succeeded', t.succeeded)}${cell('Failed', t.failed)}${cell('Retrying', t.retrying)}${cell('Skipped', t.skipped)}${cell('Cancelled', t.cancelled)}</dl>`
}

function facts (t: TaskRecord): TemplateResult {
  return html`<dl class="facts">
    <dt>Task</dt><dd><code>${t.taskId}</code></dd>
    <dt>Condition</dt><dd>${condition(t)}${t.reason === null ? nothing : html`<div class="reason">${t.reason.message}</div>`}</dd>
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

function taskBody (t: TaskDetail, log: TaskEvent[]): TemplateResult {
  return html`${facts(t)}${counts(t)}
    <h3>Failed files</h3>
    ${t.fileErrors.length === 0
      ? html`<p class="muted">None.</p>`
      : html`<ul class="failed">${t.fileErrors.map((f) => html`<li><code>${f.path}</code>: ${f.message} <span class="muted">(${f.code}, ${when(f.when)}, ${f.attempts} ${f.attempts === 1 ? 'attempt' : 'attempts'})</span></li>`)}</ul>`}
    <h3>Event log</h3>
    <ol class="log">${log.map((e) => html`<li>${when(e.time)} <span class="muted">${e.kind}</span> ${e.message}</li>`)}</ol>`
}

export function taskView (store: Store, id: string): TemplateResult {
  const s = store.state.tasks
  const t = store.state.task
  const body = unavailable(s) ?? (t === undefined ? html`<p class="error" role="alert">No task ${id} on this daemon.</p>` : taskBody(t.detail, t.events))
  return html`<section class="card" aria-labelledby="task-h"><h2 id="task-h">${t?.detail.label ?? `Task ${id}`}</h2>${body}</section>`
}
