import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { manualClock } from '../../src/clock.ts'
import { createMemoryConnections } from '../../src/push/memory.ts'

describe('createMemoryConnections', () => {
  it('records pushes per open connection and reports closed ones as gone', async () => {
    const clock = manualClock(1_000)
    const c = createMemoryConnections({ clock })
    c.open('a=')
    c.open('b=', { sourceIp: '192.0.2.9', userAgent: 'UA' })
    assert.equal(await c.post('a=', 'one'), true)
    clock.advance(5)
    assert.deepEqual(await c.postMany(['a=', 'b=', 'z='], new TextEncoder().encode('two')), {
      sent: 2,
      gone: ['z='],
    })
    assert.deepEqual(c.received('a='), ['one', 'two'])
    assert.deepEqual(await c.get('b='), {
      connectedAt: 1_000,
      lastActiveAt: 1_005,
      sourceIp: '192.0.2.9',
      userAgent: 'UA',
    })
    c.close('a=')
    assert.equal(await c.post('a=', 'three'), false)
    assert.equal(await c.get('a='), null)
    assert.deepEqual(c.received('a='), ['one', 'two'], 'history survives the close')
    assert.equal(await c.delete('b='), true)
    assert.equal(await c.delete('b='), false)
    assert.deepEqual(c.deleted, ['b='])
    assert.equal(c.isOpen('b='), false)
    assert.deepEqual(c.received('never='), [])
  })
})
