/**
 * @module gateway/raw-response
 * Answer an upgrade request that will not become a WebSocket: a plain HTTP response written
 * on the raw socket (there is no `ServerResponse` for an upgrade), then the socket closed.
 * Every such answer is a refusal, so its body is always the one refusal body of
 * `http/refusal.ts` (`{"message":"Forbidden"}`, …): nothing else can be written here.
 */
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { refusalBody } from '../http/refusal.ts'

/**
 * Write `status` with the refusal body of that status and optional headers, then end and
 * destroy the socket. Header values must already be safe (the gateway writes only its own).
 *
 * @example
 * ```ts
 * writeRawResponse(socket, 503, { 'Retry-After': '5' }) // body {"message":"Service Unavailable"}
 * writeRawResponse(socket, 403)                         // body {"message":"Forbidden"}
 * ```
 */
export function writeRawResponse(
  socket: Duplex,
  status: number,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy()
    return
  }
  const body = refusalBody(status)
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}`,
    'Connection: close',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
  ]
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
  socket.once('finish', () => socket.destroy())
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`)
}
