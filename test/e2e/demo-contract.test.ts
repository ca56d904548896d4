/**
 * The demo's wire contract (shared DEMO.md), driven black-box: the demo runs in a child
 * process, and a plain `ws` client plus `fetch` play the browser. Each block that connects
 * uses its own loopback source address (127.0.0.x), so the per-IP connect limit of one
 * block does not leak into the next; the connect-rate block exhausts its own.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  type ChatSocket,
  connect,
  type Demo,
  login,
  loginRequest,
  open,
  type Session,
  secretsSeen,
  setCookie,
  startDemo,
  token,
  tokenRequest,
  waitUntil,
} from './support/demo.ts'

const FORBIDDEN = { type: 'error', message: 'Forbidden' }
const isChat = (text: string) => (m: Record<string, unknown>) =>
  m.type === 'chat_message' && m.text === text

describe('demo chat contract (DEMO.md)', { timeout: 60_000 }, () => {
  let demo: Demo
  let alice: Session
  let bob: Session
  let mod: Session
  let eve: Session

  before(async () => {
    demo = await startDemo()
  })
  after(async () => {
    await demo?.stop()
  })

  it('is ready on /healthz and serves the page with its security headers', async () => {
    const health = await fetch(`${demo.appUrl}/healthz`)
    assert.equal(health.status, 200)
    await health.body?.cancel()
    const page = await fetch(`${demo.appUrl}/`)
    assert.equal(page.status, 200)
    const csp = page.headers.get('content-security-policy') ?? ''
    assert.match(csp, /script-src 'self'/)
    assert.match(
      csp,
      new RegExp(
        `connect-src 'self' ws://127\\.0\\.0\\.1:${demo.ports.ws} ws://localhost:${demo.ports.ws}`,
      ),
    )
    assert.doesNotMatch(csp, /unsafe-inline/)
    assert.equal(page.headers.get('x-frame-options'), 'DENY')
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff')
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer')
    const html = await page.text()
    assert.match(html, /<script type="module" src="\/static\/app\.js"><\/script>/)
    assert.doesNotMatch(html, /<script>/, 'no inline script')
    const script = await fetch(`${demo.appUrl}/static/app.js`)
    assert.equal(script.status, 200)
    assert.match(await script.text(), /ws_token/, 'the page bundles gatehouse/client')
  })

  it('POST /login: 200 with an HttpOnly session cookie and a readable csrftoken; wrong credentials 401', async () => {
    const ok = await loginRequest(demo, 'alice', 'alice')
    assert.equal(ok.status, 200)
    assert.deepEqual(await ok.json(), { user: 'alice', permissions: ['chat.use'] })
    const session = setCookie(ok, 'sessionid')
    const csrf = setCookie(ok, 'csrftoken')
    assert.ok(session && session.value.length >= 40)
    assert.match(session.attributes, /HttpOnly/i)
    assert.match(session.attributes, /SameSite=Lax/i)
    assert.ok(csrf && csrf.value.length >= 40)
    assert.doesNotMatch(csrf.attributes, /HttpOnly/i)

    for (const [user, password] of [
      ['alice', 'wrong'],
      ['nobody', 'nobody'],
      ['alice', ''],
    ] as const) {
      const res = await loginRequest(demo, user, password)
      assert.equal(res.status, 401, `${user}/${password}`)
      assert.equal(setCookie(res, 'sessionid'), undefined)
      await res.body?.cancel()
    }

    // A second login mints a new session id (rotation), and the old one stops working.
    const first = await login(demo, 'alice')
    const again = await fetch(`${demo.appUrl}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: demo.origin, cookie: first.cookie },
      body: JSON.stringify({ username: 'alice', password: 'alice' }),
    })
    assert.equal(again.status, 200)
    await again.body?.cancel()
    assert.notEqual(setCookie(again, 'sessionid')?.value, first.sessionId)
    const stale = await fetch(`${demo.appUrl}/api/me`, { headers: { cookie: first.cookie } })
    assert.equal(stale.status, 401)
    await stale.body?.cancel()

    alice = await login(demo, 'alice')
    bob = await login(demo, 'bob')
    mod = await login(demo, 'mod')
    eve = await login(demo, 'eve')
  })

  it('POST /api/ws-token/: 200 {token, expires_in: 60}; 403 when logged out or the CSRF header is missing or wrong', async () => {
    const ok = await tokenRequest(demo, alice)
    assert.equal(ok.status, 200)
    assert.equal(ok.headers.get('cache-control'), 'no-store')
    const body = (await ok.json()) as { token: string; expires_in: number }
    assert.match(body.token, /^[A-Za-z0-9_-]{43}$/)
    assert.equal(body.expires_in, 60)

    for (const [why, res] of [
      ['not logged in', await tokenRequest(demo, null, 'x')],
      ['no CSRF header', await tokenRequest(demo, alice, null)],
      ['wrong CSRF header', await tokenRequest(demo, alice, `${alice.csrf}x`)],
      ["another session's CSRF", await tokenRequest(demo, alice, bob.csrf)],
    ] as const) {
      assert.equal(res.status, 403, why)
      await res.body?.cancel()
    }
  })

  it('refuses bad upgrades without a socket and never burns a token on a cheap refusal', async () => {
    const ip = '127.0.0.2'
    assert.equal(
      (await connect(demo, { session: alice, channel: 'lobby', localAddress: ip })).status,
      401,
      'no token',
    )
    assert.equal(
      (
        await connect(demo, {
          session: alice,
          channel: 'lobby',
          token: 'A'.repeat(43),
          localAddress: ip,
        })
      ).status,
      401,
      'unknown token',
    )
    const t = await token(demo, alice)
    const foreign = await connect(demo, {
      session: alice,
      channel: 'lobby',
      token: t,
      origin: 'http://evil.example',
      localAddress: ip,
    })
    assert.equal(foreign.status, 403, 'foreign Origin')
    const lookalike = await connect(demo, {
      session: alice,
      channel: 'lobby',
      token: t,
      origin: `${demo.origin}.evil.example`,
      localAddress: ip,
    })
    assert.equal(lookalike.status, 403, 'Origin that merely starts like ours')
    for (const channel of ['bad name', 'x'.repeat(129), '../lobby', '']) {
      const bad = await connect(demo, { session: alice, channel, token: t, localAddress: ip })
      assert.equal(bad.status, 400, `invalid channel ${JSON.stringify(channel)}`)
    }
    assert.equal(
      (await connect(demo, { session: bob, channel: 'lobby', token: t, localAddress: ip })).status,
      401,
      "another session's token",
    )
    assert.equal(
      (await connect(demo, { session: null, channel: 'lobby', token: t, localAddress: ip })).status,
      401,
      'no session cookie',
    )

    // None of the refusals above used the token up: it still works once…
    const good = await connect(demo, {
      session: alice,
      channel: 'lobby',
      token: t,
      localAddress: ip,
    })
    assert.equal(good.status, 101)
    await good.socket?.close()
    // …and only once.
    assert.equal(
      (await connect(demo, { session: alice, channel: 'lobby', token: t, localAddress: ip }))
        .status,
      401,
      'used token',
    )
  })

  it('refuses eve (no chat.use) with 403 at connect', async () => {
    const result = await connect(demo, {
      session: eve,
      channel: 'lobby',
      token: await token(demo, eve),
      localAddress: '127.0.0.2',
    })
    assert.equal(result.status, 403)
  })

  it('answers 429 over the per-user token issue rate', async () => {
    // eve has used one token above; the default is 20 per minute.
    const statuses: number[] = []
    for (let i = 0; i < 25 && !statuses.includes(429); i++) {
      const res = await tokenRequest(demo, eve)
      statuses.push(res.status)
      if (res.status === 429) assert.match(res.headers.get('retry-after') ?? '', /^\d+$/)
      await res.body?.cancel()
    }
    assert.deepEqual(statuses, [...Array(19).fill(200), 429])
  })

  it('answers 429 over the per-IP connect rate', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 25 && !statuses.includes(429); i++) {
      const result = await connect(demo, { channel: 'lobby', localAddress: '127.0.0.3' })
      statuses.push(result.status)
      if (result.status === 429) assert.match(result.retryAfter ?? '', /^\d+$/)
    }
    assert.deepEqual(statuses, [...Array(20).fill(401), 429])
  })

  describe('messages', () => {
    const ip = '127.0.0.4'
    let a: ChatSocket
    let b: ChatSocket
    let m: ChatSocket

    it('send_message reaches everyone in the channel, the sender too, and no one else', async () => {
      a = await open(demo, alice, 'lobby', ip)
      b = await open(demo, bob, 'lobby', ip)
      m = await open(demo, mod, 'ops', ip)
      a.send({ action: 'send_message', text: 'hi' })
      const expected = { type: 'chat_message', channel: 'lobby', user: 'alice', text: 'hi' }
      // The contract's fields, plus the room's history position (the client tracks it to
      // recover after a reconnect): the same offset and epoch for every recipient.
      const own = await a.next(isChat('hi'), 'own echo')
      const fanned = await b.next(isChat('hi'), 'fan-out to bob')
      for (const frame of [own, fanned]) {
        const { $history, ...fields } = frame
        assert.deepEqual(fields, expected)
        const h = $history as { channel: string; offset: number; epoch: string }
        assert.equal(h.channel, 'lobby')
        assert.ok(Number.isSafeInteger(h.offset) && h.offset >= 1)
        assert.match(h.epoch, /^[A-Za-z0-9_-]{1,32}$/)
      }
      assert.deepEqual(own.$history, fanned.$history)
      // mod's own message comes after any lobby frame that could have reached him.
      m.send({ action: 'send_message', text: 'ops sentinel' })
      await m.next(isChat('ops sentinel'))
      assert.deepEqual(m.all(isChat('hi')), [], 'ops must not get lobby messages')
    })

    it('who: the users in the room', async () => {
      a.send({ action: 'who' })
      assert.deepEqual(
        await a.next(
          (x) =>
            x.type === 'presence' && x.channel === 'lobby' && (x.users as string[]).length === 2,
        ),
        {
          type: 'presence',
          channel: 'lobby',
          users: ['alice', 'bob'],
        },
      )
    })

    it('change_channel moves the socket: it then gets the new room only', async () => {
      b.send({ action: 'change_channel', channel: 'ops' })
      assert.deepEqual(await b.next((x) => x.type === 'channel_changed'), {
        type: 'channel_changed',
        channel: 'ops',
      })
      // The room's presence push and the reply may arrive in either order.
      assert.deepEqual(await b.find((x) => x.type === 'presence' && x.channel === 'ops'), {
        type: 'presence',
        channel: 'ops',
        users: ['bob', 'mod'],
      })
      a.send({ action: 'send_message', text: 'lobby only' })
      await a.next(isChat('lobby only'))
      m.send({ action: 'send_message', text: 'ops again' })
      assert.equal((await b.next(isChat('ops again'))).user, 'mod')
      assert.deepEqual(b.all(isChat('lobby only')), [], 'bob left the lobby')

      b.send({ action: 'change_channel', channel: 'no spaces allowed' })
      assert.deepEqual(await b.next((x) => x.type === 'error'), FORBIDDEN)
    })

    it('answers hostile and malformed messages with the generic error and keeps working', async () => {
      const hostile: unknown[] = [
        { action: '__proto__' },
        { action: 'constructor' },
        { action: 'toString' },
        { action: 'hasOwnProperty' },
        { action: 'nope' },
        { action: ['send_message'] },
        { handler: '__proto__' },
        '{"__proto__":{"action":"kick"},"user":"bob"}',
        'not json',
        '{"action":"send_message"',
        '[]',
        'null',
        { action: 'send_message' },
        { action: 'send_message', text: '' },
        { action: 'send_message', text: '   ' },
        { action: 'send_message', text: 42 },
        { action: 'send_message', text: { toString: 'x' } },
        { action: 'send_message', text: 'x'.repeat(2001) },
        { action: 'change_channel', channel: { length: 3 } },
        { action: 'kick', user: 'bob' },
      ]
      // Fresh sockets of ten frames each: the gateway allows a burst of 20 messages per socket.
      let h: ChatSocket | undefined
      for (const [i, frame] of hostile.entries()) {
        if (i % 10 === 0) {
          await h?.close()
          h = await open(demo, alice, 'lobby', ip)
        }
        h!.send(frame)
        const reply = await h!.next(
          (x) => x.type !== 'presence',
          `reply to ${JSON.stringify(frame)}`,
        )
        assert.deepEqual(reply, FORBIDDEN, JSON.stringify(frame))
      }
      h!.send({ action: 'send_message', text: 'x'.repeat(2000) })
      assert.equal(((await h!.next((x) => x.type === 'chat_message')).text as string).length, 2000)
      await h!.close()
      a.send({ action: 'send_message', text: 'still here' })
      await a.next(isChat('still here'))
    })

    it('kick without chat.moderate: Forbidden, and nothing happens', async () => {
      a.send({ action: 'kick', user: 'bob' })
      assert.deepEqual(await a.next((x) => x.type === 'error'), FORBIDDEN)
      b.send({ action: 'send_message', text: 'bob is fine' })
      await b.next(isChat('bob is fine'))
      assert.equal(b.ws.readyState, b.ws.OPEN)
    })

    it('kick by mod closes all of the target’s sockets and revokes their unused tokens', async () => {
      const b2 = await open(demo, bob, 'lobby', ip)
      const unused = await token(demo, bob)
      m.send({ action: 'kick', user: 'bob' })
      assert.deepEqual(await m.next((x) => x.type === 'kick_result'), {
        type: 'kick_result',
        user: 'bob',
        closed: 2,
      })
      for (const socket of [b, b2]) {
        assert.deepEqual(await socket.next((x) => x.type === 'kicked'), {
          type: 'kicked',
          by: 'mod',
        })
        assert.equal((await socket.closed).code, 1000)
      }
      const retry = await connect(demo, {
        session: bob,
        channel: 'lobby',
        token: unused,
        localAddress: ip,
      })
      assert.equal(retry.status, 401, 'the unused token was revoked')
      // mod and alice carry on.
      m.send({ action: 'send_message', text: 'after kick' })
      await m.next(isChat('after kick'))
    })

    it('POST /logout (with X-CSRFToken) closes the user’s sockets and revokes their tokens', async () => {
      const unused = await token(demo, alice)
      // alice in a second browser: her live sockets there close too; that login stays valid.
      const elsewhere = await login(demo, 'alice')
      const a2 = await open(demo, elsewhere, 'lobby', ip)
      const noCsrf = await fetch(`${demo.appUrl}/logout`, {
        method: 'POST',
        headers: { cookie: alice.cookie, origin: demo.origin },
      })
      assert.equal(noCsrf.status, 403)
      await noCsrf.body?.cancel()
      assert.equal(a.ws.readyState, a.ws.OPEN)

      const out = await fetch(`${demo.appUrl}/logout`, {
        method: 'POST',
        headers: { cookie: alice.cookie, origin: demo.origin, 'x-csrftoken': alice.csrf },
      })
      assert.equal(out.status, 200)
      await out.body?.cancel()
      assert.equal(setCookie(out, 'sessionid')?.value, '')
      assert.equal((await a.closed).code, 1000)
      assert.equal((await a2.closed).code, 1000)
      const denied = await tokenRequest(demo, alice)
      assert.equal(denied.status, 403, 'no token after logout')
      await denied.body?.cancel()
      const reuse = await connect(demo, {
        session: alice,
        channel: 'lobby',
        token: unused,
        localAddress: ip,
      })
      assert.equal(reuse.status, 401, 'a token issued before logout is dead')
      const other = await tokenRequest(demo, elsewhere)
      assert.equal(other.status, 200, 'the other browser is still logged in')
      await other.body?.cancel()
    })

    it('SIGTERM: clients get 1001 and the process exits 0', async () => {
      const other = await open(demo, mod, 'lobby', ip)
      demo.child.kill('SIGTERM')
      assert.equal((await m.closed).code, 1001)
      assert.equal((await other.closed).code, 1001)
      assert.equal(await demo.exited, 0)
      await waitUntil('exit', () => (demo.child.exitCode === 0 ? true : undefined))
    })

    it('logged plenty, and never a token, session id or CSRF token', () => {
      const output = demo.output()
      assert.match(output, /"event":"connect_rejected"/)
      assert.ok(secretsSeen.length > 20)
      for (const secret of secretsSeen)
        assert.equal(output.includes(secret), false, 'a secret reached the log')
    })
  })
})
