import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { connect } from 'node:net'
import { describe, test } from 'node:test'
import { toFetchRequest, toIntegrationCall, toNodeListener } from '../../src/adapters/node.ts'
import { manualClock } from '../../src/clock.ts'
import { withDirectCall } from '../../src/events/direct-call.ts'
import { decodeHttpEvent, decodeIntegrationCall } from '../../src/events/http.ts'
import { serve } from './support.ts'

// The node adapter's direct form of `app.fetch` must hand the decoder exactly what the Fetch
// path does: same headers (joined, trimmed), same signed facts, same body checks.
const clock = manualClock(1_700_000_000_000)
const options = { clock, maxBodyBytes: 64 }
const bridge = { maxBodyBytes: 256 }

type Decode = (req: IncomingMessage) => Promise<unknown>
const viaFetch: Decode = async (req) => decodeHttpEvent(await toFetchRequest(req, bridge), options)
const viaDirect: Decode = async (req) =>
  decodeIntegrationCall(await toIntegrationCall(req, bridge), options)

function decoder(decode: Decode) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    decode(req).then(
      (event) => res.end(JSON.stringify({ event })),
      (err: Error & { code?: string }) => res.end(JSON.stringify({ error: err.code ?? err.name })),
    )
  }
}

/** Send raw bytes; the whole answer's body. */
function send(port: number, text: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text))
    let data = ''
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1')
    })
    socket.on('end', () => resolve(data.slice(data.indexOf('\r\n\r\n') + 4)))
    socket.on('error', reject)
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')))
  })
}

const CONN = 'R1kmxc2VNjMCFIA='
const head = (path: string, lines: string[], body = ''): string =>
  [
    `POST ${path} HTTP/1.1`,
    'Host: app.test:8000',
    ...lines,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n')

const gateway = [
  `connectionId: ${CONN}`,
  'X-Forwarded-For: 203.0.113.7',
  'x-gatehouse-request-id: abcdefabcdef01',
  `x-gatehouse-timestamp: ${clock.now()}`,
  `x-gatehouse-signature: ${'a'.repeat(64)}`,
]

/** A message whose two body bytes are not UTF-8. */
function notUtf8(): Buffer {
  const bytes = Buffer.from(head('/ws/default', gateway, 'ab'))
  bytes[bytes.length - 2] = 0xc3
  bytes[bytes.length - 1] = 0x28
  return bytes
}

const CASES: Array<[string, string | Buffer]> = [
  [
    'a $connect with repeated, cased and padded headers and a query',
    head('/ws/connect?ws_token=t1&x=%20y', [
      ...gateway,
      'Cookie: a=1',
      'cookie:  b=2 ',
      'Accept: text/html',
      'ACCEPT: application/json',
      'Set-Cookie: s=1',
      'Set-Cookie: s=2',
      'Origin: http://app.test',
      'User-Agent: test-agent',
    ]),
  ],
  ['a message with its body', head('/ws/default', gateway, '{"action":"echo","é":1}')],
  ['a custom route', head('/ws/chat%2Fjoin', gateway, 'x')],
  ['a $disconnect', head('/ws/disconnect', [...gateway, 'x-gatehouse-disconnect-reason: bye'])],
  ['a body past the decoder limit', head('/ws/default', gateway, 'x'.repeat(100))],
  ['a body that is not UTF-8', notUtf8()],
  ['no connectionId', head('/ws/default', gateway.slice(1), '{}')],
  ['no route', head('/', gateway, '{}')],
]

describe('adapters/node: the direct form of app.fetch', () => {
  test('decodes every call exactly as the Fetch path does', async () => {
    const fetchPath = await serve(decoder(viaFetch))
    const direct = await serve(decoder(viaDirect))
    try {
      for (const [name, raw] of CASES) {
        const expected = await send(fetchPath.port, raw)
        const actual = await send(direct.port, raw)
        assert.ok(expected.length > 0, name)
        assert.deepEqual(JSON.parse(actual), JSON.parse(expected), name)
      }
      // The cases do reach both outcomes.
      assert.match(await send(direct.port, CASES[0]![1]), /"headersHash":"[0-9a-f]{64}"/)
      assert.match(await send(direct.port, CASES[4]![1]), /ERR_INVALID_EVENT/)
    } finally {
      await fetchPath.close()
      await direct.close()
    }
  })
})

describe('adapters/node: the direct path keeps the bridge limit', () => {
  test('a body over maxBodyBytes never reaches the app, declared (413) or chunked', async () => {
    let calls = 0
    const fetch = withDirectCall(
      async () => new Response('fetch path'),
      async (call) => {
        calls += 1
        return { status: 200, headers: {}, body: await call.text(1 << 20) }
      },
    )
    const s = await serve(toNodeListener(fetch, { maxBodyBytes: 1024 }))
    try {
      const ok = await send(s.port, head('/ws/default', gateway, 'hello'))
      assert.equal(ok, 'hello')
      assert.equal(calls, 1)
      const declared = await send(s.port, head('/ws/default', gateway, 'x'.repeat(2048)))
      assert.match(declared, /Payload Too Large/)
      const chunk = 'x'.repeat(800)
      const chunked = [
        'POST /ws/default HTTP/1.1',
        'Host: app.test',
        ...gateway,
        'Transfer-Encoding: chunked',
        '',
        `320\r\n${chunk}\r\n320\r\n${chunk}\r\n0\r\n\r\n`,
      ].join('\r\n')
      await send(s.port, chunked).catch(() => '')
      assert.equal(calls, 1)
    } finally {
      await s.close()
    }
  })
})
