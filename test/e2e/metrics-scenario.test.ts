/**
 * The demo through a scripted scenario (logins, connects, refusals of each kind, messages, a
 * kick), then `GET /metrics` on its management port: every counter equals what the scenario
 * did. The demo runs in a child process, so the only publisher of the telemetry stream it
 * scrapes is the demo itself.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import {
  type ChatSocket,
  connect,
  type Demo,
  login,
  open,
  type Session,
  startDemo,
  token,
  tokenRequest,
  waitUntil,
} from './support/demo.ts'

type Samples = Map<string, number>

/** `name{a="x",b="y"} 3` lines into a map keyed by the line's name and sorted labels. */
function parse(text: string): Samples {
  const out: Samples = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/)
    if (!m) throw new Error(`unparsable exposition line: ${line}`)
    const labels = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, k, v]) => `${k}=${v}`)
      .sort()
      .join(',')
    out.set(`${m[1]}{${labels}}`, Number(m[3]))
  }
  return out
}

function value(s: Samples, name: string, labels: Record<string, string> = {}): number {
  const key = `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join(',')}}`
  return s.get(key) ?? 0
}

/** Every sample of `name`, as `labels → value`, zeros left out. */
function series(s: Samples, name: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [key, v] of s) {
    if (v !== 0 && key.startsWith(`${name}{`)) out[key.slice(name.length + 1, -1)] = v
  }
  return out
}

describe('demo metrics after a scripted scenario', { timeout: 90_000 }, () => {
  let demo: Demo
  before(async () => {
    demo = await startDemo()
  })
  after(async () => {
    await demo?.stop()
  })

  const scrape = async (init: RequestInit = {}): Promise<Response> =>
    fetch(`http://127.0.0.1:${demo.ports.mgmt}/metrics`, init)

  it('counts exactly what the scenario did', async () => {
    const sockets: ChatSocket[] = []
    let issued = 0
    const tokenFor = async (s: Session) => {
      const t = await token(demo, s)
      issued++
      return t
    }
    const [alice, bob, mod, eve] = await Promise.all(
      ['alice', 'bob', 'mod', 'eve'].map((u) => login(demo, u)),
    )
    if (!alice || !bob || !mod || !eve) throw new Error('login')

    // Three accepted connects, one token each.
    for (const s of [alice, bob, mod]) {
      sockets.push(await open(demo, s, 'lobby'))
      issued++
    }

    // App refusals, one of each kind the pipeline has for a browser.
    const aliceToken = await tokenFor(alice)
    const refusals: [string, Promise<{ status: number }>][] = [
      ['token_missing', connect(demo, { session: alice, channel: 'lobby' })],
      [
        'origin_forbidden',
        connect(demo, {
          session: alice,
          channel: 'lobby',
          token: aliceToken,
          origin: 'http://evil.example',
        }),
      ],
      [
        'channel_invalid',
        connect(demo, { session: alice, channel: 'no spaces!', token: aliceToken }),
      ],
      [
        'permission_denied',
        connect(demo, { session: eve, channel: 'lobby', token: await tokenFor(eve) }),
      ],
    ]
    const expectedStatus: Record<string, number> = {
      token_missing: 401,
      origin_forbidden: 403,
      channel_invalid: 400,
      permission_denied: 403,
    }
    for (const [reason, attempt] of refusals) {
      assert.equal((await attempt).status, expectedStatus[reason], reason)
    }
    // A used token: alice's is still unused (cheap refusals never burn it); use it, then again.
    const used = await connect(demo, { session: alice, channel: 'lobby', token: aliceToken })
    assert.equal(used.status, 101)
    sockets.push(used.socket as ChatSocket)
    const again = await connect(demo, { session: alice, channel: 'lobby', token: aliceToken })
    assert.equal(again.status, 401)

    // Failed token attempts per IP, from an address of its own and without a session: 20 pass
    // the limit (and fail for the missing token), the rest are 429.
    const rateStatuses: number[] = []
    for (let i = 0; i < 22; i++) {
      rateStatuses.push(
        (await connect(demo, { channel: 'lobby', localAddress: '127.0.0.9' })).status,
      )
    }
    assert.deepEqual(
      [rateStatuses.filter((s) => s === 401).length, rateStatuses.filter((s) => s === 429).length],
      [20, 2],
    )

    // A refusal of the gateway itself (never reaches the app).
    const stray = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${demo.wsUrl}nope/deeper`, { origin: demo.origin })
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0)
        res.resume()
      })
      ws.once('open', () => reject(new Error('opened')))
      ws.on('error', () => {})
    })
    assert.equal(stray, 403)

    // Token endpoint refusals: CSRF, cross-site, method, and the per-user issue rate.
    assert.equal((await tokenRequest(demo, bob, 'wrong')).status, 403)
    const crossSite = await fetch(`${demo.appUrl}/api/ws-token/`, {
      method: 'POST',
      headers: { cookie: bob.cookie, 'x-csrftoken': bob.csrf, 'sec-fetch-site': 'cross-site' },
    })
    assert.equal(crossSite.status, 403)
    const wrongMethod = await fetch(`${demo.appUrl}/api/ws-token/`, {
      headers: { cookie: bob.cookie },
    })
    assert.equal(wrongMethod.status, 405)
    let issueRefused = 0
    for (let i = 0; i < 40 && issueRefused === 0; i++) {
      const res = await tokenRequest(demo, bob)
      await res.body?.cancel()
      if (res.status === 200) issued++
      else if (res.status === 429) issueRefused++
      else throw new Error(`token: ${res.status}`)
    }
    assert.equal(issueRefused, 1)

    // Messages: one chat line (pushed to the 4 lobby sockets), then mod kicks bob.
    const [aliceSocket, bobSocket, modSocket] = sockets as [ChatSocket, ChatSocket, ChatSocket]
    aliceSocket.send({ action: 'send_message', text: 'hello metrics' })
    await modSocket.next((m) => m.text === 'hello metrics', 'the chat line')
    modSocket.send({ action: 'kick', user: 'bob' })
    await bobSocket.closed
    await modSocket.next((m) => m.type === 'kick_result', 'the kick result')

    // Every push the app made reached one of these sockets: count what they received,
    // leaving out the one route reply (kick_result).
    const pushedCount = () =>
      sockets.reduce((n, s) => n + s.all((m) => m.type !== 'kick_result').length, 0)
    let last = ''
    const samples = await waitUntil('pushes and disconnects settle in the metrics', async () => {
      const s = parse(await (await scrape()).text())
      const settled =
        value(s, 'gatehouse_messages_out_total') === pushedCount() &&
        value(s, 'gatehouse_open_connections') === 3
      last = `messages_out ${value(s, 'gatehouse_messages_out_total')} vs ${pushedCount()} received; open ${value(s, 'gatehouse_open_connections')}`
      return settled ? s : undefined
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${last}`)
    })

    assert.equal(value(samples, 'gatehouse_open_connections'), 3) // alice ×2, mod
    assert.deepEqual(series(samples, 'gatehouse_gateway_connects_total'), {
      'outcome=accepted,reason=none': 4,
      'outcome=refused,reason=connect_refused': 4 + 1 + 22,
      'outcome=refused,reason=path_forbidden': 1,
    })
    assert.deepEqual(series(samples, 'gatehouse_app_connects_total'), {
      'outcome=accepted,reason=none': 4,
      'outcome=refused,reason=channel_invalid': 1,
      'outcome=refused,reason=origin_forbidden': 1,
      'outcome=refused,reason=permission_denied': 1,
      'outcome=refused,reason=rate_limited': 2,
      'outcome=refused,reason=token_invalid': 1,
      'outcome=refused,reason=token_missing': 21,
    })
    assert.equal(value(samples, 'gatehouse_tokens_issued_total'), issued)
    assert.equal(value(samples, 'gatehouse_tokens_used_total'), 4)
    assert.deepEqual(series(samples, 'gatehouse_token_refusals_total'), {
      'reason=csrf_mismatch,stage=issue': 1,
      'reason=fetch_site_forbidden,stage=issue': 1,
      'reason=method_not_allowed,stage=issue': 1,
      'reason=rate_limited,stage=issue': 1,
      'reason=token_invalid,stage=use': 1,
      'reason=token_missing,stage=use': 21,
    })
    assert.deepEqual(series(samples, 'gatehouse_rate_limited_total'), {
      'kind=connect_failures': 2,
      'kind=token_issue': 1,
    })
    assert.equal(value(samples, 'gatehouse_messages_in_total'), 2)
    assert.equal(value(samples, 'gatehouse_messages_out_total'), pushedCount())
    assert.ok(pushedCount() >= 4, 'the chat line reached four sockets')
    assert.equal(value(samples, 'gatehouse_push_failed_total'), 0)
    assert.equal(value(samples, 'gatehouse_push_gone_total'), 0)
    // One observation per push; the chat line went to 4 sockets.
    assert.ok(value(samples, 'gatehouse_fanout_size_count') >= 1)
    assert.ok(
      value(samples, 'gatehouse_fanout_size_bucket', { le: '2' }) <
        value(samples, 'gatehouse_fanout_size_count'),
    )
    assert.equal(
      value(samples, 'gatehouse_integration_duration_seconds_count', {
        route: 'connect',
        outcome: 'response',
      }),
      4 + 4 + 1 + 22,
    )
    assert.equal(
      value(samples, 'gatehouse_integration_duration_seconds_count', {
        route: 'message',
        outcome: 'response',
      }),
      2,
    )
    // A sample of the store calls is timed: the first of each method, then one in 16.
    assert.ok(
      value(samples, 'gatehouse_store_duration_seconds_count', {
        op: 'openSession',
        outcome: 'ok',
      }) >= 1,
    )
    assert.ok(samples.has('gatehouse_event_loop_lag_seconds{quantile=0.99}'))

    // No ids as labels: only the closed label names appear.
    const text = await (await scrape()).text()
    for (const secret of ['alice', 'bob', 'lobby', '127.0.0.9', aliceToken]) {
      assert.ok(!text.includes(secret), `${secret} appears in /metrics`)
    }
  })

  it('serves /metrics to a plain scraper on loopback only, never cross-site', async () => {
    const res = await scrape()
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    await res.body?.cancel()
    const cross = await scrape({ headers: { origin: 'http://evil.example' } })
    assert.equal(cross.status, 403)
    await cross.body?.cancel()
  })
})
