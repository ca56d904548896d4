/**
 * @module tokens/token
 * WebSocket tokens: 32 random bytes in base64url, stored only as their SHA-256 hash.
 * A token is never kept, logged or compared in clear; lookups use the hash, so the bytes an
 * attacker sends never steer a comparison (no timing oracle, see research/security.md §2.5).
 */
import { createHash, randomBytes } from 'node:crypto'

/** Length of a token: 32 bytes in unpadded base64url. */
export const TOKEN_LENGTH = 43

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

/**
 * Prepended to a session id before hashing. It holds `:`, which base64url never does, so the
 * hashed input of a session can never equal the hashed input of a well-formed token, and a
 * session hash can never equal a token hash.
 */
const SESSION_HASH_PREFIX = 'gatehouse:session:'

/**
 * A fresh token: 32 bytes from the OS CSPRNG, base64url without padding (43 characters).
 *
 * @example
 * ```ts
 * const token = generateToken() // 'bJ3y…' (43 chars)
 * await store.insertToken({ hash: hashToken(token), ... })
 * ```
 */
export function generateToken(): string {
  return randomBytes(32).toString('base64url')
}

/**
 * Hex SHA-256 of a token (64 characters): the only form a token is stored or looked up in.
 * A 256-bit random input needs no slow KDF.
 *
 * @example
 * ```ts
 * hashToken(token) // '9f86d0…' (64 hex chars)
 * ```
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/**
 * Hex SHA-256 of an HTTP session id, domain-separated from token hashes. Tokens are bound to
 * this hash, and revocation by session uses it, so the raw session id is never stored.
 *
 * @example
 * ```ts
 * const sessionHash = hashSessionId(cookies.get('sessionid') ?? '')
 * ```
 */
export function hashSessionId(id: string): string {
  return createHash('sha256').update(SESSION_HASH_PREFIX, 'utf8').update(id, 'utf8').digest('hex')
}

/**
 * True when `value` has the exact shape of a token: a string of 43 base64url characters.
 * Run it before any store work, so junk (empty, 10 KB, `%00`, non-strings) costs nothing.
 *
 * @example
 * ```ts
 * isWellFormedToken(event.query.ws_token) // false for undefined, '', 'abc', '%00…'
 * ```
 */
export function isWellFormedToken(value: unknown): value is string {
  // The length test comes first so a huge string is never scanned by the regex.
  return typeof value === 'string' && value.length === TOKEN_LENGTH && TOKEN_PATTERN.test(value)
}
