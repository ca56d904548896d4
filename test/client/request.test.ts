import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isGatehouseError } from '../../src/errors.ts'
import { flush, setupClient } from './fakes.ts'

type Outcome = { ok: true; value: unknown } | { ok: false; code: string | undefined }

/** Records how a promise settled, and how many times its handlers ran. */
function track(p: Promise<unknown>): { outcome?: Outcome; settled: number } {
  const t: { outcome?: Outcome; settled: number } = { settled: 0 }
  p.then(
    (value) => {
      t.settled++
      t.outcome = { ok: true, value }
    },
    (err: unknown) => {
      t.settled++
      t.outcome = { ok: false, code: isGatehouseError(err) ? err.code : undefined }
    },
  )
  return t
}

async function openClient(options = {}) {
  const s = setupClient(options)
  s.client.connect()
  await flush()
  s.sockets[0]!.open()
  return s
}

const ridOf = (frame: string | undefined): string => JSON.parse(frame ?? '{}').rid

describe('GatehouseClient.request', () => {
  it('sends {...payload, action, rid} and resolves with the reply that carries its id', async () => {
    const { client, sockets, of } = await openClient()
    const a = track(client.request('echo', { text: 'a', rid: 'forged', action: 'other' }))
    const b = track(client.request('echo', { text: 'b' }))
    const [fa, fb] = sockets[0]!.sent.map((m) => JSON.parse(m))
    assert.equal(fa.action, 'echo')
    assert.notEqual(fa.rid, 'forged', 'the payload cannot set the id')
    assert.match(fa.rid, /^[A-Za-z0-9_-]{1,64}$/)
    assert.notEqual(fa.rid, fb.rid)
    // Out of order: each request gets its own reply.
    sockets[0]!.receive(JSON.stringify({ type: 'reply', rid: fb.rid, data: 'B' }))
    sockets[0]!.receive(JSON.stringify({ type: 'reply', rid: fa.rid, data: { n: 1 } }))
    await flush()
    assert.deepEqual(a.outcome, { ok: true, value: { n: 1 } })
    assert.deepEqual(b.outcome, { ok: true, value: 'B' })
    assert.equal(of('message').length, 0, 'replies are not messages')
    // A second reply to a settled request is dropped, and settles nothing twice.
    sockets[0]!.receive(JSON.stringify({ type: 'reply', rid: fa.rid, data: 'again' }))
    sockets[0]!.receive(JSON.stringify({ type: 'reply', rid: 'someone-else', data: 1 }))
    await flush()
    assert.equal(a.settled, 1)
    assert.equal(of('message').length, 1, 'a foreign id is an ordinary message')
    assert.equal(client.pendingRequests, 0)
    client.close()
  })

  it('rejects on the error reply, with the reply as cause', async () => {
    const { client, sockets } = await openClient()
    const p = client.request('send_message', { text: '' })
    const rid = ridOf(sockets[0]!.sent[0])
    const reply = { type: 'error', message: 'Bad Request', paths: ['text'], rid }
    sockets[0]!.receive(JSON.stringify(reply))
    await assert.rejects(p, (err: unknown) => {
      assert.ok(isGatehouseError(err, 'ERR_REQUEST_REJECTED'))
      assert.deepEqual(err.cause, reply)
      return true
    })
    client.close()
  })

  it('times out with one sweep timer, not one timer per request', async () => {
    const { client, timers } = await openClient({ requestTimeoutMs: 1000 })
    const before = timers.pending
    const all = Array.from({ length: 50 }, (_, i) => track(client.request('slow', { i })))
    assert.equal(timers.pending, before + 1, 'one sweep timer for 50 requests')
    const short = track(client.request('slow', {}, { timeoutMs: 100 }))
    await timers.advance(100)
    await flush()
    assert.deepEqual(short.outcome, { ok: false, code: 'ERR_REQUEST_TIMEOUT' })
    assert.equal(all[0]!.outcome, undefined)
    await timers.advance(900)
    await flush()
    assert.ok(all.every((t) => t.outcome?.ok === false && t.outcome.code === 'ERR_REQUEST_TIMEOUT'))
    assert.equal(timers.pending, before, 'no sweep timer left once nothing waits')
    client.close()
  })

  it('rejects on disconnect, once, and a late reply on the next socket does not resolve it', async () => {
    const { client, sockets, timers } = await openClient()
    const t = track(client.request('slow', {}))
    const rid = ridOf(sockets[0]!.sent[0])
    sockets[0]!.serverClose(1001, 'going away')
    await flush()
    assert.deepEqual(t.outcome, { ok: false, code: 'ERR_REQUEST_DISCONNECTED' })
    await timers.advance(60_000)
    await flush()
    sockets.at(-1)!.open()
    sockets.at(-1)!.receive(JSON.stringify({ type: 'reply', rid, data: 'late' }))
    await timers.advance(60_000)
    await flush()
    assert.equal(t.settled, 1)
    assert.deepEqual(t.outcome, { ok: false, code: 'ERR_REQUEST_DISCONNECTED' })
    client.close()
  })

  it('waits in the queue while connecting, goes out on open, and its ids never repeat across reconnects', async () => {
    const { client, sockets, timers } = setupClient()
    client.connect()
    await flush()
    const queued = track(client.request('hello', {}))
    sockets[0]!.open()
    const first = ridOf(sockets[0]!.sent[0])
    sockets[0]!.receive(JSON.stringify({ type: 'reply', rid: first, data: 1 }))
    const ids = new Set([first])
    for (let round = 0; round < 5; round++) {
      const s = sockets.at(-1)!
      assert.equal(client.state, 'open')
      for (let i = 0; i < 20; i++) void client.request('x', {}).catch(() => {})
      s.serverClose(1006, '', false)
      await timers.advance(timers.nextInMs() ?? 0) // the backoff delay
      await flush()
      sockets.at(-1)!.open()
    }
    await flush()
    assert.deepEqual(queued.outcome, { ok: true, value: 1 })
    const sent = sockets.flatMap((s) => s.sent.map(ridOf))
    for (const id of sent) ids.add(id)
    assert.equal(sent.length, 101)
    assert.equal(ids.size, 101, 'every id distinct')
    client.close()
  })

  it('close() rejects queued and sent requests alike and leaves no timer', async () => {
    const { client, sockets, timers } = await openClient()
    const sent = track(client.request('a', {}))
    sockets[0]!.serverClose(1006, '', false)
    await flush()
    const queued = track(client.request('b', {}))
    client.close()
    await flush()
    assert.deepEqual(sent.outcome, { ok: false, code: 'ERR_REQUEST_DISCONNECTED' })
    assert.deepEqual(queued.outcome, { ok: false, code: 'ERR_REQUEST_DISCONNECTED' })
    assert.equal(timers.pending, 0)
    await assert.rejects(client.request('c', {}), (e) =>
      isGatehouseError(e, 'ERR_REQUEST_DISCONNECTED'),
    )
  })

  it('refuses a message over maxMessageBytes and a bad timeout', async () => {
    const { client } = await openClient({ maxMessageBytes: 100 })
    await assert.rejects(client.request('a', { x: 'y'.repeat(200) }), (e) =>
      isGatehouseError(e, 'ERR_MESSAGE_TOO_LARGE'),
    )
    assert.throws(
      () => client.request('a', {}, { timeoutMs: 0 }),
      (e) => isGatehouseError(e, 'ERR_INVALID_OPTION'),
    )
    client.close()
  })
})
