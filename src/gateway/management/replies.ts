/**
 * @module gateway/management/replies
 * Answers in the shape AWS's `@connections` API uses, so SDKs map them to the same typed
 * errors: the error name in `x-amzn-ErrorType`, a request id in `x-amzn-RequestId`.
 * A reply sent before the request body was read closes the connection, so Node never drains
 * (reads) a body the server refused.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

/** The error names the management API answers with. */
export type ManagementErrorType =
  | 'GoneException'
  | 'ForbiddenException'
  | 'PayloadTooLargeException'
  | 'UnsupportedMediaTypeException'
  | 'LimitExceededException'
  | 'BadRequestException'
  | 'InternalServerErrorException'
  | 'ServiceUnavailableException'

function finish(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: string,
): void {
  const unread = !req.complete
  if (unread) headers.connection = 'close'
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) })
  res.end(body, () => {
    if (unread) req.socket.destroy()
  })
}

/**
 * An empty success (`POST` 200, `DELETE` 204).
 *
 * @example
 * ```ts
 * replyEmpty(req, res, 204)
 * ```
 */
export function replyEmpty(req: IncomingMessage, res: ServerResponse, status: number): void {
  finish(req, res, status, {}, '')
}

/**
 * A JSON success.
 *
 * @example
 * ```ts
 * replyJson(req, res, 200, { sent: 2, gone: [] })
 * ```
 */
export function replyJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  value: unknown,
): void {
  finish(req, res, status, { 'content-type': 'application/json' }, JSON.stringify(value))
}

/**
 * An AWS-shaped error. `message` undefined sends an empty body (410, as AWS does).
 *
 * @example
 * ```ts
 * replyError(req, res, 403, 'ForbiddenException', 'Forbidden')
 * replyError(req, res, 410, 'GoneException')
 * ```
 */
export function replyError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  type: ManagementErrorType,
  message?: string,
): void {
  const headers: Record<string, string> = { 'x-amzn-ErrorType': type }
  if (message === undefined) {
    finish(req, res, status, headers, '')
    return
  }
  headers['content-type'] = 'application/json'
  finish(req, res, status, headers, JSON.stringify({ message }))
}
