/** node:http servers on port 0 (around a listener, or any server), and a raw HTTP/1.1 request helper. */
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { connect } from 'node:net'
import fc from 'fast-check'

/** A Fetch handler that echoes what it was given, with two cookies, and can be made to throw. */
export async function echo(request: Request): Promise<Response> {
  const url = new URL(request.url)
  if (url.pathname === '/throw') throw new Error('internal detail /etc/passwd')
  const headers = new Headers({ 'content-type': 'application/json' })
  headers.append('set-cookie', 'a=1; HttpOnly')
  headers.append('set-cookie', 'b=2')
  const body = request.method === 'GET' ? '' : await request.text()
  return new Response(
    JSON.stringify({ method: request.method, path: url.pathname, host: url.host, body }),
    {
      status: 201,
      headers,
    },
  )
}

export async function serve(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** Send raw bytes (to forge a Host or target fetch would refuse) and return the status line. */
export function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text))
    let data = ''
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1')
    })
    socket.on('end', () => resolve(data.split('\r\n')[0] ?? ''))
    socket.on('error', reject)
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')))
  })
}

/** Listen any node:http server on 127.0.0.1:0; its base URL and a close that ends keep-alives. */
export async function listen(server: Server): Promise<{ baseUrl: string; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A Fetch handler that answers the SHA-256 of the body bytes it received. */
export async function bodyDigest(request: Request): Promise<Response> {
  const bytes = new Uint8Array(await request.arrayBuffer())
  return new Response(createHash('sha256').update(bytes).digest('hex'))
}

const CONTENT_TYPES = [
  undefined,
  'application/json',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
  'text/plain; charset=latin1',
]

/**
 * Property: any bytes under any common `Content-Type` reach `bodyDigest` at `url` unchanged
 * (invalid UTF-8, a BOM, `1.0`, escapes): what a signature over the body needs.
 */
export async function assertBodiesIntact(url: string, numRuns = 60): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 2048 }),
        fc.json().map((text) => new TextEncoder().encode(` \ufeff${text} `)),
      ),
      fc.constantFrom(...CONTENT_TYPES),
      async (body, type) => {
        const r = await fetch(url, {
          method: 'POST',
          headers: type === undefined ? {} : { 'content-type': type },
          body,
        })
        const expected = createHash('sha256').update(body).digest('hex')
        return r.status === 200 && (await r.text()) === expected
      },
    ),
    { numRuns },
  )
}
