/**
 * The bundled gateway against research/apigw-ws-spec.md §7, items 1–32: one test per item,
 * black-box over real sockets on 127.0.0.1, with in-process, HTTP and Lambda backend fakes and
 * short configured timers.
 */
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { test } from 'node:test'
import { isGatehouseError } from '../../../src/errors.ts'
import type { GatewayEvent } from '../../../src/events/event.ts'
import type { Integration } from '../../../src/gateway/integration.ts'
import { resolveGatewayOptions } from '../../../src/gateway/options.ts'
import {
  connectClient,
  type RecordingHandler,
  rawHeader,
  recorder,
  sleep,
  startBackend,
  startGateway,
} from './support/harness.ts'
import { closeFrame, continuation, frame, rawUpgrade, text } from './support/raw-socket.ts'

const ID = /^[A-Za-z0-9_-]{15}=$/

function appRoutes(app: RecordingHandler, twoWay = true): Record<string, Integration> {
  return {
    $connect: { type: 'in-process', handler: app },
    $disconnect: { type: 'in-process', handler: app },
    $default: { type: 'in-process', handler: app, twoWay },
  }
}

function httpGet(
  port: number,
  path: string,
): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function refusedStatus(
  url: string,
  options: Parameters<typeof connectClient>[1] = {},
): Promise<number> {
  try {
    const c = await connectClient(url, options)
    c.ws.terminate()
    return 101
  } catch (err) {
    return (err as { status?: number }).status ?? -1
  }
}

test('01 ws://host:port/{stage} accepts an upgrade; a plain GET without Upgrade returns 426', async (t) => {
  const g = await startGateway({ stage: 'dev' })
  t.after(() => g.close())
  assert.equal(g.url, `ws://127.0.0.1:${g.port}/dev`)
  const c = await connectClient(g.url)
  assert.equal(c.ws.readyState, c.ws.OPEN)
  c.ws.close()
  const root = await connectClient(`ws://127.0.0.1:${g.port}/`)
  root.ws.close()
  const plain = await httpGet(g.port, '/dev')
  assert.equal(plain.status, 426)
  assert.equal(plain.headers.upgrade, 'websocket')
  // Assumption (spec §8.13): a wrong stage or extra path segments are 403 Forbidden.
  assert.equal(await refusedStatus(`ws://127.0.0.1:${g.port}/prod`), 403)
  assert.equal(await refusedStatus(`ws://127.0.0.1:${g.port}/dev/extra`), 403)
})

test('02 $connect runs before the 101 is written; no frames are exchanged until it returns', async (t) => {
  let release: () => void = () => {}
  const gate = new Promise<void>((r) => {
    release = r
  })
  const app = recorder(async (e) => {
    if (e.eventType === 'CONNECT') await gate
    return { status: 200, body: e.body ?? '' }
  })
  const g = await startGateway({ routes: appRoutes(app) })
  t.after(() => g.close())
  let answered = false
  // The client sends a message right behind its request, before any answer.
  const pending = rawUpgrade(g.port, { early: text('early bird'), timeoutMs: 5_000 }).then((c) => {
    answered = true
    return c
  })
  await app.waitFor((e) => e.eventType === 'CONNECT')
  await sleep(100)
  assert.equal(answered, false, 'no 101 while $connect runs')
  assert.equal(app.events.filter((e) => e.eventType === 'MESSAGE').length, 0, 'no frame processed')
  release()
  const client = await pending
  assert.equal(client.answer.status, 101)
  const reply = await client.nextFrame()
  assert.equal(reply?.payload.toString(), 'early bird')
  const kinds = app.events.map((e) => e.eventType)
  assert.deepEqual(kinds.slice(0, 2), ['CONNECT', 'MESSAGE'])
  client.destroy()
})

test('03 $connect 2xx → 101; non-2xx → same HTTP status; integration error → 502; timeout → 504', async (t) => {
  const statuses = new Map([
    ['ok', 204],
    ['bad', 400],
    ['no', 403],
  ])
  const app = recorder(async (e) => {
    const mode = e.query.mode ?? 'ok'
    if (mode === 'throw') throw new Error('boom')
    if (mode === 'slow') await sleep(1_000)
    return { status: statuses.get(mode) ?? 200 }
  })
  const g = await startGateway({ routes: appRoutes(app), integrationTimeoutMs: 100 })
  t.after(() => g.close())
  assert.equal(await refusedStatus(`${g.url}?mode=ok`), 101)
  assert.equal(await refusedStatus(`${g.url}?mode=bad`), 400)
  assert.equal(await refusedStatus(`${g.url}?mode=no`), 403)
  assert.equal(await refusedStatus(`${g.url}?mode=throw`), 502)
  // Spec §8.7 leaves the timeout status open; the gateway answers 504 (DESIGN.md).
  assert.equal(await refusedStatus(`${g.url}?mode=slow`), 504)
  // The HTTP integration: unreachable backend → 502.
  const dead = await startBackend()
  await dead.close()
  const h = await startGateway({
    routes: { $connect: { type: 'http', url: `${dead.url}/ws/connect` } },
  })
  t.after(() => h.close())
  assert.equal(await refusedStatus(h.url), 502)
})

test('04 with no $connect route configured, the connection is accepted', async (t) => {
  const app = recorder((e) => ({ status: 200, body: e.body ?? '' }))
  const g = await startGateway({
    routes: { $default: { type: 'in-process', handler: app, twoWay: true } },
  })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  c.ws.send('hi')
  assert.equal(await c.next(), 'hi')
  c.ws.close()
})

test('05 Sec-WebSocket-Protocol is in the 101 only when $connect returned it (never auto-echo)', async (t) => {
  const app = recorder((e) =>
    e.query.pick
      ? { status: 200, headers: { 'Sec-WebSocket-Protocol': e.query.pick } }
      : { status: 200 },
  )
  const g = await startGateway({ routes: { $connect: { type: 'in-process', handler: app } } })
  t.after(() => g.close())
  const none = await rawUpgrade(g.port, { headers: { 'Sec-WebSocket-Protocol': 'a, b' } })
  assert.equal(none.answer.status, 101)
  assert.equal(none.answer.headers['sec-websocket-protocol'], undefined)
  none.destroy()
  const picked = await rawUpgrade(g.port, {
    path: '/?pick=b',
    headers: { 'Sec-WebSocket-Protocol': 'a, b' },
  })
  assert.equal(picked.answer.headers['sec-websocket-protocol'], 'b')
  picked.destroy()
  const c = await connectClient(`${g.url}?pick=b`, { protocols: ['a', 'b'] })
  assert.equal(c.ws.protocol, 'b')
  c.ws.close()
})

test('06 $connect response headers other than Sec-WebSocket-Protocol are not forwarded', async (t) => {
  const app = recorder((e) => ({
    status: e.query.reject ? 403 : 200,
    headers: { 'Set-Cookie': 'sid=evil', 'X-Backend': 'leak', 'Sec-WebSocket-Protocol': 'p1' },
    body: 'secret body',
  }))
  const g = await startGateway({ routes: { $connect: { type: 'in-process', handler: app } } })
  t.after(() => g.close())
  const ok = await rawUpgrade(g.port, { headers: { 'Sec-WebSocket-Protocol': 'p1' } })
  assert.equal(ok.answer.status, 101)
  assert.equal(ok.answer.headers['set-cookie'], undefined)
  assert.equal(ok.answer.headers['x-backend'], undefined)
  assert.equal(ok.answer.headers['sec-websocket-protocol'], 'p1')
  ok.destroy()
  const rejected = await rawUpgrade(g.port, { path: '/?reject=1' })
  assert.equal(rejected.answer.status, 403)
  assert.equal(rejected.answer.headers['set-cookie'], undefined)
  assert.equal(rejected.answer.headers['x-backend'], undefined)
  assert.doesNotMatch(rejected.answer.raw, /secret body/)
  rejected.destroy()
})

test('07 PostToConnection during $connect returns Gone', async (t) => {
  let seen: { post: boolean; get: unknown; del: boolean } | undefined
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined
  const app = recorder(async (e) => {
    if (e.eventType === 'CONNECT' && gw) {
      const { connections } = gw.gateway
      seen = {
        post: await connections.post(e.connectionId, 'too early'),
        get: await connections.get(e.connectionId),
        del: await connections.delete(e.connectionId),
      }
    }
    return { status: 200 }
  })
  gw = await startGateway({ routes: appRoutes(app) })
  const g = gw
  t.after(() => g.close())
  const c = await connectClient(g.url)
  assert.deepEqual(seen, { post: false, get: null, del: false })
  // From the moment $connect returned 2xx, the connection is reachable (item 41).
  const connect = await app.waitFor((e) => e.eventType === 'CONNECT')
  assert.equal(await g.gateway.connections.post(connect.connectionId, 'now'), true)
  assert.equal(await c.next(), 'now')
  assert.deepEqual(await c.quiet(50), [], 'the early post was never delivered')
  c.ws.close()
})

test('08 connection ids are 16-char URL-safe base64 ending in =, unique', async (t) => {
  const app = recorder()
  const g = await startGateway({ routes: { $connect: { type: 'in-process', handler: app } } })
  t.after(() => g.close())
  const clients = await Promise.all(Array.from({ length: 40 }, () => connectClient(g.url)))
  const ids = app.events.map((e) => e.connectionId)
  assert.equal(ids.length, 40)
  assert.equal(new Set(ids).size, 40)
  for (const id of ids) {
    assert.match(id, ID)
    assert.match(id, /^[A-Za-z0-9_=-]+$/)
    assert.equal(id.length, 16)
  }
  for (const c of clients) c.ws.close()
})

test('09 HTTP_PROXY requests use the integration method and exact URI; $connect appends the raw query', async (t) => {
  const backend = await startBackend()
  t.after(() => backend.close())
  const g = await startGateway({
    routes: {
      $connect: { type: 'http', url: `${backend.url}/ws/connect`, method: 'PUT' },
      $default: { type: 'http', url: `${backend.url}/ws/default?fixed=1` },
    },
  })
  t.after(() => g.close())
  const c = await connectClient(`${g.url}?ws_token=abc%2F1&channel=room`)
  const connect = await backend.waitFor((r) => r.url.startsWith('/ws/connect'))
  assert.equal(connect.method, 'PUT')
  assert.equal(connect.url, '/ws/connect?ws_token=abc%2F1&channel=room')
  c.ws.send('{"action":"x"}')
  const message = await backend.waitFor((r) => r.url.startsWith('/ws/default'))
  assert.equal(message.method, 'POST')
  assert.equal(message.url, '/ws/default?fixed=1', 'no client query on message routes')
  c.ws.close()
})

test('10 HTTP_PROXY Host is the integration host:port, never the gateway host', async (t) => {
  const backend = await startBackend()
  t.after(() => backend.close())
  const g = await startGateway({
    routes: {
      $connect: { type: 'http', url: `${backend.url}/ws/connect` },
      $default: { type: 'http', url: `${backend.url}/ws/default` },
    },
  })
  t.after(() => g.close())
  const c = await connectClient(g.url, { headers: { Host: 'attacker.example' } })
  c.ws.send('x')
  await backend.waitFor((r) => r.url === '/ws/default')
  for (const r of backend.requests) {
    assert.equal(rawHeader(r.rawHeaders, 'host')?.value, `127.0.0.1:${backend.port}`)
    assert.equal(r.rawHeaders.filter((h) => h.toLowerCase() === 'host').length, 1)
  }
  c.ws.close()
})

test('11 $connect HTTP_PROXY forwards handshake headers in original casing, minus Connection/Upgrade', async (t) => {
  const backend = await startBackend()
  t.after(() => backend.close())
  const g = await startGateway({
    routes: { $connect: { type: 'http', url: `${backend.url}/ws/connect` } },
  })
  t.after(() => g.close())
  const client = await rawUpgrade(g.port, {
    headers: {
      Cookie: 'sessionid=s1; csrftoken=c1',
      Origin: 'http://localhost:8000',
      'User-Agent': 'Mozilla/5.0 Test',
      'X-Custom-Header': 'Custom',
      'Sec-WebSocket-Extensions': 'permessage-deflate',
    },
  })
  assert.equal(client.answer.status, 101)
  const r = await backend.waitFor(() => true)
  for (const name of [
    'Cookie',
    'Origin',
    'User-Agent',
    'X-Custom-Header',
    'Sec-WebSocket-Key',
    'Sec-WebSocket-Version',
    'Sec-WebSocket-Extensions',
  ]) {
    assert.equal(rawHeader(r.rawHeaders, name)?.name, name, `${name} forwarded with its casing`)
  }
  assert.equal(rawHeader(r.rawHeaders, 'cookie')?.value, 'sessionid=s1; csrftoken=c1')
  assert.equal(rawHeader(r.rawHeaders, 'x-custom-header')?.value, 'Custom')
  assert.equal(rawHeader(r.rawHeaders, 'upgrade'), undefined)
  assert.notEqual(rawHeader(r.rawHeaders, 'connection')?.value, 'Upgrade')
  client.destroy()
})

test('12 every HTTP_PROXY request carries X-Amzn-Apigateway-Api-Id and X-Amzn-Trace-Id', async (t) => {
  const backend = await startBackend()
  t.after(() => backend.close())
  const routes: Record<string, Integration> = {}
  for (const key of ['$connect', '$disconnect', '$default'])
    routes[key] = { type: 'http', url: `${backend.url}/ws/${key.slice(1)}` }
  const g = await startGateway({ apiId: 'abcde12345', routes })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  c.ws.send('m')
  await backend.waitFor((r) => r.url === '/ws/default')
  c.ws.close()
  await backend.waitFor((r) => r.url === '/ws/disconnect')
  assert.equal(backend.requests.length, 3)
  for (const r of backend.requests) {
    assert.equal(r.headers['x-amzn-apigateway-api-id'], 'abcde12345')
    assert.match(String(r.headers['x-amzn-trace-id']), /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/)
  }
})

test('13 non-connect HTTP_PROXY requests carry User-Agent AmazonAPIGateway_<apiId> and no client headers', async (t) => {
  const backend = await startBackend()
  t.after(() => backend.close())
  const routes: Record<string, Integration> = {}
  for (const key of ['$connect', '$disconnect', '$default'])
    routes[key] = { type: 'http', url: `${backend.url}/ws/${key.slice(1)}` }
  const g = await startGateway({ apiId: 'api0000001', routes })
  t.after(() => g.close())
  const c = await connectClient(g.url, {
    headers: {
      Cookie: 'sessionid=s1',
      'User-Agent': 'Browser/1',
      Origin: 'http://localhost',
      'X-Custom': 'c',
    },
  })
  c.ws.send('m')
  await backend.waitFor((r) => r.url === '/ws/default')
  c.ws.close()
  await backend.waitFor((r) => r.url === '/ws/disconnect')
  const connect = backend.requests.find((r) => r.url === '/ws/connect')
  assert.equal(connect?.headers['user-agent'], 'Browser/1')
  for (const r of backend.requests.filter((x) => x.url !== '/ws/connect')) {
    assert.equal(r.headers['user-agent'], 'AmazonAPIGateway_api0000001')
    for (const name of ['cookie', 'origin', 'x-custom', 'sec-websocket-key']) {
      assert.equal(r.headers[name], undefined, `${name} not sent on ${r.url}`)
    }
  }
})

test('14 X-Forwarded-For/-Proto/-Port are sent; X-Real-Ip only when enabled', async (t) => {
  const backend = await startBackend()
  t.after(() => backend.close())
  const g = await startGateway({
    routes: {
      $connect: { type: 'http', url: `${backend.url}/ws/connect`, realIpHeader: true },
      $default: { type: 'http', url: `${backend.url}/ws/default` },
    },
  })
  t.after(() => g.close())
  // A client-sent X-Forwarded-For is replaced, not appended (the peer is no trusted proxy).
  const c = await connectClient(g.url, {
    headers: { 'X-Forwarded-For': '6.6.6.6', 'X-Real-Ip': '6.6.6.6' },
  })
  c.ws.send('m')
  await backend.waitFor((r) => r.url === '/ws/default')
  for (const r of backend.requests) {
    assert.equal(r.headers['x-forwarded-for'], '127.0.0.1')
    assert.equal(r.headers['x-forwarded-proto'], 'http')
    assert.equal(r.headers['x-forwarded-port'], String(g.port))
  }
  assert.equal(
    backend.requests.find((r) => r.url === '/ws/connect')?.headers['x-real-ip'],
    '127.0.0.1',
  )
  assert.equal(
    backend.requests.find((r) => r.url === '/ws/default')?.headers['x-real-ip'],
    undefined,
  )
  c.ws.close()
})

test('15 RequestParameters mappings are applied', async (t) => {
  const backend = await startBackend()
  t.after(() => backend.close())
  const g = await startGateway({
    stage: 'dev',
    routes: {
      $connect: {
        type: 'http',
        url: `${backend.url}/ws/connect`,
        requestParameters: {
          'integration.request.header.X-Conn': 'context.connectionId',
          'integration.request.header.X-Channel': 'route.request.querystring.channel',
          'integration.request.header.X-From-Header': 'route.request.header.X-Custom',
          'integration.request.querystring.stage': 'context.stage',
          'integration.request.header.X-Static': "'fixed'",
        },
      },
      $default: {
        type: 'http',
        url: `${backend.url}/ws/default`,
        requestParameters: {
          'integration.request.header.X-Action': 'route.request.body.action',
          'integration.request.header.X-Route': 'context.routeKey',
          'integration.request.header.X-Channel': 'route.request.querystring.channel',
        },
      },
    },
  })
  t.after(() => g.close())
  const c = await connectClient(`${g.url}?channel=room`, { headers: { 'X-Custom': 'hdr' } })
  c.ws.send('{"action":"join"}')
  const message = await backend.waitFor((r) => r.url === '/ws/default')
  const connect = backend.requests.find((r) => r.url.startsWith('/ws/connect'))
  assert.match(String(connect?.headers['x-conn']), ID)
  assert.equal(rawHeader(connect?.rawHeaders ?? [], 'x-conn')?.name, 'X-Conn')
  assert.equal(connect?.headers['x-channel'], 'room')
  assert.equal(connect?.headers['x-from-header'], 'hdr')
  assert.equal(connect?.headers['x-static'], 'fixed')
  assert.equal(connect?.url, '/ws/connect?channel=room&stage=dev')
  assert.equal(message.headers['x-action'], 'join')
  assert.equal(message.headers['x-route'], '$default')
  assert.equal(
    message.headers['x-channel'],
    undefined,
    'route.request.querystring exists on $connect only',
  )
  // A mapping may not replace what frames or authenticates the call.
  assert.throws(
    () =>
      resolveGatewayOptions({
        routes: {
          $default: {
            type: 'http',
            url: backend.url,
            requestParameters: { 'integration.request.header.Host': "'x'" },
          },
        },
      }),
    (err) => isGatehouseError(err, 'ERR_INVALID_OPTION'),
  )
  c.ws.close()
})

test('16 integration requests always have Content-Length; connect/disconnect bodies empty; message body raw', async (t) => {
  const backend = await startBackend()
  t.after(() => backend.close())
  const routes: Record<string, Integration> = {}
  for (const key of ['$connect', '$disconnect', '$default'])
    routes[key] = { type: 'http', url: `${backend.url}/ws/${key.slice(1)}` }
  const g = await startGateway({ routes })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  const body = '{"action":"send","text":"héllo ✓ \\u0000"}  '
  c.ws.send(body)
  await backend.waitFor((r) => r.url === '/ws/default')
  c.ws.close()
  await backend.waitFor((r) => r.url === '/ws/disconnect')
  for (const r of backend.requests) {
    assert.equal(r.headers['transfer-encoding'], undefined)
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.body)))
  }
  assert.equal(backend.requests.find((r) => r.url === '/ws/connect')?.body, '')
  assert.equal(backend.requests.find((r) => r.url === '/ws/disconnect')?.body, '')
  assert.equal(backend.requests.find((r) => r.url === '/ws/default')?.body, body)
})

test('17 the integration timeout is honoured (default 29 s, max 29 s)', async (t) => {
  assert.equal(resolveGatewayOptions().integrationTimeoutMs, 29_000)
  assert.throws(
    () => resolveGatewayOptions({ integrationTimeoutMs: 29_001 }),
    (err) => isGatehouseError(err, 'ERR_INVALID_OPTION'),
  )
  const backend = await startBackend((r) =>
    r.body === 'slow' ? { status: 200, body: 'late', delayMs: 600 } : { status: 200, body: 'fast' },
  )
  t.after(() => backend.close())
  const g = await startGateway({
    routes: {
      $default: { type: 'http', url: `${backend.url}/ws/default`, twoWay: true, timeoutMs: 100 },
    },
  })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  c.ws.send('slow')
  const err = JSON.parse(await c.next())
  assert.equal(err.message, 'Endpoint request timed out')
  c.ws.send('fast')
  assert.equal(await c.next(), 'fast')
  assert.deepEqual(await c.quiet(700), [], 'the late answer is never delivered')
  c.ws.close()
})

test('18 route selection evaluates $request.body paths and $-brace templates, stringifies, matches exactly', async (t) => {
  const app = recorder((e) => ({ status: 200, body: e.routeKey }))
  const routes = (keys: string[]): Record<string, Integration> =>
    Object.fromEntries(
      keys.map((k) => [k, { type: 'in-process', handler: app, twoWay: true } as Integration]),
    )
  const g = await startGateway({ routes: routes(['$default', 'join', '5', 'true', 'nested']) })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  const cases: Array<[string, string]> = [
    ['{"action":"join"}', 'join'],
    ['{"action":"JOIN"}', '$default'],
    ['{"action":" join"}', '$default'],
    ['{"action":5}', '5'],
    ['{"action":true}', 'true'],
    ['{"action":"nested","x":1}', 'nested'],
  ]
  for (const [message, expected] of cases) {
    c.ws.send(message)
    assert.equal(await c.next(), expected, message)
  }
  c.ws.close()
  const h = await startGateway({
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an API Gateway template, not JS
    routeSelectionExpression: '${request.body.service}/${request.body.action}',
    routes: routes(['$default', 'chat/join']),
  })
  t.after(() => h.close())
  const d = await connectClient(h.url)
  d.ws.send('{"service":"chat","action":"join"}')
  assert.equal(await d.next(), 'chat/join')
  d.ws.send('{"service":"chat","action":"leave"}')
  assert.equal(await d.next(), '$default')
  d.ws.close()
})

test('19 non-JSON or unmatched messages go to $default, and the event routeKey is $default', async (t) => {
  const app = recorder(() => ({ status: 200 }))
  const g = await startGateway({
    routes: {
      $default: { type: 'in-process', handler: app },
      known: { type: 'in-process', handler: app },
    },
  })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  for (const m of [
    'not json',
    '{"action":"unknown"}',
    '[1,2]',
    '{"other":1}',
    '{"action":"known"}',
  ])
    c.ws.send(m)
  await app.waitFor((e) => e.body === '{"action":"known"}')
  const byBody = new Map(app.events.map((e) => [e.body, e.routeKey]))
  assert.equal(byBody.get('not json'), '$default')
  assert.equal(byBody.get('{"action":"unknown"}'), '$default')
  assert.equal(byBody.get('[1,2]'), '$default')
  assert.equal(byBody.get('{"other":1}'), '$default')
  assert.equal(byBody.get('{"action":"known"}'), 'known')
  c.ws.close()
})

test('20 no match and no $default → {"message":"Forbidden","connectionId":…,"requestId":…}', async (t) => {
  const app = recorder()
  const g = await startGateway({
    routes: {
      $connect: { type: 'in-process', handler: app },
      join: { type: 'in-process', handler: app },
    },
  })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  const connect = await app.waitFor((e) => e.eventType === 'CONNECT')
  c.ws.send('{"action":"leave"}')
  const frame1 = JSON.parse(await c.next())
  assert.deepEqual(Object.keys(frame1).sort(), ['connectionId', 'message', 'requestId'])
  assert.equal(frame1.message, 'Forbidden')
  assert.equal(frame1.connectionId, connect.connectionId)
  assert.match(frame1.requestId, ID)
  assert.equal(app.events.filter((e) => e.eventType === 'MESSAGE').length, 0)
  c.ws.close()
})

test('21 integration failure on a message route → "Internal server error" frame', async (t) => {
  const app = recorder((e) => {
    if (e.body === 'throw') throw new Error('secret /etc/path detail')
    return { status: 200 }
  })
  const dead = await startBackend()
  await dead.close()
  const g = await startGateway({
    routes: {
      $connect: { type: 'in-process', handler: app },
      $default: { type: 'in-process', handler: app, twoWay: true },
      remote: { type: 'http', url: `${dead.url}/ws/remote`, twoWay: true },
    },
  })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  const connect = await app.waitFor((e) => e.eventType === 'CONNECT')
  c.ws.send('throw')
  const raw = await c.next()
  const err = JSON.parse(raw)
  assert.equal(err.message, 'Internal server error')
  assert.equal(err.connectionId, connect.connectionId)
  const event = app.events.find((e) => e.body === 'throw')
  assert.equal(err.requestId, event?.requestId)
  assert.doesNotMatch(raw, /secret|etc/)
  c.ws.send('{"action":"remote"}')
  assert.equal(JSON.parse(await c.next()).message, 'Internal server error')
  c.ws.close()
})

test('22 one-way routes send nothing; two-way routes send the body verbatim regardless of status', async (t) => {
  const app = recorder((e) => ({
    status: e.body === 'fail' ? 500 : 200,
    body: `reply to ${e.body}`,
  }))
  const g = await startGateway({
    routes: {
      $default: { type: 'in-process', handler: app, twoWay: true },
      quiet: { type: 'in-process', handler: app },
    },
  })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  c.ws.send('{"action":"quiet"}')
  c.ws.send('fail')
  assert.equal(await c.next(), 'reply to fail')
  c.ws.send('ok')
  assert.equal(await c.next(), 'reply to ok')
  assert.deepEqual(await c.quiet(100), [])
  assert.ok(
    app.events.some((e) => e.routeKey === 'quiet'),
    'the one-way route was called',
  )
  c.ws.close()
})

test('23 binary frames close the connection with 1003, with no integration call', async (t) => {
  const app = recorder()
  const g = await startGateway({ routes: appRoutes(app) })
  t.after(() => g.close())
  const client = await rawUpgrade(g.port)
  client.write(frame({ opcode: 0x2, payload: Buffer.from([1, 2, 3]) }))
  assert.equal((await client.closed()).code, 1003)
  const d = await app.waitFor((e) => e.eventType === 'DISCONNECT')
  assert.equal(d.disconnectStatusCode, 1003)
  assert.equal(app.events.filter((e) => e.eventType === 'MESSAGE').length, 0)
  // A binary first fragment is refused at its header, before the message completes.
  const partial = await rawUpgrade(g.port)
  partial.write(frame({ opcode: 0x2, payload: Buffer.alloc(10), fin: false }))
  assert.equal((await partial.closed()).code, 1003)
})

test('24 frames > 32 KB or messages > 128 KB close with 1009; fragmented messages ≤ 128 KB are reassembled', async (t) => {
  const app = recorder((e) => ({ status: 200, body: String(e.body?.length) }))
  const g = await startGateway({ routes: appRoutes(app) })
  t.after(() => g.close())
  const ok = await rawUpgrade(g.port)
  ok.write(text('a'.repeat(32_768)))
  assert.equal((await ok.nextFrame())?.payload.toString(), '32768')
  const parts = [
    text('a'.repeat(32_768), false),
    continuation('b'.repeat(32_768), false),
    continuation('c'.repeat(32_768), false),
    continuation('d'.repeat(32_768), true),
  ]
  ok.write(Buffer.concat(parts))
  assert.equal((await ok.nextFrame())?.payload.toString(), '131072')
  ok.destroy()

  const bigFrame = await rawUpgrade(g.port)
  bigFrame.write(text('a'.repeat(32_769)))
  assert.equal((await bigFrame.closed()).code, 1009)

  // A header alone declaring a huge frame is refused without waiting for its payload.
  const declared = await rawUpgrade(g.port)
  declared.write(frame({ opcode: 0x1, declaredLength: 2 ** 40, payload: Buffer.alloc(0) }))
  assert.equal((await declared.closed()).code, 1009)

  const bigMessage = await rawUpgrade(g.port)
  bigMessage.write(
    Buffer.concat([
      ...parts.slice(0, 4).map((p, i) => (i === 3 ? continuation('d'.repeat(32_768), false) : p)),
      continuation('e', true),
    ]),
  )
  assert.equal((await bigMessage.closed()).code, 1009)
  const sizes = app.events.filter((e) => e.eventType === 'MESSAGE').map((e) => e.body?.length)
  assert.deepEqual(sizes, [32_768, 131_072])
})

test('25 the idle timer counts data frames in both directions, not pings; expiry closes 1001 and fires $disconnect', async (t) => {
  const app = recorder()
  const g = await startGateway({
    routes: appRoutes(app, false),
    idleTimeoutMs: 300,
    sweepIntervalMs: 20,
    pingIntervalMs: 60_000,
  })
  t.after(() => g.close())
  // Kept alive by server pushes only: still open after three idle periods.
  const pushed = await connectClient(g.url)
  const pushedId = (await app.waitFor((e) => e.eventType === 'CONNECT')).connectionId
  for (let i = 0; i < 18; i++) {
    assert.equal(await g.gateway.connections.post(pushedId, 'tick'), true)
    await sleep(50)
  }
  assert.equal(pushed.ws.readyState, pushed.ws.OPEN)
  // Kept alive by client messages only.
  const talking = await connectClient(g.url)
  for (let i = 0; i < 18; i++) {
    talking.ws.send('x')
    await sleep(50)
  }
  assert.equal(talking.ws.readyState, talking.ws.OPEN)
  // Pings are no activity: closed with 1001.
  const pinging = await connectClient(g.url)
  const timer = setInterval(() => pinging.ws.ping(), 50)
  const closed = await pinging.closed
  clearInterval(timer)
  assert.equal(closed.code, 1001)
  const d = await app.waitFor((e) => e.eventType === 'DISCONNECT')
  assert.equal(d.disconnectStatusCode, 1001)
  pushed.ws.close()
  talking.ws.close()
})

test('26 the hard duration limit closes (1001) and fires $disconnect', async (t) => {
  const app = recorder()
  const g = await startGateway({
    routes: appRoutes(app, false),
    maxConnectionMs: 300,
    sweepIntervalMs: 20,
  })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  const timer = setInterval(() => {
    if (c.ws.readyState === c.ws.OPEN) c.ws.send('busy')
  }, 40)
  const closed = await c.closed
  clearInterval(timer)
  assert.equal(closed.code, 1001)
  const d = await app.waitFor((e) => e.eventType === 'DISCONNECT')
  assert.equal(d.disconnectStatusCode, 1001)
  assert.equal(d.disconnectReason, 'Going away')
})

test('27 client pings are answered with pong but do not reset the idle timer', async (t) => {
  const g = await startGateway({ idleTimeoutMs: 250, sweepIntervalMs: 20 })
  t.after(() => g.close())
  const c = await connectClient(g.url)
  const pong = new Promise<string>((r) => c.ws.once('pong', (data) => r(data.toString())))
  c.ws.ping('are you there')
  assert.equal(await pong, 'are you there')
  const timer = setInterval(() => c.ws.ping(), 40)
  const closed = await c.closed
  clearInterval(timer)
  assert.equal(closed.code, 1001)
})

test('28 $disconnect fires exactly once per established connection, after close, never for rejected $connect; errors swallowed', async (t) => {
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined
  const afterClose: Array<{ get: unknown; post: boolean }> = []
  const app = recorder(async (e) => {
    if (e.eventType === 'CONNECT' && e.query.reject) return { status: 401 }
    if (e.eventType === 'DISCONNECT' && gw) {
      afterClose.push({
        get: await gw.gateway.connections.get(e.connectionId),
        post: await gw.gateway.connections.post(e.connectionId, 'late'),
      })
      if (e.disconnectReason === 'explode') throw new Error('disconnect handler failed')
    }
    return { status: 200 }
  })
  gw = await startGateway({ routes: appRoutes(app) })
  const g = gw
  t.after(() => g.close())
  assert.equal(await refusedStatus(`${g.url}?reject=1`), 401)
  const a = await connectClient(g.url)
  a.ws.close(1000, 'explode')
  await app.waitFor((e) => e.eventType === 'DISCONNECT')
  // A server-initiated close (delete) while the client also closes: still exactly one.
  const b = await connectClient(g.url)
  const bId = app.events.filter((e) => e.eventType === 'CONNECT').at(-1)?.connectionId ?? ''
  await g.gateway.connections.delete(bId)
  b.ws.close()
  await app.waitFor((e) => e.eventType === 'DISCONNECT' && e.connectionId === bId)
  const c = await connectClient(g.url)
  c.ws.terminate()
  await sleep(150)
  const connects = app.events.filter((e) => e.eventType === 'CONNECT')
  const disconnects = app.events.filter((e) => e.eventType === 'DISCONNECT')
  assert.equal(connects.length, 4)
  assert.equal(disconnects.length, 3, 'one per established connection, none for the rejected one')
  assert.equal(new Set(disconnects.map((e) => e.connectionId)).size, 3)
  const rejected = connects.find((e) => e.query.reject)
  assert.ok(!disconnects.some((e) => e.connectionId === rejected?.connectionId))
  for (const seen of afterClose) assert.deepEqual(seen, { get: null, post: false })
  // The failing $disconnect left the gateway working.
  const d = await connectClient(g.url)
  d.ws.send('still fine')
  await app.waitFor((e) => e.body === 'still fine')
  d.ws.close()
})

test('29 Lambda proxy events match §2 field for field', async (t) => {
  const events: Array<Record<string, unknown>> = []
  const handler = async (event: unknown) => {
    events.push(event as Record<string, unknown>)
    return { statusCode: 200, body: 'from lambda' }
  }
  const routes: Record<string, Integration> = {
    $connect: { type: 'lambda', handler },
    $disconnect: { type: 'lambda', handler },
    $default: { type: 'lambda', handler, twoWay: true },
  }
  const g = await startGateway({ routes, apiId: 'lambda0001', stage: 'dev' })
  t.after(() => g.close())
  const c = await connectClient(`${g.url}?channel=room&x=1`, {
    headers: { 'User-Agent': 'UA/1', 'X-Custom-Header': 'v' },
  })
  c.ws.send('{"action":"x"}')
  assert.equal(await c.next(), 'from lambda')
  c.ws.close(1000, 'done')
  await sleep(100)
  for (let i = 0; i < 40 && events.length < 3; i++) await sleep(25)
  const [connect, message, disconnect] = events as Array<{
    headers?: Record<string, string>
    multiValueHeaders?: Record<string, string[]>
    queryStringParameters?: Record<string, string>
    body?: string
    isBase64Encoded: boolean
    requestContext: Record<string, unknown>
  }>
  assert.ok(connect && message && disconnect)
  const clf = /^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/
  // CONNECT: handshake headers in client casing, the query, no body, no messageId.
  assert.equal(connect.headers?.['X-Custom-Header'], 'v')
  assert.deepEqual(connect.multiValueHeaders?.['X-Custom-Header'], ['v'])
  assert.equal(connect.headers?.Upgrade, undefined)
  assert.deepEqual(connect.queryStringParameters, { channel: 'room', x: '1' })
  assert.equal(connect.body, undefined)
  assert.equal(connect.requestContext.eventType, 'CONNECT')
  assert.equal(connect.requestContext.routeKey, '$connect')
  assert.equal(connect.requestContext.messageId, undefined)
  // MESSAGE: body, messageId, no headers.
  assert.equal(message.body, '{"action":"x"}')
  assert.equal(message.headers, undefined)
  assert.equal(message.queryStringParameters, undefined)
  assert.equal(message.requestContext.eventType, 'MESSAGE')
  assert.equal(message.requestContext.routeKey, '$default')
  assert.match(String(message.requestContext.messageId), ID)
  // DISCONNECT: AWS's header stub and the close code.
  assert.deepEqual(Object.keys(disconnect.headers ?? {}).sort(), [
    'Host',
    'X-Forwarded-For',
    'x-api-key',
    'x-restapi',
  ])
  assert.equal(disconnect.requestContext.eventType, 'DISCONNECT')
  assert.equal(disconnect.requestContext.disconnectStatusCode, 1000)
  assert.equal(disconnect.requestContext.disconnectReason, 'done')
  const ids = new Set<unknown>()
  for (const e of [connect, message, disconnect]) {
    const rc = e.requestContext
    assert.equal(e.isBase64Encoded, false)
    assert.equal(rc.messageDirection, 'IN')
    assert.match(String(rc.requestTime), clf)
    assert.equal(rc.requestId, rc.extendedRequestId)
    assert.equal(rc.apiId, 'lambda0001')
    assert.equal(rc.stage, 'dev')
    assert.equal(rc.connectedAt, connect.requestContext.connectedAt)
    ids.add(rc.requestId)
  }
  assert.equal(ids.size, 3, 'a new requestId per event')
})

test('30 identity.sourceIp/userAgent from the handshake on all events; connectedAt constant', async (t) => {
  const app = recorder()
  const g = await startGateway({ routes: appRoutes(app, false) })
  t.after(() => g.close())
  const c = await connectClient(g.url, {
    headers: { 'User-Agent': 'Agent/7' },
    localAddress: '127.0.0.7',
  })
  c.ws.send('one')
  c.ws.send('two')
  await app.waitFor((e) => e.body === 'two')
  c.ws.close()
  await app.waitFor((e) => e.eventType === 'DISCONNECT')
  const connectedAt = app.events[0]?.connectedAt
  assert.equal(app.events.length, 4)
  for (const e of app.events) {
    assert.equal(e.sourceIp, '127.0.0.7')
    assert.equal(e.userAgent, 'Agent/7')
    assert.equal(e.connectedAt, connectedAt)
  }
  const info = await g.gateway.connections.get(app.events[0]?.connectionId ?? '')
  assert.equal(info, null)
})

test('31 $disconnect carries disconnectStatusCode/Reason: the client close frame, or 1000 for DeleteConnection', async (t) => {
  const app = recorder()
  const g = await startGateway({ routes: appRoutes(app, false) })
  t.after(() => g.close())
  const a = await rawUpgrade(g.port)
  const aId = (await app.waitFor((e) => e.eventType === 'CONNECT')).connectionId
  a.write(closeFrame(4001, 'client bye'))
  const da = await app.waitFor((e) => e.eventType === 'DISCONNECT' && e.connectionId === aId)
  assert.equal(da.disconnectStatusCode, 4001)
  assert.equal(da.disconnectReason, 'client bye')
  const b = await connectClient(g.url)
  const bId = (await app.waitFor((e) => e.eventType === 'CONNECT' && e.connectionId !== aId))
    .connectionId
  assert.equal(await g.gateway.connections.delete(bId), true)
  const closed = await b.closed
  assert.equal(closed.code, 1000)
  const db = await app.waitFor((e) => e.eventType === 'DISCONNECT' && e.connectionId === bId)
  assert.equal(db.disconnectStatusCode, 1000)
  assert.equal(db.disconnectReason, 'Connection Closed Normally')
  assert.equal(await g.gateway.connections.delete(bId), false)
})

test('32 requestContext domainName/stage/apiId are configurable', async (t) => {
  const app = recorder()
  const g = await startGateway({
    routes: appRoutes(app, false),
    stage: 'staging',
    apiId: 'abc123defg',
    domainName: 'localhost:9999',
  })
  t.after(() => g.close())
  assert.equal(g.gateway.stage, 'staging')
  assert.equal(g.gateway.apiId, 'abc123defg')
  const c = await connectClient(`ws://127.0.0.1:${g.port}/staging`)
  c.ws.send('m')
  await app.waitFor((e) => e.eventType === 'MESSAGE')
  for (const e of app.events) {
    const event: GatewayEvent = e
    assert.equal(event.domainName, 'localhost:9999')
    assert.equal(event.stage, 'staging')
    assert.equal(event.apiId, 'abc123defg')
  }
  c.ws.close()
  // Without a configured domain name: the address the client reached, never its Host header.
  const app2 = recorder()
  const h = await startGateway({ routes: appRoutes(app2, false) })
  t.after(() => h.close())
  const d = await connectClient(h.url, { headers: { Host: 'evil.example' } })
  const e2 = await app2.waitFor((e) => e.eventType === 'CONNECT')
  assert.equal(e2.domainName, `127.0.0.1:${h.port}`)
  assert.match(h.gateway.apiId, /^[a-z0-9]{10}$/)
  d.ws.close()
})
