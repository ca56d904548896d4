import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { readCookie } from '../../src/client/cookie.ts'
import { parseRetryAfterMs, requestToken, type TokenRequest } from '../../src/client/token.ts'

const NOW = Date.parse('2026-01-01T00:00:00Z')

function req(fetch: TokenRequest['fetch'], csrfToken?: string | null): TokenRequest {
  return {
    url: '/api/ws-token/',
    fetch,
    csrfHeaderName: 'X-CSRFToken',
    csrfToken: csrfToken === null ? undefined : (csrfToken ?? 'csrf-1'),
    signal: new AbortController().signal,
    now: NOW,
  }
}

const answer = (res: Response) => async () => res

describe('requestToken', () => {
  it('POSTs with the session cookie (same-origin), the CSRF header, and no caching', async () => {
    let seen: { url: string; init: RequestInit } | undefined
    const out = await requestToken(
      req(async (url, init) => {
        seen = { url, init }
        return Response.json({ token: 'abc_DEF-123', expires_in: 60 })
      }),
    )
    assert.deepEqual(out, { kind: 'token', token: 'abc_DEF-123' })
    assert.ok(seen)
    assert.equal(seen.url, '/api/ws-token/')
    assert.equal(seen.init.method, 'POST')
    assert.equal(seen.init.credentials, 'same-origin')
    assert.equal(seen.init.cache, 'no-store')
    assert.equal((seen.init.headers as Record<string, string>)['X-CSRFToken'], 'csrf-1')
  })

  it('omits the CSRF header when there is no cookie (the server then answers 403)', async () => {
    let headers: Record<string, string> = {}
    await requestToken(
      req(async (_url, init) => {
        headers = init.headers as Record<string, string>
        return new Response(null, { status: 403 })
      }, null),
    )
    assert.equal('X-CSRFToken' in headers, false)
  })

  it('reads 401 and 403 as an authentication failure', async () => {
    for (const status of [401, 403]) {
      const out = await requestToken(req(answer(new Response('no', { status }))))
      assert.deepEqual(out, { kind: 'auth', status })
    }
  })

  it('reads Retry-After on 429 and 503, and only there', async () => {
    const h = { 'retry-after': '7' }
    assert.deepEqual(
      await requestToken(req(answer(new Response(null, { status: 429, headers: h })))),
      {
        kind: 'retry',
        status: 429,
        retryAfterMs: 7000,
      },
    )
    assert.deepEqual(
      await requestToken(req(answer(new Response(null, { status: 503, headers: h })))),
      {
        kind: 'retry',
        status: 503,
        retryAfterMs: 7000,
      },
    )
    assert.deepEqual(
      await requestToken(req(answer(new Response(null, { status: 500, headers: h })))),
      {
        kind: 'retry',
        status: 500,
      },
    )
  })

  it('turns network errors, bad JSON and malformed tokens into a retry, never a throw', async () => {
    const boom = await requestToken(
      req(async () => {
        throw new TypeError('network down')
      }),
    )
    assert.equal(boom.kind, 'retry')
    for (const body of [
      'not json',
      '{"token":42}',
      '{"token":""}',
      '{"token":"a b"}',
      'null',
      '{}',
    ]) {
      const out = await requestToken(req(answer(new Response(body, { status: 200 }))))
      assert.equal(out.kind, 'retry', body)
    }
    const long = 'a'.repeat(2049)
    const out = await requestToken(req(answer(Response.json({ token: long }))))
    assert.equal(out.kind, 'retry')
  })

  it('accepts JWT-shaped tokens (dots) as well as base64url', async () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl'
    assert.deepEqual(await requestToken(req(answer(Response.json({ token: jwt })))), {
      kind: 'token',
      token: jwt,
    })
  })
})

describe('parseRetryAfterMs', () => {
  it('reads delta seconds and HTTP dates, never negative, undefined when unreadable', () => {
    assert.equal(parseRetryAfterMs('7', NOW), 7000)
    assert.equal(parseRetryAfterMs(' 0 ', NOW), 0)
    assert.equal(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', NOW), 30_000)
    assert.equal(parseRetryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', NOW), 0)
    assert.equal(parseRetryAfterMs(null, NOW), undefined)
    assert.equal(parseRetryAfterMs('soon', NOW), undefined)
    assert.equal(parseRetryAfterMs('-5', NOW), undefined)
  })
})

describe('readCookie', () => {
  it('finds one cookie by exact name and decodes it', () => {
    const jar = 'sessionid=s3cr3t; xcsrftoken=wrong; csrftoken=a%2Bb; other=1'
    assert.equal(readCookie(jar, 'csrftoken'), 'a+b')
    assert.equal(readCookie(jar, 'missing'), undefined)
    assert.equal(readCookie('csrftoken=%E0%A4%A', 'csrftoken'), '%E0%A4%A')
    assert.equal(readCookie('', 'csrftoken'), undefined)
    assert.equal(readCookie('csrftoken', 'csrftoken'), undefined)
  })
})
