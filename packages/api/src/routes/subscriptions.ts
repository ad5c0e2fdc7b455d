/** Standing rules: `GET /v1/subscriptions`, `POST /v1/subscriptions`, `DELETE /v1/subscriptions/:id`. */
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { FerryError } from '@ferry/errors'
import type { SubscriptionService } from '@ferry/tasks'
import type { ApiContext } from '../context.js'
import { NoQuery, errors } from '../schemas.js'
import {
  CreateSubscriptionBody, CreateSubscriptionReply, DeleteSubscriptionQuery, DeleteSubscriptionReply, SubscriptionList, SubscriptionParams
} from '../subscription-schemas.js'

function service (ctx: ApiContext): SubscriptionService {
  const s = ctx.subscriptions?.()
  if (s === undefined) throw new FerryError('ERR_ABORTED', 'This daemon runs no subscriptions (starting or stopping)')
  return s
}

export function subscriptionRoutes (app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/subscriptions', {
    schema: { querystring: NoQuery, operationId: 'listSubscriptions', tags: ['subscriptions'], summary: 'Every standing rule with its state, counts and sources', response: { 200: SubscriptionList, ...errors(503) } }
  }, async () => ({ subscriptions: service(ctx).list() }))

  app.post<{ Body: Static<typeof CreateSubscriptionBody> }>('/v1/subscriptions', {
    schema: {
      querystring: NoQuery,
      operationId: 'createSubscription',
      tags: ['subscriptions'],
      summary: 'Replicate every complete scan of a collection on some peers into <destination>/<scan name>, now and as they appear. 201 if new, 200 if the same rule existed',
      body: CreateSubscriptionBody,
      response: { 200: CreateSubscriptionReply, 201: CreateSubscriptionReply, ...errors(400, 409, 503) }
    }
  }, async (req, reply) => {
    const { subscription, existing } = await service(ctx).create(req.body)
    return await reply.code(existing ? 200 : 201).send({ subscription, created: !existing })
  })

  app.delete<{ Params: Static<typeof SubscriptionParams>, Querystring: Static<typeof DeleteSubscriptionQuery> }>('/v1/subscriptions/:id', {
    schema: {
      querystring: DeleteSubscriptionQuery,
      operationId: 'deleteSubscription',
      tags: ['subscriptions'],
      summary: 'Stop a rule: no new tasks; those queued go on unless cancelTasks=true',
      params: SubscriptionParams,
      response: { 200: DeleteSubscriptionReply, ...errors(400, 404, 503) }
    }
  }, async (req) => {
    const { subscription, cancelled } = service(ctx).remove(req.params.id, { cancelTasks: req.query.cancelTasks === 'true' })
    return { removed: subscription, cancelled }
  })
}
