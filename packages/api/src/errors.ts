/**
 * Errors as HTTP answers: one table from Ferry error codes to statuses, one body shape
 * (`{ error: { code, message } }`), and the message of a failed schema validation naming the field.
 */
import { FerryError, isAbortError, type ErrorCode } from '@ferry/errors'

/** The HTTP status of every Ferry error code (docs/api.md has the same table). */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  ERR_USAGE: 400,
  ERR_INVALID_ARGUMENT: 400,
  ERR_INVALID_CID: 400,
  ERR_NOT_A_DIRECTORY: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_NOT_TRUSTED: 403,
  ERR_PEER_REFUSED: 403,
  ERR_NOT_FOUND: 404,
  ERR_ROOT_NOT_FOUND: 404,
  ERR_BLOCK_NOT_FOUND: 404,
  ERR_HOME_NOT_FOUND: 404,
  ERR_CONFLICT: 409,
  ERR_HOME_EXISTS: 409,
  ERR_DAEMON_RUNNING: 409,
  ERR_PARTIAL: 422,
  ERR_VERIFY_FAILED: 422,
  ERR_HASH_MISMATCH: 422,
  ERR_BAD_BLOCK: 422,
  ERR_BAD_SIGNATURE: 422,
  ERR_UNSIGNED: 422,
  ERR_WRONG_SIGNER: 422,
  ERR_INTERNAL: 500,
  ERR_IO: 500,
  ERR_PERMISSION: 500,
  ERR_HOME_CORRUPT: 500,
  ERR_HOME_TOO_NEW: 500,
  ERR_NETWORK: 502,
  ERR_PROTOCOL: 502,
  ERR_ABORTED: 503,
  ERR_TIMEOUT: 504,
  ERR_NO_SPACE: 507
}

/** An error answer's body. */
export interface ErrorReply { error: { code: string, message: string } }

/** One ajv error, as Fastify passes it. */
interface ValidationIssue { instancePath: string, keyword: string, message?: string, params: Record<string, unknown> }

/** "body.addr: must match ..." for the first issue: which part of the request, which field, what is wrong. */
export function validationMessage (issues: ValidationIssue[], context: string): string {
  const issue = issues[0]
  if (issue === undefined) return `${context}: invalid`
  const base = [context, ...issue.instancePath.split('/').filter((p) => p !== '')].join('.')
  switch (issue.keyword) {
    case 'required': return `${base}.${String(issue.params.missingProperty)}: required`
    case 'additionalProperties': return `${base}.${String(issue.params.additionalProperty)}: not a known field`
    case 'pattern': return `${base}: must match ${String(issue.params.pattern)}`
    default: return `${base}: ${issue.message ?? issue.keyword}`
  }
}

/** The status and body for anything a handler threw. */
export function errorReply (err: unknown): { status: number, body: ErrorReply } {
  if (err instanceof FerryError) return { status: HTTP_STATUS[err.code], body: { error: { code: err.code, message: err.message } } }
  const e = err as { validation?: ValidationIssue[], validationContext?: string, statusCode?: number, code?: string, message?: string } | null | undefined
  if (Array.isArray(e?.validation)) {
    return { status: 400, body: { error: { code: 'ERR_INVALID_ARGUMENT', message: validationMessage(e.validation, e.validationContext ?? 'request') } } }
  }
  if (isAbortError(err)) return { status: 503, body: { error: { code: 'ERR_ABORTED', message: 'The daemon is stopping' } } }
  // Fastify's own client errors (bad JSON, wrong content type, body too large): 4xx with its message
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, body: { error: { code: e.statusCode === 404 ? 'ERR_NOT_FOUND' : 'ERR_INVALID_ARGUMENT', message: e.message ?? 'Bad request' } } }
  }
  return { status: 500, body: { error: { code: 'ERR_INTERNAL', message: `Internal error: ${e?.message ?? String(err)}` } } }
}
