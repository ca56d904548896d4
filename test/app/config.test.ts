import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { resolveAppConfig } from '../../src/app/config.ts'
import { createApp } from '../../src/app/create-app.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import { appFixture } from '../support/app-fixture.ts'

const base = { store: createMemoryStore(), useToken: false } as const

describe('resolveAppConfig', () => {
  test('a channelPattern that is unanchored or uses m, g or y is refused at construction', () => {
    for (const channelPattern of [
      /[a-z]+/,
      /^[a-z]+/,
      /[a-z]+$/,
      /^[a-z]+$/y,
      /^[a-z]+$/g,
      /^[a-z]+$/m,
      /^[a-z]+\$/,
    ]) {
      assert.throws(
        () => resolveAppConfig({ ...base, channelPattern }),
        (e) => isGatehouseError(e, 'ERR_INVALID_OPTION') && /channelPattern/.test(e.message),
        String(channelPattern),
      )
    }
    assert.throws(
      () => resolveAppConfig({ ...base, channelPattern: 'lobby' as unknown as RegExp }),
      (e) => isGatehouseError(e, 'ERR_INVALID_OPTION'),
    )
  })

  test('an anchored channelPattern is accepted and used at connect', async () => {
    const channelPattern = /^room-[0-9]{1,3}$/i
    // A private copy: the caller's RegExp can be changed in place (compile()), the app's not.
    const copy = resolveAppConfig({ ...base, channelPattern }).channelPattern
    assert.notEqual(copy, channelPattern)
    assert.equal(copy.source, channelPattern.source)
    assert.equal(copy.flags, channelPattern.flags)
    const f = await appFixture({ channelPattern })
    const token = await f.issue()
    assert.equal((await f.app.handle(f.connectEvent({ token, channel: 'lobby' }))).status, 400)
    assert.equal((await f.app.handle(f.connectEvent({ token, channel: 'ROOM-7' }))).status, 200)
  })

  test('appId defaults to DEFAULTS.appId, must match the pattern, and is what app.tokens issues under', () => {
    assert.equal(resolveAppConfig(base).appId, 'default')
    assert.equal(
      resolveAppConfig({ ...base, appId: 'org.example:chat-v2' }).appId,
      'org.example:chat-v2',
    )
    for (const appId of ['', 'chat room', 'x'.repeat(65), 'chat/1', 'é']) {
      assert.throws(
        () => resolveAppConfig({ ...base, appId }),
        (e) => isGatehouseError(e, 'ERR_INVALID_OPTION') && /appId/.test(e.message),
        appId,
      )
    }
    assert.equal(createApp({ ...base, appId: 'chat' }).tokens.appId, 'chat')
  })

  test('a store must say whether it is shared (a boolean), and a shared replay check needs claimNonce', () => {
    const memory = createMemoryStore()
    for (const shared of [undefined, 'yes', 1, null]) {
      const store = { ...memory, shared } as unknown as typeof memory
      assert.throws(
        () => resolveAppConfig({ ...base, store }),
        (e) => isGatehouseError(e, 'ERR_INVALID_OPTION') && /shared/.test(e.message),
        String(shared),
      )
    }
    // A custom shared store without claimNonce: refused at construction, not a 500 per message.
    const { claimNonce: _dropped, ...rest } = memory
    const noNonce = { ...rest, shared: true } as unknown as typeof memory
    assert.throws(
      () => resolveAppConfig({ ...base, store: noNonce }),
      (e) => isGatehouseError(e, 'ERR_OPTION_CONFLICT') && /claimNonce/.test(e.message),
    )
    assert.throws(
      () =>
        resolveAppConfig({
          ...base,
          store: { ...noNonce, shared: false },
          sharedReplayCheck: true,
        }),
      (e) => isGatehouseError(e, 'ERR_OPTION_CONFLICT') && /claimNonce/.test(e.message),
    )
    // Without the shared check it is not needed.
    assert.equal(
      resolveAppConfig({ ...base, store: noNonce, sharedReplayCheck: false }).sharedReplayCheck,
      false,
    )
    assert.equal(
      resolveAppConfig({ ...base, store: { ...memory, shared: true } }).sharedReplayCheck,
      true,
    )
  })
})
