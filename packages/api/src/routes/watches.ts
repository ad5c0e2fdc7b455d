/** Watches and open scans: `GET/POST /v1/watches`, `DELETE /v1/watches/:id`, `POST /v1/seal`. */
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { FerryError } from '@ferry/errors'
import type { WatchControl } from '@ferry/watch'
import type { ApiContext } from '../context.js'
import { AddWatchBody, NoQuery, SealBody, SealReply, Watch, WatchList, WatchParams, errors } from '../schemas.js'

function control (ctx: ApiContext): WatchControl {
  if (ctx.watches === undefined) throw new FerryError('ERR_NETWORK', 'This daemon runs no watch service')
  return ctx.watches
}

export function watchRoutes (app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/watches', {
    schema: { querystring: NoQuery, operationId: 'listWatches', tags: ['watches'], summary: 'The running watches, with their open scans', response: { 200: WatchList, ...errors() } }
  }, async () => ({ watches: control(ctx).list() }))

  app.post<{ Body: Static<typeof AddWatchBody> }>('/v1/watches', {
    schema: {
      querystring: NoQuery,
      operationId: 'addWatch',
      tags: ['watches'],
      summary: 'Watch a directory: { dir, collection, name?, settleSeconds? }. Each complete file is published into the open scan (collection, name); kept across restarts',
      body: AddWatchBody,
      response: { 201: Watch, ...errors(400, 404, 409) }
    }
  }, async (req, reply) => {
    const { dir, collection, name, settleSeconds } = req.body
    const w = await control(ctx).add({ dir, collection, name, settleMs: settleSeconds === undefined ? undefined : Math.round(settleSeconds * 1000) })
    return await reply.code(201).send(w)
  })

  app.delete<{ Params: Static<typeof WatchParams> }>('/v1/watches/:id', {
    schema: {
      querystring: NoQuery,
      operationId: 'removeWatch',
      tags: ['watches'],
      summary: 'Stop a watch (its open scan stays open: seal it)',
      params: WatchParams,
      response: { 200: Watch, ...errors(400, 404) }
    }
  }, async (req) => await control(ctx).remove(Number(req.params.id)))

  app.post<{ Body: Static<typeof SealBody> }>('/v1/seal', {
    schema: {
      querystring: NoQuery,
      operationId: 'sealScan',
      tags: ['watches'],
      summary: 'Seal an open scan: { collection, name? }. Publishes what is pending, stops its watch, imports the finished directory as a signed scan',
      body: SealBody,
      response: { 200: SealReply, ...errors(400, 404, 409) }
    }
  }, async (req) => await control(ctx).seal(req.body.collection, req.body.name))
}
