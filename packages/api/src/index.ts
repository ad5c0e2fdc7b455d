/**
 * @ferry/api: the daemon's HTTP API (docs/api.md). `apiService` plugs it into `runDaemon`; `buildApi`
 * builds the app for a context (the OpenAPI script, tests); `@ferry/api/client` is the CLI's side.
 */
export { apiService, fromDaemon, API_HOST, type ApiServiceOptions } from './service.js'
export { buildApi, MAX_BODY_BYTES, type BuildApiOptions } from './server.js'
export type { ApiContext } from './context.js'
export { HTTP_STATUS, errorReply, validationMessage, type ErrorReply } from './errors.js'
export { streamEvents, eventFrame, HEARTBEAT_MS, MAX_BUFFERED_EVENTS, type EventStreamOptions } from './sse.js'
export { API_TOKEN_FILE, readApiToken, ensureApiToken, tokenMatches } from './token.js'
export { apiClient, CLIENT_TIMEOUT_MS, type ApiClient } from './client.js'
export { openapiDocument } from './openapi.js'
export { createSessions, cookieValue, LOGIN_TOKEN_TTL_MS, SESSION_IDLE_MS, MAX_LOGIN_TOKENS, MAX_SESSIONS, type Sessions } from './session.js'
