/**
 * Child process of the fault suite: opens an SQLite file, takes the write lock with
 * `BEGIN EXCLUSIVE`, says so on stdout, holds it for the given time (or until stdin closes),
 * then rolls back and exits. Another process's writer then waits for its busy timeout.
 * Usage: node sqlite-locker.ts <path> <holdMs>
 */
import { DatabaseSync } from 'node:sqlite'

const [path, hold] = process.argv.slice(2)
const db = new DatabaseSync(path!)
db.exec('PRAGMA busy_timeout = 5000')
db.exec('BEGIN EXCLUSIVE')
process.stdout.write(`${JSON.stringify({ locked: true })}\n`)
const release = () => {
  if (db.isTransaction) db.exec('ROLLBACK')
  db.close()
  process.exit(0)
}
setTimeout(release, Number(hold))
process.stdin.on('end', release)
process.stdin.resume()
