/**
 * @module examples/chat/db
 * The demo's own SQLite file (users and HTTP sessions), next to the Gatehouse store's file.
 * Gatehouse does not own users or logins: that is the host app's business, as here.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  username TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  permissions TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS http_sessions (
  id_hash TEXT PRIMARY KEY,
  username TEXT NOT NULL REFERENCES users(username),
  csrf TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS http_sessions_expiry ON http_sessions(expires_at);
`

/**
 * Open (and create on first start) `<dataDir>/chat.db`.
 *
 * @example
 * ```ts
 * const db = openChatDb('./.data')
 * db.prepare('SELECT count(*) AS n FROM users').get()
 * ```
 */
export function openChatDb(dataDir: string): DatabaseSync {
  mkdirSync(dataDir, { recursive: true })
  const db = new DatabaseSync(join(dataDir, 'chat.db'))
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 1000;')
  db.exec('PRAGMA foreign_keys = ON;')
  db.exec(SCHEMA)
  return db
}
