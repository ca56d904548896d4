import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { probeSqlite, publicSpecifiers } from './probe.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))

describe('entry points in the checkout (gatehouse-source condition)', () => {
  it('no public entry point loads node:sqlite until openSqliteStore runs', async () => {
    const specifiers = await publicSpecifiers(`${root}package.json`)
    assert.ok(specifiers.includes('gatehouse') && specifiers.includes('gatehouse/gateway'))
    const probe = await probeSqlite(root, specifiers, ['--conditions=gatehouse-source'])
    assert.deepEqual(
      probe.loadedAfter.filter(([, loaded]) => loaded),
      [],
      'importing these loaded node:sqlite (an ExperimentalWarning on Node 22)',
    )
    assert.equal(probe.loadedAfter.length, specifiers.length)
    // The control: the probe does see the module once SQLite is actually used.
    assert.equal(probe.loadedAfterOpen, true)
  })
})
