/**
 * @module gateway/raw-response
 * Answer an upgrade request that will not become a WebSocket: a plain HTTP response written
 * on the raw socket (there is no `ServerResponse` for an upgrade), then the socket closed.
 */
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'

/**
 * Write `status` with an optional JSON body and headers, then end and destroy the socket.
 * Header values must already be safe (the gateway writes only its own).
 *
 * @example
 * ```ts
 * writeRawResponse(socket, 503, { headers: { 'Retry-After': '5' } })
 * writeRawResponse(socket, 403, { body: '{"message":"Forbidden"}' })
 * ```
 */
export function writeRawResponse(
  socket: Duplex,
  status: number,
  options: { readonly body?: string; readonly headers?: Readonly<Record<string, string>> } = {},
): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy()
    return
  }
  const body = options.body ?? ''
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}`, 'Connection: close']
  if (body !== '') lines.push('Content-Type: application/json')
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`)
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`${name}: ${value}`)
  socket.once('finish', () => socket.destroy())
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`)
}
