import { type JWTVerifyGetKey, jwtVerify } from 'jose'
import type { App, ConnectIdentity, GatewayEvent } from '../../src/index.ts'

// API and mobile clients have no cookie: they prove who they are with a bearer JWT. The
// app still requires a single-use connect token by default; the JWT names the session it
// must have been issued to (the `sid` claim), so a leaked connect token is useless alone.
export interface BearerOptions {
  readonly key: CryptoKey | Uint8Array | JWTVerifyGetKey
  readonly issuer: string
  readonly audience: string
}

/** The user and session of `Authorization: Bearer <jwt>`, or null for anything else. */
export async function verifyBearer(header: string | null | undefined, o: BearerOptions) {
  const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(header ?? '')
  if (match === null) return null
  try {
    const { payload } = await jwtVerify(match[1]!, o.key as CryptoKey, {
      issuer: o.issuer,
      audience: o.audience,
      algorithms: ['ES256'], // never what the token's header asks for
      requiredClaims: ['sub', 'sid', 'exp'],
    })
    if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return null
    return { userId: payload.sub, sessionId: payload.sid }
  } catch {
    return null
  }
}

/** `identify` for createApp: the JWT of the upgrade request names user and session. */
export function bearerIdentify(
  o: BearerOptions,
): (event: GatewayEvent) => Promise<ConnectIdentity> {
  return async (event) =>
    (await verifyBearer(event.headers.authorization, o)) ?? { sessionId: null, userId: null }
}

/**
 * The connect-token endpoint for API clients: `POST` with the bearer JWT. No cookie is
 * involved, so there is no CSRF to check: a cross-site page cannot attach the header.
 */
export function bearerTokenEndpoint(app: App, o: BearerOptions) {
  return async (request: Request): Promise<Response> => {
    if (request.method !== 'POST') {
      return Response.json(
        { message: 'Method Not Allowed' },
        { status: 405, headers: { allow: 'POST' } },
      )
    }
    const who = await verifyBearer(request.headers.get('authorization'), o)
    if (who === null) return Response.json({ message: 'Unauthorized' }, { status: 401 })
    const issued = await app.tokens.issue(who.userId, who.sessionId)
    if (!issued.ok) {
      const headers = { 'retry-after': String(issued.retryAfterSec) }
      return Response.json({ message: 'Too Many Requests' }, { status: 429, headers })
    }
    const body = { token: issued.token, expires_in: issued.expiresInSec }
    return Response.json(body, { headers: { 'cache-control': 'no-store' } })
  }
}
