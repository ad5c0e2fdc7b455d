/**
 * The daemon's durable tasks: `POST /v1/tasks`, `GET /v1/tasks`, `GET /v1/tasks/:id`,
 * `GET /v1/tasks/:id/events`, `POST /v1/tasks/:id/cancel`, `POST /v1/tasks/:id/retry` (TaskService).
 */
import type { FastifyInstance } from 'fastify'
import { FerryError } from '@ferry/errors'
import type { TaskCondition, TaskRequest, TaskService } from '@ferry/tasks'
import type { ApiContext } from '../context.js'
import { NoQuery, errors } from '../schemas.js'
import {
  CreateTaskBody, ListTasksQuery, TaskDetail, TaskEventList, TaskEventsQuery, TaskList, TaskOnly, TaskParams, TaskReply,
  type CreateTaskBodyT, type ListTasksQueryT, type TaskEventsQueryT, type TaskParamsT
} from '../task-schemas.js'

/** The running task service; ERR_ABORTED (503) while there is none (the daemon is starting or stopping). */
function service (ctx: ApiContext): TaskService {
  const tasks = ctx.tasks?.()
  if (tasks === undefined) throw new FerryError('ERR_ABORTED', 'This daemon runs no task service (starting or stopping): try again in a moment')
  return tasks
}

/** The task service's request for a checked body: sources resolved, the deadline as seconds or a time. */
async function toRequest (ctx: ApiContext, body: CreateTaskBodyT): Promise<TaskRequest> {
  const sources = await ctx.resolveSources(body.sources)
  const request: TaskRequest = { root: body.root, destination: body.destination, sources }
  if (body.label !== undefined) request.label = body.label
  if (typeof body.deadline === 'number') request.deadlineMs = Math.round(body.deadline * 1000)
  else if (body.deadline !== undefined) {
    if (!/^\d{4}-\d\d-\d\dT/.test(body.deadline) || !Number.isFinite(Date.parse(body.deadline))) {
      throw new FerryError('ERR_INVALID_ARGUMENT', `body.deadline: "${body.deadline}" is neither a number of seconds nor an ISO 8601 time (2026-12-03T18:00:00Z)`)
    }
    if (Date.parse(body.deadline) <= Date.now()) throw new FerryError('ERR_INVALID_ARGUMENT', `body.deadline: ${body.deadline} has passed`)
    request.deadline = body.deadline
  }
  if (body.onDone !== undefined) request.onDone = body.onDone
  for (const key of ['checksum', 'fsync', 'allowEscapingSymlinks'] as const) if (body[key] === true) request[key] = true
  return request
}

/** Names the body field a FerryError of the task service is about. */
function inBody (err: unknown): unknown {
  if (err instanceof FerryError && err.code === 'ERR_INVALID_CID') return new FerryError(err.code, `body.root: ${err.message}`, { cause: err })
  return err
}

function writeRoutes (app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Body: CreateTaskBodyT }>('/v1/tasks', {
    schema: {
      querystring: NoQuery,
      operationId: 'createTask',
      tags: ['tasks'],
      summary: 'Queue a replication: pull root into destination from sources. 201 when queued, 200 with the live task for the same root and destination',
      body: CreateTaskBody,
      response: { 200: TaskReply, 201: TaskReply, ...errors(400, 503) }
    }
  }, async (req, reply) => {
    const request = await toRequest(ctx, req.body)
    let out
    try {
      out = service(ctx).create(request)
    } catch (err) {
      throw inBody(err)
    }
    return await reply.code(out.existing ? 200 : 201).send({ task: out.task, created: !out.existing })
  })

  app.post<{ Params: TaskParamsT }>('/v1/tasks/:id/cancel', {
    schema: {
      querystring: NoQuery,
      operationId: 'cancelTask',
      tags: ['tasks'],
      summary: 'Stop a task at once: CANCELLED (a task that has ended is returned unchanged)',
      params: TaskParams,
      response: { 200: TaskOnly, ...errors(400, 404, 503) }
    }
  }, async (req) => ({ task: service(ctx).cancel(req.params.id) }))

  app.post<{ Params: TaskParamsT }>('/v1/tasks/:id/retry', {
    schema: {
      querystring: NoQuery,
      operationId: 'retryTask',
      tags: ['tasks'],
      summary: 'Queue a FAILED or CANCELLED task again: only what is not in place is fetched. 400 for a live or SUCCEEDED task',
      params: TaskParams,
      response: { 200: TaskOnly, ...errors(400, 404, 503) }
    }
  }, async (req) => ({ task: service(ctx).retry(req.params.id) }))
}

function readRoutes (app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: ListTasksQueryT }>('/v1/tasks', {
    schema: {
      querystring: ListTasksQuery,
      operationId: 'listTasks',
      tags: ['tasks'],
      summary: 'Tasks, newest request first, optionally of some conditions only',
      response: { 200: TaskList, ...errors(400, 503) }
    }
  }, async (req) => {
    const conditions = req.query.condition?.split(',') as TaskCondition[] | undefined
    const limit = req.query.limit !== undefined ? Number(req.query.limit) : undefined
    return { tasks: service(ctx).list({ ...(conditions !== undefined ? { conditions } : {}), ...(limit !== undefined ? { limit } : {}) }) }
  })

  app.get<{ Params: TaskParamsT }>('/v1/tasks/:id', {
    schema: {
      querystring: NoQuery,
      operationId: 'getTask',
      tags: ['tasks'],
      summary: 'One task: every field, and each entry that did not succeed with its last error (fileErrors)',
      params: TaskParams,
      response: { 200: TaskDetail, ...errors(400, 404, 503) }
    }
  }, async (req) => {
    const task = service(ctx).get(req.params.id)
    if (task === undefined) throw new FerryError('ERR_NOT_FOUND', `No task ${req.params.id} on this node (GET /v1/tasks lists them)`)
    return task
  })

  app.get<{ Params: TaskParamsT, Querystring: TaskEventsQueryT }>('/v1/tasks/:id/events', {
    schema: {
      querystring: TaskEventsQuery,
      operationId: 'listTaskEvents',
      tags: ['tasks'],
      summary: 'The task\'s event log, oldest first: those after event id `after`, at most `limit`',
      params: TaskParams,
      response: { 200: TaskEventList, ...errors(400, 404, 503) }
    }
  }, async (req) => {
    const { after, limit } = req.query
    return { events: service(ctx).events(req.params.id, { ...(after !== undefined ? { after: Number(after) } : {}), ...(limit !== undefined ? { limit: Number(limit) } : {}) }) }
  })
}

export function taskRoutes (app: FastifyInstance, ctx: ApiContext): void {
  writeRoutes(app, ctx)
  readRoutes(app, ctx)
}
