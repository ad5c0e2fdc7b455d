/**
 * The OpenAPI document without a daemon: the app built on a stand-in context (nothing is served), for
 * `npm run -w @ferry/api openapi` (writes docs/api.openapi.json) and the test that checks that file is current.
 */
import { createEventBus } from '@ferry/node'
import { FerryError } from '@ferry/errors'
import type { ApiContext } from './context.js'
import { buildApi } from './server.js'

/** A context that answers nothing: enough to register the routes. */
function standIn (version: string): ApiContext {
  const none = async (): Promise<never> => { throw new FerryError('ERR_INTERNAL', 'not a daemon') }
  return {
    home: '/nonexistent',
    version,
    node: () => ({ name: '', peerId: '', addresses: [], started: '' }),
    space: none,
    remoteCatalog: none,
    holds: () => false,
    url: () => '',
    listPeers: none,
    trusted: none,
    addPeer: none,
    removePeer: none,
    peerState: () => ({ state: 'unknown', since: null, reason: null }),
    checkPeer: () => {},
    events: createEventBus()
  }
}

/** The API's OpenAPI 3.1 document for Ferry `version`. */
export async function openapiDocument (version: string): Promise<Record<string, unknown>> {
  const app = await buildApi(standIn(version), { token: 'unused' })
  try {
    return app.swagger() as unknown as Record<string, unknown>
  } finally {
    await app.close()
  }
}
