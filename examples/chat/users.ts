/**
 * @module examples/chat/users
 * The demo's users: seeded on first start, passwords stored as scrypt hashes (never plain),
 * checked in constant time, with the same work done for unknown names so a login does not
 * reveal which user names exist by its timing.
 */
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto'
import type { DatabaseSync } from 'node:sqlite'
import type { User } from 'gatehouse'

/** A demo user as the app sees it. */
export interface ChatUser extends User {
  readonly id: string
  readonly permissions: readonly string[]
}

/** Who is seeded on first start; each password equals the name. */
export const SEED_USERS: ReadonlyArray<{
  readonly username: string
  readonly permissions: readonly string[]
}> = [
  { username: 'alice', permissions: ['chat.use'] },
  { username: 'bob', permissions: ['chat.use'] },
  { username: 'mod', permissions: ['chat.use', 'chat.moderate'] },
  { username: 'eve', permissions: [] },
]

/** scrypt cost: N=2^14, r=8, p=1 (the interactive-login parameters of RFC 7914). */
const SCRYPT: ScryptOptions = { N: 16_384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }
const KEY_BYTES = 32
/** Longest user name or password looked at; longer input is refused before any work. */
const MAX_CREDENTIAL_LENGTH = 128

function derive(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_BYTES, SCRYPT, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

/**
 * Hash a password for storage: `scrypt$<salt b64url>$<key b64url>`.
 *
 * @example
 * ```ts
 * const stored = await hashPassword('alice') // 'scrypt$…$…'
 * ```
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, salt)
  return `scrypt$${salt.toString('base64url')}$${key.toString('base64url')}`
}

/**
 * Check a password against a stored hash in constant time.
 *
 * @example
 * ```ts
 * await verifyPassword('alice', stored) // true
 * ```
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, saltText, keyText] = stored.split('$')
  if (scheme !== 'scrypt' || saltText === undefined || keyText === undefined) return false
  const expected = Buffer.from(keyText, 'base64url')
  const actual = await derive(password, Buffer.from(saltText, 'base64url'))
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}

/** The user directory of the demo. */
export interface UserDirectory {
  /** The user with that id, or `null`. Cached: users do not change while the demo runs. */
  get(id: string): ChatUser | null
  /** The user when name and password match, else `null` (same work either way). */
  verify(username: unknown, password: unknown): Promise<ChatUser | null>
}

interface UserRow {
  username: string
  password_hash: string
  permissions: string
}

/**
 * Seed the users on first start (an empty table) and load them.
 *
 * @example
 * ```ts
 * const users = await openUsers(db)
 * users.get('mod')?.permissions // ['chat.use', 'chat.moderate']
 * ```
 */
export async function openUsers(db: DatabaseSync): Promise<UserDirectory> {
  const count = db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }
  if (count.n === 0) {
    const insert = db.prepare(
      'INSERT INTO users (username, password_hash, permissions) VALUES (?, ?, ?)',
    )
    for (const seed of SEED_USERS) {
      insert.run(seed.username, await hashPassword(seed.username), JSON.stringify(seed.permissions))
    }
  }
  const rows = db
    .prepare('SELECT username, password_hash, permissions FROM users')
    .all() as unknown as UserRow[]
  const users = new Map<string, { user: ChatUser; hash: string }>()
  for (const row of rows) {
    const permissions = JSON.parse(row.permissions) as string[]
    users.set(row.username, {
      user: Object.freeze({ id: row.username, permissions }),
      hash: row.password_hash,
    })
  }
  // Unknown names are checked against this, so they cost what a real check costs.
  const decoy = await hashPassword(randomBytes(16).toString('base64url'))

  return {
    get: (id) => users.get(id)?.user ?? null,
    async verify(username, password) {
      if (typeof username !== 'string' || typeof password !== 'string') return null
      if (username.length > MAX_CREDENTIAL_LENGTH || password.length > MAX_CREDENTIAL_LENGTH)
        return null
      const entry = users.get(username)
      const ok = await verifyPassword(password, entry?.hash ?? decoy)
      return ok && entry ? entry.user : null
    },
  }
}
