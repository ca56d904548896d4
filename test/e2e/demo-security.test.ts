/**
 * The demo under attack (black box, as demo-contract.test.ts): an oversized token request,
 * a logout while the store is down, and a kick that must outlast the kicked user's page.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  type ChatSocket,
  connect,
  type Demo,
  login,
  open,
  startDemo,
  token,
  tokenRequest,
  waitUntil,
} from './support/demo.ts'

async function storeOutage(demo: Demo, down: boolean): Promise<void> {
  const res = await fetch(`${demo.appUrl}/__test/store-outage`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: demo.origin },
    body: JSON.stringify({ down }),
  })
  assert.equal(res.status, 200)
  await res.body?.cancel()
}

describe('demo under attack', { timeout: 60_000 }, () => {
  let demo: Demo
  const ip = '127.0.0.31'

  before(async () => {
    demo = await startDemo()
  })
  after(async () => {
    await demo?.stop()
  })

  it('a token request over 1 KiB is 413, not 500, and the log says why', async () => {
    const alice = await login(demo, 'alice')
    const res = await fetch(`${demo.appUrl}/api/ws-token/`, {
      method: 'POST',
      headers: {
        origin: demo.origin,
        'sec-fetch-site': 'same-origin',
        cookie: alice.cookie,
        'x-csrftoken': alice.csrf,
        'content-type': 'application/json',
      },
      body: 'x'.repeat(2_048),
    })
    assert.equal(res.status, 413)
    await res.body?.cancel()
    const line =
      /"event":"token_request_refused".*"message":"request body over the 1024-byte limit"/
    await waitUntil('the refusal in the log', () => (line.test(demo.output()) ? true : undefined))
    assert.doesNotMatch(demo.output(), /"err":""/)
    const ok = await tokenRequest(demo, alice)
    assert.equal(ok.status, 200, 'a normal request still works')
    await ok.body?.cancel()
  })

  it('logout while the store is down: the socket closes and the answer is not 200', async () => {
    const bob = await login(demo, 'bob')
    const socket: ChatSocket = await open(demo, bob, 'lobby', ip)
    await storeOutage(demo, true)
    try {
      const out = await fetch(`${demo.appUrl}/logout`, {
        method: 'POST',
        headers: { cookie: bob.cookie, origin: demo.origin, 'x-csrftoken': bob.csrf },
      })
      assert.equal(out.status, 503, 'never a success it did not have')
      assert.deepEqual(await out.json(), { ok: false, error: 'Service Unavailable', closed: 1 })
      assert.equal((await socket.closed).code, 1000, 'closed although the store is down')
    } finally {
      await storeOutage(demo, false)
    }
    // The HTTP session did end: no token for it.
    const denied = await tokenRequest(demo, bob)
    assert.equal(denied.status, 403)
    await denied.body?.cancel()
  })

  it('kick ends the user’s HTTP sessions and tokens: the page cannot come back', async () => {
    const mod = await login(demo, 'mod')
    const alice = await login(demo, 'alice')
    const m = await open(demo, mod, 'lobby', ip)
    const a = await open(demo, alice, 'lobby', ip)
    const unused = await token(demo, alice)
    m.send({ action: 'kick', user: 'alice' })
    assert.deepEqual(await m.next((x) => x.type === 'kick_result'), {
      type: 'kick_result',
      user: 'alice',
      closed: 1,
    })
    assert.deepEqual(await a.next((x) => x.type === 'kicked'), { type: 'kicked', by: 'mod' })
    assert.equal((await a.closed).code, 1000)
    const fresh = await tokenRequest(demo, alice)
    assert.equal(fresh.status, 403, 'the HTTP session is gone: no new token')
    await fresh.body?.cancel()
    const back = await connect(demo, {
      session: alice,
      channel: 'lobby',
      token: unused,
      localAddress: ip,
    })
    assert.equal(back.status, 401, 'a token issued before the kick is dead')
    await m.close()
  })
})
