import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseCommand } from '../../src/cli/args.ts'

function io() {
  const out: string[] = []
  const err: string[] = []
  return {
    out,
    err,
    io: {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => err.push(t) },
    },
  }
}

test('parseCommand: flags parsed, unknown flag → 2 on stderr, --help → 0 with the usage', () => {
  const flags = { store: { type: 'string' }, status: { type: 'boolean' } } as const
  const ok = io()
  const parsed = parseCommand('migrate', ['--store', 'x.db', '--status'], flags, 'USAGE\n', ok.io)
  assert.ok(typeof parsed === 'object')
  assert.deepEqual({ ...parsed.values }, { store: 'x.db', status: true })
  assert.equal(parsed.usage('no store'), 2)
  assert.equal(ok.err.join(''), 'gatehouse migrate: no store\n\nUSAGE\n')

  const bad = io()
  assert.equal(parseCommand('migrate', ['--stor', 'x'], flags, 'USAGE\n', bad.io), 2)
  assert.match(bad.err.join(''), /^gatehouse migrate: .*--stor[\s\S]*USAGE\n$/)
  assert.deepEqual(bad.out, [])

  const help = io()
  assert.equal(parseCommand('migrate', ['-h'], flags, 'USAGE\n', help.io), 0)
  assert.deepEqual(help.out, ['USAGE\n'])
  assert.deepEqual(help.err, [])
})
