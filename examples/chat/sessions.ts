/**
 * @module examples/chat/sessions
 * HTTP login sessions of the demo: a random session id in an HttpOnly cookie (only its
 * SHA-256 is stored), and a CSRF token in a readable cookie that the page echoes in
 * `X-CSRFToken`. A login always mints a new id (no session fixation) and drops the old one.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { DatabaseSync } from 'node:sqlite'
import { parseCookies } from 'gatehouse'

/** Name of the HttpOnly session cookie. */
export const SESSION_COOKIE = 'sessionid'
/** Name of the readable CSRF cookie (the token endpoint's default). */
export const CSRF_COOKIE = 'csrftoken'
/** How long a login lasts. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000

/** A live login. */
export interface HttpSession {
  /** The raw id from the cookie (tokens are bound to its hash by Gatehouse). */
  readonly sessionId: string
  readonly username: string
  readonly csrf: string
}

/** Login sessions over the demo's SQLite file. */
export interface SessionStore {
  /** A new session for `username`, replacing `previousId` when given. */
  create(username: string, previousId?: string): HttpSession
  /** The session named by a `Cookie` header, or `null` (absent, unknown, expired). */
  fromCookies(cookieHeader: string | null | undefined): HttpSession | null
  /** End a session. */
  destroy(sessionId: string): void
  /** End every session of a user (a kick or ban); returns how many ended. */
  destroyUser(username: string): number
}

const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/

function hashId(sessionId: string): string {
  return createHash('sha256').update(sessionId, 'utf8').digest('hex')
}

/**
 * Open the session store.
 *
 * @example
 * ```ts
 * const sessions = openSessions(db)
 * const { sessionId, csrf } = sessions.create('alice')
 * sessions.fromCookies(`sessionid=${sessionId}`)?.username // 'alice'
 * ```
 */
export function openSessions(db: DatabaseSync, now: () => number = Date.now): SessionStore {
  const insert = db.prepare(
    'INSERT INTO http_sessions (id_hash, username, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
  )
  const select = db.prepare(
    'SELECT username, csrf FROM http_sessions WHERE id_hash = ? AND expires_at > ?',
  )
  const remove = db.prepare('DELETE FROM http_sessions WHERE id_hash = ?')
  const removeUser = db.prepare('DELETE FROM http_sessions WHERE username = ?')
  const purge = db.prepare('DELETE FROM http_sessions WHERE expires_at <= ?')
  purge.run(now())

  return {
    create(username, previousId) {
      if (previousId !== undefined) remove.run(hashId(previousId))
      const sessionId = randomBytes(32).toString('base64url')
      const csrf = randomBytes(32).toString('base64url')
      const t = now()
      insert.run(hashId(sessionId), username, csrf, t, t + SESSION_TTL_MS)
      return { sessionId, username, csrf }
    },
    fromCookies(cookieHeader) {
      const sessionId = parseCookies(cookieHeader).get(SESSION_COOKIE)
      // Malformed ids never reach the database.
      if (sessionId === undefined || !ID_PATTERN.test(sessionId)) return null
      const row = select.get(hashId(sessionId), now()) as
        | { username: string; csrf: string }
        | undefined
      return row ? { sessionId, username: row.username, csrf: row.csrf } : null
    },
    destroy(sessionId) {
      remove.run(hashId(sessionId))
    },
    destroyUser(username) {
      return Number(removeUser.run(username).changes)
    },
  }
}

/**
 * Whether `header` is the session's CSRF token (constant time). The token endpoint already
 * checks cookie = header; binding it to the session as well defeats a planted cookie.
 *
 * @example
 * ```ts
 * csrfMatches(session, request.headers.get('x-csrftoken')) // true or false
 * ```
 */
export function csrfMatches(session: HttpSession, header: string | null): boolean {
  if (header === null || header.length === 0 || header.length > 256) return false
  const a = createHash('sha256').update(session.csrf).digest()
  const b = createHash('sha256').update(header).digest()
  return timingSafeEqual(a, b)
}

/**
 * The `Set-Cookie` values of a login: the HttpOnly session cookie and the readable CSRF one.
 * Not `Secure` because the demo is plain http on loopback; add it behind HTTPS.
 *
 * @example
 * ```ts
 * headers.append('set-cookie', ...loginCookies(session))
 * ```
 */
export function loginCookies(session: HttpSession): string[] {
  const maxAge = Math.floor(SESSION_TTL_MS / 1000)
  return [
    `${SESSION_COOKIE}=${session.sessionId}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}`,
    `${CSRF_COOKIE}=${session.csrf}; Path=/; SameSite=Lax; Max-Age=${maxAge}`,
  ]
}

/**
 * The `Set-Cookie` values that clear both cookies at logout.
 *
 * @example
 * ```ts
 * for (const c of logoutCookies()) headers.append('set-cookie', c)
 * ```
 */
export function logoutCookies(): string[] {
  return [
    `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`,
    `${CSRF_COOKIE}=; Path=/; SameSite=Lax; Max-Age=0`,
  ]
}
