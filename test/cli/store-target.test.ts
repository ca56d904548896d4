import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeTarget, parseStoreTarget, redactIn } from '../../src/cli/store-target.ts'
import { isGatehouseError } from '../../src/errors.ts'

test('a --store value names SQLite, PostgreSQL or Redis; other URL schemes are refused', () => {
  assert.deepEqual(parseStoreTarget('.data/gatehouse.db'), {
    kind: 'sqlite',
    path: '.data/gatehouse.db',
  })
  assert.deepEqual(parseStoreTarget('/abs/x:y.db'), { kind: 'sqlite', path: '/abs/x:y.db' })
  assert.equal(parseStoreTarget('postgres://h/d').kind, 'postgres')
  assert.equal(parseStoreTarget('PostgreSQL://h/d').kind, 'postgres')
  assert.equal(parseStoreTarget('redis://h:6379').kind, 'redis')
  assert.equal(parseStoreTarget('rediss://h:6380').kind, 'redis')
  for (const bad of ['mysql://h/d', 'file:///x.db', 'http://h/']) {
    assert.throws(
      () => parseStoreTarget(bad),
      (e) => isGatehouseError(e, 'ERR_INVALID_OPTION'),
    )
  }
})

test('passwords are masked where the target is shown, even percent-encoded in the URL', () => {
  const t = parseStoreTarget('postgres://app:p%40ss%2Fw0rd@db:5432/app')
  assert.equal(describeTarget(t), 'postgres://app:***@db:5432/app')
  const msg = redactIn(
    t,
    'password authentication failed for p@ss/w0rd at postgres://app:p%40ss%2Fw0rd@db:5432/app',
  )
  assert.doesNotMatch(msg, /p@ss\/w0rd|p%40ss/)
  assert.equal(describeTarget(parseStoreTarget('redis://cache:6379')), 'redis://cache:6379')
  assert.equal(redactIn(parseStoreTarget('a.db'), 'as is'), 'as is')
})
