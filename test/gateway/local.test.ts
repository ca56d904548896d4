import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type App, createApp } from '../../src/app/create-app.ts'
import { isGatehouseError } from '../../src/errors.ts'
import type { EventHandler } from '../../src/events/event.ts'
import { createLocalGateway } from '../../src/gateway/local.ts'
import type { Connections } from '../../src/push/connections.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import { connectClient } from '../conformance/gateway/support/harness.ts'

const ORIGIN = 'http://127.0.0.1:3000'

/** An anonymous app (no tokens) so the test needs no token endpoint. */
function anonymousApp(connections: Connections, seen: string[] = []): App {
  return createApp({
    store: createMemoryStore(),
    connections,
    useToken: false,
    allowedOrigins: [ORIGIN],
    requireChannel: true,
    onConnect: ({ session }) => {
      seen.push(`connect:${session.channel}`)
    },
    onDisconnect: () => {
      seen.push('disconnect')
    },
    handlers: { echo: (ctx) => ({ type: 'echo', text: ctx.body.text }) },
  })
}

describe('createLocalGateway', () => {
  test('wires both ways without late binding: connect, two-way reply, push and disconnect reach the app', async (t) => {
    const seen: string[] = []
    let given: Connections | undefined
    const { gateway, app } = createLocalGateway({
      port: 0,
      app: (connections) => {
        given = connections
        return anonymousApp(connections, seen)
      },
    })
    t.after(() => gateway.close({ drainMs: 500 }))
    assert.equal(given, gateway.connections, 'the app is built from the gateway’s own port')
    const { url } = await gateway.listen()

    // The app's $connect checks run: a foreign Origin and a missing channel are refused.
    await assert.rejects(
      connectClient(`${url}?channel=lobby`, { headers: { origin: 'http://evil.test' } }),
      {
        status: 403,
      },
    )
    await assert.rejects(connectClient(url, { headers: { origin: ORIGIN } }), { status: 400 })

    const client = await connectClient(`${url}?channel=lobby`, { headers: { origin: ORIGIN } })
    client.ws.send('{"action":"echo","text":"hi"}')
    assert.deepEqual(JSON.parse(await client.next()), { type: 'echo', text: 'hi' })
    // The app pushes through the gateway it was built from.
    assert.deepEqual(await app.send.toChannel('lobby', { type: 'news' }), { sent: 1, gone: 0 })
    assert.deepEqual(JSON.parse(await client.next()), { type: 'news' })
    client.ws.close()
    await client.closed
    for (let i = 0; i < 50 && !seen.includes('disconnect'); i++) {
      await new Promise((r) => setTimeout(r, 10))
    }
    assert.deepEqual(seen, ['connect:lobby', 'disconnect'])
  })

  test('twoWay: false makes $default one-way (handler results are not sent back)', async (t) => {
    const { gateway } = createLocalGateway({ port: 0, twoWay: false, app: (c) => anonymousApp(c) })
    t.after(() => gateway.close({ drainMs: 500 }))
    const { url } = await gateway.listen()
    const client = await connectClient(`${url}?channel=lobby`, { headers: { origin: ORIGIN } })
    client.ws.send('{"action":"echo","text":"hi"}')
    assert.deepEqual(await client.quiet(200), [])
    client.ws.close()
  })

  test('refuses what it cannot wire, naming the option', () => {
    const handler: EventHandler = { handle: async () => ({ status: 200 }) }
    const cases: Array<[unknown, string, string]> = [
      [undefined, 'ERR_INVALID_OPTION', 'options'],
      [{ port: 0 }, 'ERR_INVALID_OPTION', 'app'],
      [{ app: handler }, 'ERR_INVALID_OPTION', 'app'],
      [{ app: () => null }, 'ERR_INVALID_OPTION', 'app'],
      [{ app: () => ({}) }, 'ERR_INVALID_OPTION', 'app'],
      [{ app: () => handler, twoWay: 'yes' }, 'ERR_INVALID_OPTION', 'twoWay'],
      [{ app: () => handler, allowedOrigins: [ORIGIN] }, 'ERR_INVALID_OPTION', 'allowedOrigins'],
      [{ app: () => handler, idleTimeoutMs: null }, 'ERR_INVALID_OPTION', 'idleTimeoutMs'],
      [
        { app: () => handler, routes: { $default: { type: 'in-process', handler } } },
        'ERR_OPTION_CONFLICT',
        'routes',
      ],
    ]
    for (const [options, code, key] of cases) {
      assert.throws(
        () => createLocalGateway(options as never),
        (e) => isGatehouseError(e, code as never) && e.message.includes(key),
        key,
      )
    }
  })

  test('an app factory that throws: the error comes through (an invalid app option stays an option error)', () => {
    assert.throws(
      () =>
        createLocalGateway({
          app: (connections) =>
            createApp({ store: createMemoryStore(), connections, useToken: 'yes' as never }),
        }),
      (e) => isGatehouseError(e, 'ERR_INVALID_OPTION') && e.message.includes('useToken'),
    )
  })
})
