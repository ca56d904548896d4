/**
 * @module examples/chat/http-util
 * Small node:http helpers of the demo server: JSON answers and bounded JSON bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

/** Largest JSON body the demo reads (a login is tiny). */
export const MAX_JSON_BODY_BYTES = 4_096

/**
 * Answer with JSON, never cached.
 *
 * @example
 * ```ts
 * sendJson(res, 401, { message: 'Unauthorized' })
 * ```
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  })
  res.end(text)
}

/**
 * Read a JSON object body of at most {@link MAX_JSON_BODY_BYTES}; `null` when it is too
 * large, not JSON, or not an object. The request must say `application/json`, which a
 * cross-site HTML form cannot send without a CORS preflight.
 *
 * @example
 * ```ts
 * const body = await readJsonObject(req) // { username: 'alice', password: 'alice' } or null
 * ```
 */
export async function readJsonObject(
  req: IncomingMessage,
): Promise<Record<string, unknown> | null> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json') return null
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > MAX_JSON_BODY_BYTES) return null
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength
    if (size > MAX_JSON_BODY_BYTES) return null
    chunks.push(chunk as Buffer)
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null
  } catch {
    return null
  }
}

/**
 * Drain and discard a request body (so keep-alive connections stay usable).
 *
 * @example
 * ```ts
 * await discardBody(req)
 * ```
 */
export async function discardBody(req: IncomingMessage): Promise<void> {
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength
    if (size > MAX_JSON_BODY_BYTES) {
      req.destroy()
      return
    }
  }
}
