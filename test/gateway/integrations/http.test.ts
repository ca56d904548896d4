import assert from 'node:assert/strict'
import http from 'node:http'
import { test } from 'node:test'
import { decodeHttpEvent } from '../../../src/events/http.ts'
import { createSignatureVerifier } from '../../../src/events/signing.ts'
import { connectClient, startGateway } from '../../conformance/gateway/support/harness.ts'

const SECRET = 'gateway-http-secret-0123456789'

/** Node request → Fetch Request, every header kept (what the node adapter does). */
function toFetch(req: http.IncomingMessage, body: Buffer): Request {
  const headers = new Headers()
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string)
  }
  return new Request(`http://${req.headers.host}${req.url}`, {
    method: req.method ?? 'POST',
    headers,
    body: new Uint8Array(body),
  })
}

/** An app that answers 2xx only to calls whose signature verifies, and records verdicts. */
async function verifyingBackend() {
  const verifier = createSignatureVerifier({ secret: SECRET })
  const verdicts: Array<{ route: string; verdict: string; query: string }> = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', async () => {
      const event = await decodeHttpEvent(toFetch(req, Buffer.concat(chunks)))
      const verdict = verifier.verify(event)
      verdicts.push({ route: event.routeKey, verdict, query: event.rawQuery })
      const protocol = event.headers['sec-websocket-protocol']
      res.writeHead(verdict === 'ok' ? 200 : 403, {
        'content-type': 'text/plain',
        ...(protocol === undefined ? {} : { 'sec-websocket-protocol': protocol }),
      })
      res.end(verdict === 'ok' ? (event.body ?? '') : 'Forbidden')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    base: `http://127.0.0.1:${port}/ws/`,
    verdicts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

test('signed HTTP calls verify at the app, with request parameters added before signing', async (t) => {
  const backend = await verifyingBackend()
  t.after(() => backend.close())
  const requestParameters = {
    'integration.request.header.x-env': "'local'",
    'integration.request.querystring.who': 'context.connectionId',
  }
  const g = await startGateway({
    routes: {
      $connect: {
        type: 'http',
        url: `${backend.base}connect`,
        secret: SECRET,
        requestParameters,
      },
      $default: {
        type: 'http',
        url: `${backend.base}default`,
        secret: SECRET,
        twoWay: true,
        requestParameters,
      },
    },
  })
  t.after(() => g.close())
  const c = await connectClient(`${g.url}?channel=lobby`, {
    headers: { Cookie: 'sessionid=abc', Origin: 'https://app.example.test' },
    protocols: ['gatehouse.v1'],
  })
  c.ws.send('{"action":"ping"}')
  assert.equal(await c.next(), '{"action":"ping"}')
  assert.deepEqual(
    backend.verdicts.map((v) => [v.route, v.verdict]),
    [
      ['$connect', 'ok'],
      ['$default', 'ok'],
    ],
  )
  // The mapped query parameter travelled (and was signed) with the client's own.
  assert.match(backend.verdicts[0]?.query ?? '', /^channel=lobby&who=[A-Za-z0-9_-]{15}%3D$/)
  c.ws.close()
})
