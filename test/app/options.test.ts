/**
 * createApp options: every malformed option is refused at construction with a GatehouseError
 * naming the key, and nothing is read from the caller's object afterwards.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { resolveAppConfig } from '../../src/app/config.ts'
import { createApp } from '../../src/app/create-app.ts'
import type { AppOptions, HandlerFn, User } from '../../src/app/types.ts'
import { DEFAULTS } from '../../src/defaults.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { createGateway } from '../../src/gateway/gateway.ts'
import { parseCookies } from '../../src/http/cookies.ts'
import { createMemoryConnections } from '../../src/push/memory.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import { appFixture, ORIGIN, SID, USERS } from '../support/app-fixture.ts'

const OPTION_CODES = new Set(['ERR_INVALID_OPTION', 'ERR_OPTION_CONFLICT', 'ERR_HANDLER_INVALID'])
const run: HandlerFn = () => ({ type: 'ok' })

/** A valid base: the options every malformed case changes one key of. */
function base(): AppOptions {
  return {
    store: createMemoryStore(),
    connections: createMemoryConnections(),
    identify: () => ({ sessionId: null }),
    loadUser: () => null,
    permissions: { anyOf: ['chat.use'] },
  }
}

/** Asserts `build()` throws a GatehouseError option error whose message names `key`. */
function assertRefused(build: () => unknown, key: string, code?: string): void {
  assert.throws(build, (err: unknown) => {
    assert.ok(isGatehouseError(err), `not a GatehouseError: ${String(err)}`)
    assert.ok(OPTION_CODES.has(err.code), `code ${err.code}`)
    if (code !== undefined) assert.equal(err.code, code)
    assert.ok(err.message.includes(key), `message names \`${key}\`: ${err.message}`)
    return true
  })
}

/** Each malformed option users reported, with the key the error must name. */
const MALFORMED: ReadonlyArray<[string, Record<string, unknown>, string]> = [
  ['a typo in the permission rule', { permissions: { anyof: ['chat.use'] } }, 'permissions.anyof'],
  ['a list instead of a rule', { permissions: ['chat.use'] }, 'permissions'],
  ['a string instead of a list', { permissions: { anyOf: 'chat.use' } }, 'permissions.anyOf'],
  ['an empty list', { permissions: { anyOf: [] } }, 'permissions.anyOf'],
  ['a rule with no list', { permissions: {} }, 'permissions'],
  ['a non-string permission', { permissions: { allOf: [1] } }, 'permissions.allOf[0]'],
  ['an empty permission name', { permissions: { allOf: [''] } }, 'permissions.allOf[0]'],
  ['permissions: null', { permissions: null }, 'permissions'],
  ['unknown key allowedOrigin', { allowedOrigin: [ORIGIN] }, 'allowedOrigin'],
  ['unknown key gatewaySecrets', { gatewaySecrets: 'x'.repeat(32) }, 'gatewaySecrets'],
  ["useToken: 'yes'", { useToken: 'yes' }, 'useToken'],
  ["requireChannel: 'no'", { requireChannel: 'no' }, 'requireChannel'],
  ['requireOrigin: 1', { requireOrigin: 1 }, 'requireOrigin'],
  ["allowSameSite: 'yes'", { allowSameSite: 'yes' }, 'allowSameSite'],
  ['authorizeChannel: true', { authorizeChannel: true }, 'authorizeChannel'],
  ['connections: {}', { connections: {} }, 'connections'],
  ['store: {}', { store: {} }, 'store'],
  ["actionKey: ''", { actionKey: '' }, 'actionKey'],
  ["tokenQueryParam: ''", { tokenQueryParam: '' }, 'tokenQueryParam'],
  ['tokenQueryParam naming the channel', { tokenQueryParam: 'channel' }, 'tokenQueryParam'],
  [
    "handler permissions: 'a'",
    { handlers: { kick: { run, permissions: 'a' } } },
    'handlers.kick.permissions',
  ],
  [
    'a typo in a handler spec',
    { handlers: { kick: { run, permision: { anyOf: ['x'] } } } },
    'handlers.kick.permision',
  ],
  ['handlers: a list', { handlers: [run] }, 'handlers'],
  [
    'a handler spec without run',
    { handlers: { kick: { permissions: { anyOf: ['x'] } } } },
    'handlers.kick.run',
  ],
  ['connectChecks: fn', { connectChecks: () => true }, 'connectChecks'],
  ['connectChecks: [true]', { connectChecks: [true] }, 'connectChecks[0]'],
  ['identify: a string', { identify: 'cookie' }, 'identify'],
  ['loadUser: null', { loadUser: null }, 'loadUser'],
  ['onConnect: an object', { onConnect: {} }, 'onConnect'],
  ['onDisconnect: true', { onDisconnect: true }, 'onDisconnect'],
  ['allowedOrigins: a string', { allowedOrigins: ORIGIN }, 'allowedOrigins'],
  ['allowedOrigins: a path', { allowedOrigins: [`${ORIGIN}/x`] }, 'allowedOrigins'],
  ['allowedHosts: a string', { allowedHosts: 'app.example.com' }, 'allowedHosts'],
  ['requiredHeaders: a string', { requiredHeaders: 'user-agent' }, 'requiredHeaders'],
  ['requiredHeaders: not a name', { requiredHeaders: ['a b'] }, 'requiredHeaders'],
  ['gatewaySecret: short', { gatewaySecret: 'short' }, 'gatewaySecret'],
  [
    'gatewaySecret with allowUnsignedGateway',
    { gatewaySecret: 'x'.repeat(32), allowUnsignedGateway: true },
    'allowUnsignedGateway',
  ],
  ['connectLimitPerIp: null', { connectLimitPerIp: null }, 'connectLimitPerIp'],
  ["maxMessageBytes: '1'", { maxMessageBytes: '1' }, 'maxMessageBytes'],
  ['goneGraceMs: -1', { goneGraceMs: -1 }, 'goneGraceMs'],
  ['sessionCacheTtlMs: -1', { sessionCacheTtlMs: -1 }, 'sessionCacheTtlMs'],
  ['sessionCacheMaxEntries: 0', { sessionCacheMaxEntries: 0 }, 'sessionCacheMaxEntries'],
  ['activityFlushMs: 5', { activityFlushMs: 5 }, 'activityFlushMs'],
  ['tokenTtlMs: 10', { tokenTtlMs: 10 }, 'tokenTtlMs'],
  ['tokenIssueLimit: 0', { tokenIssueLimit: 0 }, 'tokenIssueLimit'],
  ['tokenIssueWindowMs: 1.5', { tokenIssueWindowMs: 1.5 }, 'tokenIssueWindowMs'],
  ["csrfCookieName: 'a b'", { csrfCookieName: 'a b' }, 'csrfCookieName'],
  ["csrfHeaderName: ''", { csrfHeaderName: '' }, 'csrfHeaderName'],
  ["appId: 'my app'", { appId: 'my app' }, 'appId'],
  ["appId: ''", { appId: '' }, 'appId'],
  ['appId: 65 characters', { appId: 'a'.repeat(65) }, 'appId'],
  ["channelPattern: 'lobby'", { channelPattern: 'lobby' }, 'channelPattern'],
  ['clock: {}', { clock: {} }, 'clock'],
  ['logger: console.log', { logger: { info: () => {} } }, 'logger'],
  ['useToken: false with permissions', { useToken: false }, 'permissions'],
]

describe('createApp refuses malformed options, naming the key', () => {
  for (const [name, change, key] of MALFORMED) {
    test(name, () => {
      assertRefused(() => createApp({ ...base(), ...change } as AppOptions), key)
    })
  }

  test('options that are not an object', () => {
    for (const options of [undefined, null, 'store', [base()]]) {
      assertRefused(() => createApp(options as unknown as AppOptions), 'options')
    }
  })

  test('identify and loadUser are required with useToken on', () => {
    const { identify: _i, ...noIdentify } = base()
    assertRefused(() => createApp(noIdentify), 'identify')
    const { loadUser: _l, ...noLoadUser } = base()
    assertRefused(() => createApp(noLoadUser), 'loadUser')
  })

  test('what the malformed options meant is refused by the well-formed option', async () => {
    // eve has no permissions: the intended rule refuses her, and the typo no longer builds an
    // app that lets her in (it used to connect her and run her handlers).
    const strict = await appFixture({ permissions: { anyOf: ['chat.use'] } })
    const eve = strict.connectEvent({ sid: SID.eve, token: await strict.issue('eve') })
    assert.equal((await strict.app.handle(eve)).status, 403)
    assertRefused(
      () => createApp({ ...base(), permissions: { anyof: ['chat.use'] } } as never),
      'anyof',
    )
    assertRefused(() => createApp({ ...base(), permissions: ['chat.use'] } as never), 'permissions')

    // The intended allowedOrigins refuses a foreign page; the typo is refused outright.
    const origins = await appFixture({ allowedOrigins: ['https://app.example.com'] })
    const foreign = origins.connectEvent({ token: await origins.issue('alice'), origin: ORIGIN })
    assert.equal((await origins.app.handle(foreign)).status, 403)

    // The intended handler rule refuses alice's kick; `permissions: 'a'` is refused outright.
    const calls: string[] = []
    const kick = {
      run: () => {
        calls.push('kick')
        return { type: 'kicked' }
      },
      permissions: { anyOf: ['chat.moderate'] },
    }
    const f = await appFixture({ handlers: { kick } })
    const id = await f.connect('alice')
    await f.app.handle(f.messageEvent(id, '{"action":"kick","user":"bob"}'))
    assert.deepEqual(calls, [])
  })

  test('a fast-check property: any one option replaced by any value either throws an option error naming it, or the app still refuses eve and a missing token', async () => {
    const keys = [
      'appId',
      'connections',
      'handlers',
      'useToken',
      'identify',
      'loadUser',
      'permissions',
      'allowedOrigins',
      'requireOrigin',
      'allowedHosts',
      'requiredHeaders',
      'gatewaySecret',
      'allowUnsignedGateway',
      'authorizeChannel',
      'requireChannel',
      'connectChecks',
      'onConnect',
      'onDisconnect',
      'connectLimitPerIp',
      'connectWindowMs',
      'maxMessageBytes',
      'goneGraceMs',
      'maxJsonDepth',
      'actionKey',
      'channelPattern',
      'tokenQueryParam',
      'tokenTtlMs',
      'tokenIssueLimit',
      'csrfCookieName',
      'allowSameSite',
      'clock',
      'logger',
      // Typos and keys of other parts.
      'allowedOrigin',
      'permission',
      'anyOf',
      'gatewaySecrets',
      'use_token',
      'routes',
      'idleTimeoutMs',
    ]
    const value = fc.oneof(
      fc.anything(),
      fc.constantFrom(true, false, '', 'yes', 0, -1, 1.5, null, [], {}, () => true),
      fc.record({ anyOf: fc.array(fc.string(), { maxLength: 3 }) }, { requiredKeys: [] }),
      fc.record({ anyof: fc.array(fc.string()) }),
      fc.array(fc.string(), { maxLength: 3 }),
    )
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...keys), value, async (key, v) => {
        let f: Awaited<ReturnType<typeof appFixture>>
        try {
          f = await appFixture({ [key]: v } as Partial<AppOptions>)
        } catch (err) {
          assert.ok(isGatehouseError(err), `not a GatehouseError: ${String(err)}`)
          assert.ok(OPTION_CODES.has(err.code), err.code)
          assert.ok(err.message.includes(key), `${key}: ${err.message}`)
          return
        }
        // Accepted: whatever the value, eve (no permissions) and a tokenless alice stay out.
        // (`permissions: undefined` is the one value that means "no rule": eve may then connect.)
        if (!(key === 'permissions' && v === undefined)) {
          const eve = f.connectEvent({ sid: SID.eve, token: await f.issue('eve') })
          assert.notEqual((await f.app.handle(eve)).status, 200, `${key}: eve connected`)
        }
        const noToken = f.connectEvent({ sid: SID.alice, token: null })
        assert.notEqual((await f.app.handle(noToken)).status, 200, `${key}: no token connected`)
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 300) },
    )
  })
})

describe('createGateway refuses the same kind of mistakes, naming the key', () => {
  const handler = { handle: async () => ({ status: 200 }) }
  const cases: ReadonlyArray<[string, Record<string, unknown>, string]> = [
    ['an unknown key', { allowedOrigin: [ORIGIN] }, 'allowedOrigin'],
    ['an app option', { gatewaySecret: 'x'.repeat(32) }, 'gatewaySecret'],
    ["port: '3001'", { port: '3001' }, 'port'],
    ['port: null', { port: null }, 'port'],
    ['host: null', { host: null }, 'host'],
    ['idleTimeoutMs: null', { idleTimeoutMs: null }, 'idleTimeoutMs'],
    ['trustedProxies: a string', { trustedProxies: '10.0.0.1' }, 'trustedProxies'],
    ['trustedProxies: null', { trustedProxies: null }, 'trustedProxies'],
    ['routes: a list', { routes: [] }, 'routes'],
    [
      'a route with an unknown field',
      { routes: { $default: { type: 'in-process', handler, twoway: true } } },
      'twoway',
    ],
    [
      "twoWay: 'yes'",
      { routes: { $default: { type: 'in-process', handler, twoWay: 'yes' } } },
      'twoWay',
    ],
    [
      'an in-process route without a handler',
      { routes: { $connect: { type: 'in-process', handler: {} } } },
      'handler',
    ],
    ['clock: null', { clock: null }, 'clock'],
    [
      'a malformed route selection expression',
      { routeSelectionExpression: '$' },
      'routeSelectionExpression',
    ],
    ['logger: {}', { logger: {} }, 'logger'],
  ]
  for (const [name, options, key] of cases) {
    test(name, () => {
      assertRefused(() => createGateway(options as never), key)
    })
  }

  test('a fast-check property: any one option set to any value is refused naming it, or accepted', async () => {
    const keys = [
      'port',
      'host',
      'stage',
      'apiId',
      'domainName',
      'routes',
      'routeSelectionExpression',
      'maxMessageBytes',
      'maxFrameBytes',
      'idleTimeoutMs',
      'integrationTimeoutMs',
      'maxConnections',
      'trustedProxies',
      'trustedHops',
      'clock',
      'logger',
      'allowedOrigins',
      'idleTimeout',
      'route',
    ]
    const value = fc.oneof(
      fc.anything(),
      fc.constantFrom(null, '', 0, -1, 1.5, 2 ** 53, [], {}, ['10.0.0.0/8'], ['not-an-ip']),
      fc.dictionary(fc.constantFrom('$connect', '$default', '$bad', 'chat'), fc.anything(), {
        maxKeys: 2,
      }),
    )
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...keys), value, async (key, v) => {
        let gateway: ReturnType<typeof createGateway>
        try {
          gateway = createGateway({ [key]: v } as never)
        } catch (err) {
          assert.ok(isGatehouseError(err), `not a GatehouseError: ${String(err)}`)
          assert.ok(OPTION_CODES.has(err.code), err.code)
          assert.ok(err.message.includes(key), `${key}: ${err.message}`)
          return
        }
        await gateway.close({ drainMs: 0 })
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 300) },
    )
  })
})

describe('changing the options object after createApp changes nothing', () => {
  /** A mutable options object, a fixture-like harness, and the user directory it reads. */
  async function harness() {
    const users = new Map<string, User>(USERS)
    const calls: string[] = []
    const options = {
      store: createMemoryStore(),
      connections: createMemoryConnections(),
      allowedOrigins: [ORIGIN],
      allowedHosts: ['127.0.0.1:3001'],
      requiredHeaders: ['host'],
      identify: (event: { headers: Record<string, string> }) => {
        const sid = parseCookies(event.headers.cookie).get('sessionid') ?? null
        const userId = sid === null ? null : (sid.split('-')[1] ?? null)
        return { sessionId: sid, userId }
      },
      loadUser: (id: string) => users.get(id) ?? null,
      permissions: { anyOf: ['chat.use'], allOf: ['chat.use'] },
      connectChecks: [() => true] as Array<() => boolean>,
      handlers: {
        send_message: () => {
          calls.push('send_message')
          return { type: 'ok' }
        },
        kick: {
          permissions: { anyOf: ['chat.moderate'] },
          run: () => {
            calls.push('kick')
            return { type: 'kicked' }
          },
        },
      } as Record<string, unknown>,
      channelPattern: /^[a-z]{1,16}$/,
      actionKey: 'action',
    }
    const f = await appFixture(options as unknown as Partial<AppOptions>)
    return { f, options, calls }
  }

  test('permissions spliced, loadUser and identify replaced, lists pushed, handlers replaced: the app behaves as constructed', async () => {
    const { f, options, calls } = await harness()
    const aliceToken = await f.issue('alice')
    const eveToken = await f.issue('eve')
    const bobToken = await f.issue('bob')

    // Every kind of change a caller (or an attacker with a reference) could make later.
    options.permissions.anyOf.splice(0, 1, 'something.else')
    options.permissions.allOf.splice(0)
    ;(options as Record<string, unknown>).permissions = undefined
    options.loadUser = () => null
    options.identify = () => ({ sessionId: null, userId: null })
    options.allowedOrigins.push('https://evil.example')
    options.allowedHosts.splice(0)
    options.requiredHeaders.push('x-missing')
    options.connectChecks.splice(0, 1, () => false)
    options.handlers.send_message = () => {
      calls.push('replaced')
      return { type: 'replaced' }
    }
    options.handlers.admin = () => {
      calls.push('admin')
      return { type: 'admin' }
    }
    ;(options.handlers.kick as { permissions: unknown }).permissions = undefined
    options.channelPattern.compile('^.*$')
    ;(options as Record<string, unknown>).actionKey = 'handler'
    ;(options as Record<string, unknown>).useToken = false

    // alice still connects (identify, loadUser, origins, hosts, headers, checks as built).
    const alice = f.connectEvent({ sid: SID.alice, token: aliceToken })
    assert.equal((await f.app.handle(alice)).status, 200)
    f.connections.open(alice.connectionId)
    // eve still lacks chat.use; the spliced rule is not the app's rule.
    assert.equal(
      (await f.app.handle(f.connectEvent({ sid: SID.eve, token: eveToken }))).status,
      403,
    )
    // The pushed origin was not allowed; the channel pattern is the one given at construction.
    const evil = f.connectEvent({ sid: SID.bob, token: bobToken, origin: 'https://evil.example' })
    assert.equal((await f.app.handle(evil)).status, 403)
    const badChannel = f.connectEvent({ sid: SID.bob, token: bobToken, channel: 'LOBBY_9' })
    assert.equal((await f.app.handle(badChannel)).status, 400)
    // No token is still refused (useToken was on at construction).
    assert.equal((await f.app.handle(f.connectEvent({ sid: SID.bob, token: null }))).status, 401)

    // The handler table is the one given: the replaced and added handlers never run, and
    // kick still needs chat.moderate.
    await f.app.handle(f.messageEvent(alice.connectionId, '{"action":"send_message"}'))
    await f.app.handle(f.messageEvent(alice.connectionId, '{"action":"admin"}'))
    await f.app.handle(f.messageEvent(alice.connectionId, '{"action":"kick","user":"bob"}'))
    assert.deepEqual(calls, ['send_message'])
  })

  test('a rule array mutated after construction cannot let eve in', async () => {
    const rule = { anyOf: ['chat.use'] }
    const f = await appFixture({ permissions: rule })
    rule.anyOf.splice(0)
    const eve = f.connectEvent({ sid: SID.eve, token: await f.issue('eve') })
    assert.equal((await f.app.handle(eve)).status, 403)
  })

  test('the resolved config is frozen, its lists too', () => {
    const config = resolveAppConfig({
      ...base(),
      allowedOrigins: [ORIGIN],
      requiredHeaders: ['User-Agent'],
      permissions: { anyOf: ['a'], allOf: ['b'] },
    })
    assert.ok(Object.isFrozen(config))
    assert.ok(Object.isFrozen(config.allowedOrigins))
    assert.ok(Object.isFrozen(config.requiredHeaders))
    assert.deepEqual(config.requiredHeaders, ['user-agent'])
    assert.ok(Object.isFrozen(config.permissions))
    assert.ok(Object.isFrozen(config.permissions?.anyOf))
    assert.ok(Object.isFrozen(config.connectChecks))
    assert.ok(Object.isFrozen(config.handlers))
  })

  test('a getter on the options object is read once', () => {
    let reads = 0
    const options = {
      ...base(),
      get maxMessageBytes() {
        reads++
        return reads === 1 ? 1024 : 10_000_000
      },
    }
    const config = resolveAppConfig(options)
    assert.equal(config.maxMessageBytes, 1024)
    assert.equal(reads, 1)
  })
})

describe('appId', () => {
  test('defaults to DEFAULTS.appId and is exposed as config.appId and app.appId', () => {
    assert.equal(DEFAULTS.appId, 'default')
    assert.equal(resolveAppConfig(base()).appId, 'default')
    const app = createApp({ ...base(), appId: 'chat:v2.eu-1' })
    assert.equal(app.appId, 'chat:v2.eu-1')
    assert.equal(resolveAppConfig({ ...base(), appId: 'a'.repeat(64) }).appId, 'a'.repeat(64))
  })
})
