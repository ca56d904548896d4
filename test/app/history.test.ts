/**
 * Channel history in the app: the wire format of a history message, the `history` option,
 * the `since`/`epoch` connect parameters (checked and bounded: a refusal, never a store call
 * with them), and the `$recover` answer (missed messages in order, then the notice).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { resolveAppConfig } from '../../src/app/config.ts'
import { DEFAULTS } from '../../src/defaults.ts'
import { isGatehouseError } from '../../src/errors.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import { appFixture } from '../support/app-fixture.ts'

const parse = (s: string) => JSON.parse(s) as Record<string, unknown>

describe('channel history', () => {
  test('a history message carries $history first, the app’s keys after; others are unchanged', async () => {
    const f = await appFixture()
    const a = await f.connect('alice', { channel: 'room' })
    await f.app.send.toChannel('room', { type: 'chat_message', text: 'hi' }, { history: true })
    await f.app.send.toChannel('room', { type: 'plain' })
    await f.app.send.toChannel('room', {}, { history: true })
    const [first, plain, empty] = f.connections.received(a)
    assert.match(
      first!,
      /^\{"\$history":\{"channel":"room","offset":1,"epoch":"[A-Za-z0-9_-]{16}"\},"type":"chat_message","text":"hi"\}$/,
    )
    assert.equal(plain, '{"type":"plain"}')
    const e = parse(empty!)
    assert.deepEqual(Object.keys(e), ['$history'])
    assert.equal((e.$history as { offset: number }).offset, 2)
  })

  test('concurrent history sends of one process reach each recipient in offset order', async () => {
    // Listings that answer later the earlier they were asked: unordered fan-outs would
    // deliver the last offset first.
    const inner = createMemoryStore()
    let calls = 0
    const store = {
      ...inner,
      listConnections: async (audience: Parameters<typeof inner.listConnections>[0]) => {
        const ids = await inner.listConnections(audience)
        await sleep(Math.max(0, 40 - 2 * ++calls))
        return ids
      },
    }
    const f = await appFixture({}, { store })
    const a = await f.connect('alice', { channel: 'room' })
    await Promise.all(
      Array.from({ length: 20 }, (_, n) => f.app.send.toChannel('room', { n }, { history: true })),
    )
    const offsets = f.connections
      .received(a)
      .map((m) => (parse(m).$history as { offset: number }).offset)
    assert.deepEqual(
      offsets,
      Array.from({ length: 20 }, (_, i) => i + 1),
    )
  })

  test('only plain objects without a $history key go to history', async () => {
    const f = await appFixture()
    await f.connect('alice', { channel: 'room' })
    for (const bad of ['text', [1, 2], new Uint8Array(2), null, { $history: 1 }]) {
      await assert.rejects(f.app.send.toChannel('room', bad, { history: true }), (e) =>
        isGatehouseError(e, 'ERR_INVALID_OPTION'),
      )
    }
    const big = { text: 'x'.repeat(DEFAULTS.maxOutboundBytes - 20) }
    await assert.rejects(f.app.send.toChannel('room', big, { history: true }), (e) =>
      isGatehouseError(e, 'ERR_MESSAGE_TOO_LARGE'),
    )
    // Nothing refused was stored.
    const read = await f.store.readHistory('room', 0, { size: 100, ttlMs: 300_000 }, f.clock.now())
    assert.equal(read.offset, 0)
  })

  test('the history option: defaults, bounds, unknown keys refused', () => {
    const base = {
      store: createMemoryStore(),
      identify: () => ({ sessionId: null, userId: null }),
      loadUser: () => null,
    }
    assert.deepEqual(resolveAppConfig(base).history, {
      size: DEFAULTS.historySize,
      ttlMs: DEFAULTS.historyTtlMs,
    })
    const set = resolveAppConfig({ ...base, history: { size: 5, ttlMs: 1_000 } }).history
    assert.deepEqual(set, { size: 5, ttlMs: 1_000 })
    assert.ok(Object.isFrozen(set))
    for (const history of [
      { size: 0 },
      { size: 10_001 },
      { ttlMs: -1 },
      { size: 1.5 },
      { sizes: 5 },
      'big',
    ]) {
      assert.throws(
        () => resolveAppConfig({ ...base, history } as never),
        (e) => isGatehouseError(e, 'ERR_INVALID_OPTION'),
        JSON.stringify(history),
      )
    }
    assert.throws(
      () => resolveAppConfig({ ...base, tokenQueryParam: 'since' }),
      (e) => isGatehouseError(e, 'ERR_OPTION_CONFLICT'),
    )
  })

  test('since and epoch at connect: both or neither, well formed and bounded, else 400 before the token', async () => {
    const f = await appFixture()
    for (const q of [
      'since=3',
      'epoch=abc',
      'since=-1&epoch=abc',
      'since=01&epoch=abc',
      'since=1234567890123456&epoch=abc',
      'since=3&epoch=a.b',
      `since=3&epoch=${'e'.repeat(33)}`,
      'since=3&epoch=',
    ]) {
      const token = await f.issue('alice')
      const res = await f.app.handle(
        f.connectEvent({ token, rawQuery: `ws_token=${token}&channel=room&${q}` }),
      )
      assert.equal(res.status, 400, q)
      // The refusal spent nothing: the same token still opens a socket.
      const ok = await f.app.handle(
        f.connectEvent({ token, rawQuery: `ws_token=${token}&channel=room&since=0&epoch=abc` }),
      )
      assert.equal(ok.status, 200, `token burnt by ${q}`)
    }
    const line = f.logs.find((l) => l.includes('"reason":"recovery_invalid"'))
    assert.match(line ?? '', /"check":"recovery"/)
  })

  test('$recover pushes the missed messages in order, then recovered: true; a lost gap gets recovered: false', async () => {
    const f = await appFixture({ history: { size: 5, ttlMs: 60_000 } })
    const first = await f.connect('alice', { channel: 'room' })
    for (let n = 1; n <= 3; n++) {
      await f.app.send.toChannel('room', { n }, { history: true })
    }
    const seen = parse(f.connections.received(first).at(-1)!)
    const { epoch } = seen.$history as { epoch: string }
    await f.app.handle(f.disconnectEvent(first))
    for (let n = 4; n <= 6; n++) await f.app.send.toChannel('room', { n }, { history: true })

    const token = await f.issue('alice')
    const back = f.connectEvent({
      token,
      rawQuery: `ws_token=${token}&channel=room&since=3&epoch=${epoch}`,
    })
    assert.equal((await f.app.handle(back)).status, 200)
    f.connections.open(back.connectionId)
    const res = await f.app.handle(f.messageEvent(back.connectionId, '{"action":"$recover"}'))
    assert.equal(res.status, 200)
    const pushed = f.connections.received(back.connectionId).map(parse)
    assert.deepEqual(
      pushed.map((m) => m.n ?? m.type),
      [4, 5, 6, 'recovered'],
    )
    assert.deepEqual(pushed.at(-1), {
      type: 'recovered',
      channel: 'room',
      recovered: true,
      epoch,
      offset: 6,
    })

    // Offset 1 is beyond the history (size 5, latest 6): nothing but the notice.
    const t2 = await f.issue('alice')
    const far = f.connectEvent({
      token: t2,
      rawQuery: `ws_token=${t2}&channel=room&since=0&epoch=${epoch}`,
    })
    await f.app.handle(far)
    f.connections.open(far.connectionId)
    await f.app.handle(f.messageEvent(far.connectionId, '{"action":"$recover"}'))
    assert.deepEqual(f.connections.received(far.connectionId).map(parse), [
      { type: 'recovered', channel: 'room', recovered: false, epoch, offset: 6 },
    ])

    // Another epoch: recovered false, whatever the offset.
    const t3 = await f.issue('alice')
    const other = f.connectEvent({
      token: t3,
      rawQuery: `ws_token=${t3}&channel=room&since=5&epoch=someotherepoch`,
    })
    await f.app.handle(other)
    f.connections.open(other.connectionId)
    await f.app.handle(f.messageEvent(other.connectionId, '{"action":"$recover"}'))
    assert.equal(parse(f.connections.received(other.connectionId)[0]!).recovered, false)
  })

  test('a connection recovers once: a repeated $recover pushes nothing', async () => {
    const f = await appFixture()
    const c = await f.connect('alice', { channel: 'room' })
    for (let n = 1; n <= 5; n++) await f.app.send.toChannel('room', { n }, { history: true })
    const { epoch } = parse(f.connections.received(c)[0]!).$history as { epoch: string }
    const ask = JSON.stringify({ action: '$recover', since: 0, epoch })
    const before = f.connections.received(c).length
    await f.app.handle(f.messageEvent(c, ask))
    const once = f.connections.received(c).length
    assert.equal(once - before, 6, 'five messages and the notice')
    for (let i = 0; i < 3; i++)
      assert.equal((await f.app.handle(f.messageEvent(c, ask))).status, 200)
    assert.equal(f.connections.received(c).length, once, 'no second batch')
  })

  test('$recover on a process that did not see the $connect takes the position from its body', async () => {
    const f = await appFixture()
    const c = await f.connect('alice', { channel: 'room' })
    await f.app.send.toChannel('room', { n: 1 }, { history: true })
    await f.app.send.toChannel('room', { n: 2 }, { history: true })
    const { epoch } = parse(f.connections.received(c)[0]!).$history as { epoch: string }
    const before = f.connections.received(c).length
    await f.app.handle(f.messageEvent(c, JSON.stringify({ action: '$recover', since: 1, epoch })))
    const pushed = f.connections.received(c).slice(before).map(parse)
    assert.deepEqual(
      pushed.map((m) => m.n ?? m.recovered),
      [2, true],
    )
  })
})
