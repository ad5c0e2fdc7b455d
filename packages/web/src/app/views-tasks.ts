/**
 * The activity view: the list of tasks (GET /v1/tasks); a daemon without the task routes answers 404, and
 * the view says so. A task's own page is views-task.ts.
 */
import { html, type TemplateResult } from 'lit-html'
import { formatBytes, when } from './format.js'
import type { Store, TasksState } from './store.js'
import type { TaskRecord } from './types.js'

export function progress (t: TaskRecord): TemplateResult {
  const ratio = t.bytesTotal > 0 ? Math.min(1, t.bytesTransferred / t.bytesTotal) : (t.condition === 'SUCCEEDED' ? 1 : 0)
  return html`<progress max="1" value=${ratio} aria-label="Progress of ${t.label ?? t.taskId}">${Math.round(ratio * 100)}%</progress>
    <span class="muted">${formatBytes(t.bytesTransferred)} of ${formatBytes(t.bytesTotal)}</span>`
}

export function condition (t: TaskRecord): TemplateResult {
  return html`<span class="condition condition-${t.condition.toLowerCase()}">${t.condition.toLowerCase()}</span>`
}

export function unavailable (s: TasksState): TemplateResult | undefined {
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
