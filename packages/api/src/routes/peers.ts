/** The address book: `GET /v1/peers`, `POST /v1/peers`, `DELETE /v1/peers/:name`, each peer with its state. */
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { FerryError } from '@ferry/errors'
import type { NamedPeer } from '@ferry/node'
import type { ApiContext } from '../context.js'
import { NoQuery, AddPeerBody, AddPeerReply, PeerList, PeerParams, RemovePeerReply, errors, type PeerT } from '../schemas.js'

function describe (ctx: ApiContext, peer: NamedPeer, trusted: string[]): PeerT {
  return { ...peer, trusted: trusted.includes(peer.id), state: ctx.peerState(peer.id) }
}

/** Names the request field a FerryError from the address book is about ("body.addr: ..."). */
function inBody (err: unknown): unknown {
  if (err instanceof FerryError && typeof err.details.field === 'string') {
    return new FerryError(err.code, `body.${err.details.field}: ${err.message}`, { cause: err, details: err.details })
  }
  return err
}

export function peerRoutes (app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/peers', {
    schema: {
      querystring: NoQuery,
      operationId: 'listPeers',
      tags: ['peers'],
      summary: 'The named peers of the address book, with their trust and the daemon\'s view of their state',
      response: { 200: PeerList, ...errors() }
    }
  }, async () => {
    const [peers, trusted] = await Promise.all([ctx.listPeers(), ctx.trusted()])
    return { peers: peers.map((p) => describe(ctx, p, trusted)) }
  })

  app.post<{ Body: Static<typeof AddPeerBody> }>('/v1/peers', {
    schema: {
      querystring: NoQuery,
      operationId: 'addPeer',
      tags: ['peers'],
      summary: 'Name a peer: { name, addr } (addr ends in /p2p/<PeerId>). Does not trust it. 201 if new or changed, 200 if already so',
      body: AddPeerBody,
      response: { 200: AddPeerReply, 201: AddPeerReply, ...errors(400, 409) }
    }
  }, async (req, reply) => {
    let added
    try {
      added = await ctx.addPeer(req.body.name, req.body.addr)
    } catch (err) {
      throw inBody(err)
    }
    ctx.checkPeer(added.peer)
    const trusted = await ctx.trusted()
    return await reply.code(added.changed ? 201 : 200).send({ peer: describe(ctx, added.peer, trusted), created: added.changed })
  })

  app.delete<{ Params: Static<typeof PeerParams> }>('/v1/peers/:name', {
    schema: {
      querystring: NoQuery,
      operationId: 'removePeer',
      tags: ['peers'],
      summary: 'Remove a peer from the address book (its trust, if any, stays)',
      params: PeerParams,
      response: { 200: RemovePeerReply, ...errors(400, 404) }
    }
  }, async (req) => ({ removed: await ctx.removePeer(req.params.name) }))
}
