/**
 * Fault scenario 1: the app behind the HTTP integration is down (nothing listens; pooled
 * sockets reset). `$connect` is refused with 502 and a generic body, at once and well within
 * the integration timeout; a message on a socket that was already open gets AWS's error
 * frame; when the app comes back the gateway recovers without a restart, and a token
 * presented during the outage was never burnt (it never reached the app).
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { createGateway, type Gateway } from '../../src/gateway/index.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import {
  attempt,
  FAULT_SECRET,
  type FaultApp,
  faultApp,
  GENERIC_BODY,
  nextMessage,
  serveApp,
} from '../support/fault-app.ts'
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.ts'

const INTEGRATION_TIMEOUT_MS = 3_000

let fa: FaultApp
let backend: Awaited<ReturnType<typeof serveApp>>
let proxy: FaultProxy
let gateway: Gateway
let url: string

before(async () => {
  fa = faultApp(createMemoryStore(), { gatewaySecret: FAULT_SECRET })
  backend = await serveApp(fa.app)
  proxy = await startFaultProxy({ host: '127.0.0.1', port: backend.port })
  const route = (name: string, twoWay = false) => ({
    type: 'http' as const,
    url: `http://${proxy.host}/ws/${name}`,
    secret: FAULT_SECRET,
    ...(twoWay ? { twoWay } : {}),
  })
  gateway = createGateway({
    integrationTimeoutMs: INTEGRATION_TIMEOUT_MS,
    routes: {
      $connect: route('connect'),
      $disconnect: route('disconnect'),
      $default: route('default', true),
    },
  })
  url = (await gateway.listen()).url
})

after(async () => {
  await gateway.close({ drainMs: 1_000 })
  await proxy.close()
  await new Promise<void>((resolve) => backend.server.close(() => resolve()))
})

test('app down: 502 with a generic body at once, the error frame for messages, recovery without restart', {
  timeout: 60_000,
}, async () => {
  const open = await attempt(url, 'alice', await fa.issue('alice'))
  assert.equal(open.status, 101)
  const ws = open.ws!
  ws.send('{"action":"echo","n":1}')
  assert.equal((await nextMessage(ws, 10_000)).n, 1)

  await proxy.down()
  const token = await fa.issue('bob')
  const refused = []
  for (let i = 0; i < 5; i++) refused.push(await attempt(url, 'bob', token))
  for (const r of refused) {
    assert.equal(r.status, 502, 'an unreachable app is a bad gateway, never an open socket')
    assert.match(r.body, GENERIC_BODY)
    assert.ok(r.ms < INTEGRATION_TIMEOUT_MS, `refused in ${r.ms} ms, within the timeout`)
  }

  ws.send('{"action":"echo","n":2}')
  const frame = await nextMessage(ws, INTEGRATION_TIMEOUT_MS + 5_000)
  assert.equal(frame.message, 'Internal server error')
  assert.equal(typeof frame.connectionId, 'string')
  assert.equal(typeof frame.requestId, 'string')
  assert.deepEqual(Object.keys(frame).sort(), ['connectionId', 'message', 'requestId'])

  const back = performance.now()
  await proxy.forward()
  let first: Awaited<ReturnType<typeof attempt>> | undefined
  let tries = 0
  while (performance.now() - back < 20_000) {
    tries++
    // The token from the outage: it never reached the app, so it is still unused.
    const a = await attempt(url, 'bob', token)
    if (a.status === 101) {
      first = a
      break
    }
    assert.equal(a.status, 502, `while recovering only 502 is expected, got ${a.status}`)
    await new Promise((r) => setTimeout(r, 25))
  }
  assert.ok(first, 'a connect succeeded after the app came back, without a gateway restart')
  const recoveredMs = performance.now() - back
  ws.send('{"action":"echo","n":3}')
  assert.equal((await nextMessage(ws, 10_000)).n, 3, 'the socket open through the outage works')
  first.ws!.close()
  ws.close()
  console.log(
    `figure: app down: $connect refused 502 in ${Math.max(...refused.map((r) => r.ms)).toFixed(1)} ms (max of 5); ` +
      `first success ${recoveredMs.toFixed(1)} ms after the app was back (${tries} tries, same token)`,
  )
})
