import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createLogger, logSafe, redactFields, redactUrl } from '../src/logger.ts'
import { appFixture, SID } from './support/app-fixture.ts'

function capture() {
  const lines: string[] = []
  const logger = createLogger({
    level: 'debug',
    destination: { write: (l: string) => void lines.push(l) },
  })
  return { lines, logger }
}

describe('logger', () => {
  test('tokens, cookies and secrets are censored wherever the redact paths reach', () => {
    const { lines, logger } = capture()
    logger.info({
      token: 'T0KEN',
      ws_token: 'WS0',
      req: { token: 'NESTED' },
      headers: {
        cookie: 'sessionid=S3CRET',
        'x-csrftoken': 'CSRF1',
        'sec-websocket-protocol': 'gatehouse.token.P0',
      },
      query: { ws_token: 'Q0' },
      secret: 'HMAC',
    })
    const line = lines.join('')
    for (const secret of ['T0KEN', 'WS0', 'NESTED', 'S3CRET', 'CSRF1', 'P0', 'Q0', 'HMAC']) {
      assert.ok(!line.includes(secret), secret)
    }
    assert.ok(line.includes('[redacted]'))
  })

  test('the static secret, the gateway secret and AWS credentials are censored', () => {
    const out = JSON.stringify(
      redactFields({
        event: { transport: { staticSecret: 'S3CRET' } },
        options: { gatewaySecret: 'GW-SECRET' },
        credentials: { accessKeyId: 'AKIAKEYID', secretAccessKey: 'SAK', sessionToken: 'STS' },
      }),
    )
    for (const secret of ['S3CRET', 'GW-SECRET', 'AKIAKEYID', 'SAK', 'STS']) {
      assert.ok(!out.includes(secret), secret)
    }
    assert.ok(out.includes('"staticSecret":"[redacted]"'))
  })

  test('an app’s custom CSRF header and cookie and token parameter are censored in its log lines', async () => {
    // A check that fails with the request's details in its error: the app logs the error.
    const f = await appFixture({
      tokenQueryParam: 'tk',
      csrfHeaderName: 'x-my-csrf',
      csrfCookieName: 'my_csrf',
      connectChecks: [
        () => {
          throw Object.assign(new Error('lookup failed for /ws?channel=lobby&tk=SECRETTOKEN'), {
            request: { headers: { 'X-My-Csrf': 'CSRFVALUE' }, cookies: { my_csrf: 'COOKIEVAL' } },
          })
        },
      ],
    })
    const token = await f.issue('alice')
    const response = await f.app.handle(f.connectEvent({ rawQuery: `channel=lobby&tk=${token}` }))
    assert.equal(response.status, 500)
    const text = f.logs.join('')
    assert.ok(text.includes('"event":"internal_error"'), 'the error was logged')
    for (const secret of ['SECRETTOKEN', 'CSRFVALUE', 'COOKIEVAL']) {
      assert.ok(!text.includes(secret), secret)
    }
    assert.ok(text.includes('channel=lobby'), 'the rest stays readable')
  })

  test('a whole GatewayEvent or a URL logged by a hook never shows the token, cookie or CSRF value', async () => {
    const { lines, logger } = capture()
    const f = await appFixture()
    const token = await f.issue('alice')
    const event = f.connectEvent({
      token,
      headers: {
        'Sec-WebSocket-Protocol': `gatehouse.v1, gatehouse.token.${token}`,
        'X-CSRFToken': 'CSRF9',
      },
    })
    logger.info({ ctx: { event } }, 'hook logged the event')
    logger.info({
      url: `/production?channel=a&ws_token=${token}`,
      deep: [{ a: { b: { Cookie: 'sessionid=S9' } } }],
    })
    const text = lines.join('')
    for (const secret of [token, 'CSRF9', 'S9', SID.alice])
      assert.ok(!text.includes(secret), secret)
    assert.ok(text.includes('channel=a'), 'the rest stays readable')
  })

  test('an error keeps its type, message, code, stack and cause; its secrets stay redacted', () => {
    const { lines, logger } = capture()
    const cause = new Error('store refused ?ws_token=INNERTOK')
    const err = Object.assign(
      new TypeError('handler broke on /?ws_token=T0K&channel=x', { cause }),
      {
        code: 'ERR_STORE_UNAVAILABLE',
        cookie: 'sessionid=S3CRET',
      },
    )
    logger.error({ event: 'handler_failed', err }, 'handler failed')
    logger.error({ event: 'push_failed', nested: { err: new Error('deep') } })
    const [first, second] = lines.map((l) => JSON.parse(l))
    assert.equal(first.err.type, 'TypeError')
    assert.equal(first.err.message, 'handler broke on /?ws_token=[redacted]&channel=x')
    assert.equal(first.err.code, 'ERR_STORE_UNAVAILABLE')
    assert.match(first.err.stack, /^TypeError: handler broke on[^\n]*\n\s+at /)
    assert.equal(first.err.cause.message, 'store refused ?ws_token=[redacted]')
    assert.equal(first.err.cookie, '[redacted]')
    assert.equal(second.nested.err.message, 'deep')
    assert.match(second.nested.err.stack, /^Error: deep/)
    const text = lines.join('')
    for (const secret of ['T0K&', 'INNERTOK', 'S3CRET']) assert.ok(!text.includes(secret), secret)
  })

  test('redactUrl removes ws_token values from URLs and query strings', () => {
    assert.equal(redactUrl('/?ws_token=abc&channel=x'), '/?ws_token=[redacted]&channel=x')
    assert.equal(
      redactUrl('wss://h/p?channel=x&ws_token=abc#f'),
      'wss://h/p?channel=x&ws_token=[redacted]#f',
    )
  })

  test('percent-encoded parameter and field names are redacted as the app decodes them', () => {
    // The app's query parser reads both as ws_token, so the log must redact both.
    assert.equal(new URLSearchParams('ws%5Ftoken=T1').get('ws_token'), 'T1')
    assert.equal(new URLSearchParams('ws_tok%65n=T1').get('ws_token'), 'T1')
    for (const url of ['/?ws%5Ftoken=T1', '/?channel=a&ws_tok%65n=T1', '/?WS%5fTOKEN=T1&x=1']) {
      const redacted = redactUrl(url)
      assert.ok(!redacted.includes('T1'), redacted)
      assert.ok(redacted.includes('[redacted]'), redacted)
    }
    assert.equal(
      redactUrl('/?channel=a&ws_tok%65n=T1&b=2'),
      '/?channel=a&ws_tok%65n=[redacted]&b=2',
    )
    assert.equal(redactUrl('ws%5Ftoken=T1'), 'ws%5Ftoken=[redacted]', 'a bare query string')
    const { lines, logger } = capture()
    logger.info({
      url: '/production?ws%5Ftoken=URLTOK&channel=a',
      raw: 'ws_tok%65n=RAWTOK',
      fields: { 'ws%5Ftoken': 'KEYTOK', 'c%6Fokie': 'COOKIE1', 'sec-websocket-pr%6Ftocol': 'P1' },
    })
    const text = lines.join('')
    for (const secret of ['URLTOK', 'RAWTOK', 'KEYTOK', 'COOKIE1', 'P1']) {
      assert.ok(!text.includes(secret), secret)
    }
    assert.ok(text.includes('channel=a'), 'the rest stays readable')
  })

  test('an Error keeps its type, message, stack, code and cause (redacted), never {}', () => {
    const { lines, logger } = capture()
    const cause = new Error('inner ws_token=C4USE')
    const err = Object.assign(new TypeError('outer /?ws_token=T0K&x=1', { cause }), {
      code: 'E_X',
      cookie: 'sessionid=S1',
    })
    logger.error({ err }, 'failed')
    const line = JSON.parse(lines.join('')) as { err: Record<string, unknown> }
    assert.equal(line.err.type, 'TypeError')
    assert.equal(line.err.message, 'outer /?ws_token=[redacted]&x=1')
    assert.equal(line.err.code, 'E_X')
    assert.equal(line.err.cookie, '[redacted]')
    assert.match(String(line.err.stack), /TypeError: outer/)
    assert.equal((line.err.cause as Record<string, unknown>).message, 'inner ws_token=[redacted]')
    for (const secret of ['T0K', 'C4USE', 'S1']) assert.ok(!lines.join('').includes(secret), secret)
  })

  test('logSafe escapes control characters and caps length (no forged lines, no terminal escapes)', () => {
    assert.equal(logSafe('x\n{"level":60}'), 'x\\x0a{"level":60}')
    assert.ok(!logSafe('\u001b[2J').includes('\u001b'))
    assert.equal(logSafe('a'.repeat(500)).length, 201)
  })

  test('a hostile handler name and user agent never break the one-JSON-object-per-line log', async () => {
    const f = await appFixture({ handlers: { ping: () => 'pong' } })
    const id = await f.connect('alice', {
      headers: { 'user-agent': 'ua\u001b[2J\n{"level":60,"msg":"forged"}' },
    })
    await f.app.handle(
      f.messageEvent(id, JSON.stringify({ action: 'x\n{"level":60,"msg":"forged"}' })),
    )
    const text = f.logs.join('')
    const lines = text.split('\n').filter((l) => l !== '')
    for (const line of lines) {
      const parsed = JSON.parse(line) as { msg?: string }
      assert.notEqual(parsed.msg, 'forged')
    }
    assert.ok(!text.includes('\u001b'), 'no raw ESC byte')
    assert.ok(lines.some((l) => l.includes('message_rejected')))
  })
})
