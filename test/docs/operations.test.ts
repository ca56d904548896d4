/**
 * `docs/operations.md` against the code: its sections are the ones the page promises, every
 * `gatehouse` command line it shows uses a command and flags that exist, the SQLite ones run
 * as written (in a scratch directory), and so do the backup commands.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, describe, it } from 'node:test'
import { main } from '../../src/cli/main.ts'
import { openSqliteStore } from '../../src/store/sqlite.ts'
import { SQLITE_SCHEMA_VERSION, sqliteSchemaStatus } from '../../src/store/sqlite-schema.ts'

const DOC = readFileSync(resolve(import.meta.dirname, '../../docs/operations.md'), 'utf8')

function blocks(lang: string): string[] {
  return [...DOC.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!)
}

const commandLines = blocks('sh')
  .flatMap((b) => b.split('\n'))
  .map((l) => l.replace(/^.*?(gatehouse )/, '$1').replace(/\s*>.*$/, ''))
  .filter((l) => l.startsWith('gatehouse '))

async function run(argv: string[]) {
  let out = ''
  let err = ''
  const io = {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    env: {},
  }
  const code = await main(argv, io)
  return { code, out, err }
}

describe('docs/operations.md', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-ops-doc-'))
  const cwd = process.cwd()
  after(() => {
    process.chdir(cwd)
    rmSync(dir, { recursive: true, force: true })
  })

  it('has the sections the operations page promises, in order', () => {
    const headings = [...DOC.matchAll(/^## (.+)$/gm)].map((m) => m[1])
    assert.deepEqual(headings, [
      'Metrics',
      'Logs',
      'Alerts',
      'Admin page',
      'Cleanup',
      'Migrations',
      'Backup',
    ])
  })

  it('every gatehouse command line uses a real command and real flags', async () => {
    assert.ok(commandLines.length >= 8, commandLines.join('\n'))
    for (const line of commandLines) {
      const [, command, ...args] = line.split(/\s+/)
      const help = await run([command!, '--help'])
      assert.equal(help.code, 0, line)
      for (const arg of args) {
        const flag = /^(--[a-z-]+)/.exec(arg)?.[1]
        assert.ok(flag, `${line}: ${arg}`)
        assert.ok(help.out.includes(`${flag}`), `${line}: ${flag} is not a flag of ${command}`)
      }
    }
  })

  it('the SQLite command lines run as written, migrate before cleanup', async () => {
    process.chdir(dir)
    const sqlite = commandLines.filter((l) => l.includes('.data/gatehouse.db'))
    const ordered = [
      ...sqlite.filter((l) => l.startsWith('gatehouse migrate')),
      ...sqlite.filter((l) => !l.startsWith('gatehouse migrate')),
    ]
    assert.ok(ordered.length >= 3)
    for (const line of ordered) {
      const r = await run(line.split(/\s+/).slice(1))
      assert.equal(r.code, 0, `${line}: ${r.err}`)
    }
    assert.ok(existsSync(join(dir, '.data/gatehouse.db')))
  })

  it('the backup commands give a consistent copy while a store has the file open', async () => {
    process.chdir(dir)
    const store = await openSqliteStore({ path: '.data/gatehouse.db' })
    try {
      await store.createSession({
        connectionId: 'in-the-wal',
        userId: 'u',
        sessionHash: null,
        channel: 'lobby',
        connectedAt: 1,
      })
      const shell = blocks('sh').find((b) => b.includes('.backup'))!
      for (const line of shell.trim().split('\n')) {
        const [, file, sql] = /^sqlite3 (\S+) "(.*)"$/.exec(line) ?? []
        assert.ok(file && sql, line)
        execFileSync('sqlite3', [file, sql], { cwd: dir })
      }
      const node = blocks('ts').find((b) => b.includes('VACUUM INTO'))!
      const target = /VACUUM INTO '([^']+)'/.exec(node)![1]!
      rmSync(join(dir, target), { force: true })
      // The snippet as written (its import is the test's own).
      const body = node.replace(/^import .*$/m, '')
      new Function('DatabaseSync', body)(DatabaseSync)
      for (const copy of ['.data/backup.db', '.data/backup-compact.db', target]) {
        const db = new DatabaseSync(join(dir, copy), { readOnly: true })
        assert.equal(sqliteSchemaStatus(db).version, SQLITE_SCHEMA_VERSION, copy)
        const row = db
          .prepare("SELECT 1 AS x FROM sessions WHERE connection_id = 'in-the-wal'")
          .get()
        assert.ok(row, `${copy} misses a write still in the WAL`)
        db.close()
      }
    } finally {
      await store.close()
    }
  })
})
