/**
 * The client's history tracker: positions per channel, duplicates dropped, and a recovery
 * that holds its channel's history messages back and delivers them by offset at the notice.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { HistoryTracker } from '../../src/client/history.ts'
import { socketTarget } from '../../src/client/url.ts'

const h = (channel: string, offset: number, epoch = 'e1', extra: object = {}) => ({
  $history: { channel, offset, epoch },
  n: offset,
  ...extra,
})

describe('client history tracker', () => {
  test('delivers a history message once, without $history, and tracks its position', () => {
    const t = new HistoryTracker()
    assert.deepEqual(t.accept(h('a', 1)).deliver, [{ n: 1 }])
    assert.deepEqual(t.accept(h('a', 1)).deliver, [], 'a repeat is dropped')
    assert.deepEqual(t.accept(h('a', 2)).deliver, [{ n: 2 }])
    assert.deepEqual(t.point('a'), { epoch: 'e1', offset: 2 })
    assert.deepEqual(t.accept({ type: 'plain' }).deliver, [{ type: 'plain' }])
    assert.deepEqual(t.accept(h('a', 1, 'e2')).deliver, [{ n: 1 }], 'a new epoch starts over')
    // Malformed $history: passed through as an ordinary message, no position.
    const odd = { $history: { channel: 'b', offset: -1, epoch: 'e' } }
    assert.deepEqual(t.accept(odd).deliver, [odd])
    assert.equal(t.point('b'), undefined)
  })

  test('during a recovery, live and missed messages are held and delivered by offset, once', () => {
    const t = new HistoryTracker()
    t.accept(h('a', 3))
    t.begin('a')
    // A live one overtakes the batch; one arrives twice (live and in the batch).
    for (const o of [6, 4, 5, 6, 7]) assert.deepEqual(t.accept(h('a', o)).deliver, [])
    assert.deepEqual(t.accept(h('b', 1)).deliver, [{ n: 1 }], 'other channels pass')
    const end = t.accept({
      type: 'recovered',
      channel: 'a',
      recovered: true,
      epoch: 'e1',
      offset: 6,
    })
    assert.deepEqual(
      end.deliver.map((m) => (m as { n: number }).n),
      [4, 5, 6, 7],
    )
    assert.deepEqual(end.recovered, { channel: 'a', recovered: true, epoch: 'e1', offset: 6 })
    assert.deepEqual(t.point('a'), { epoch: 'e1', offset: 7 })
    assert.equal(t.recovering, false)
    // Outside a recovery a `recovered`-typed message is just a message.
    const own = { type: 'recovered', channel: 'a', recovered: true }
    assert.deepEqual(t.accept(own).deliver, [own])
  })

  test('recovered: false moves the position to the notice; a new epoch drops the old stream', () => {
    const t = new HistoryTracker()
    t.accept(h('a', 3))
    t.begin('a')
    t.accept(h('a', 2, 'e2'))
    t.accept(h('a', 9, 'e1'))
    const end = t.accept({
      type: 'recovered',
      channel: 'a',
      recovered: false,
      epoch: 'e2',
      offset: 5,
    })
    assert.deepEqual(end.deliver, [{ n: 2 }])
    assert.equal(end.recovered?.recovered, false)
    assert.deepEqual(t.point('a'), { epoch: 'e2', offset: 5 })
    t.begin('a')
    t.accept(h('a', 6, 'e2'))
    assert.deepEqual(t.abort(), [{ n: 6 }], 'a cut-short recovery delivers what it held')
  })

  test('the connect URL carries since and epoch only with a channel, replacing stale ones', () => {
    const at = { epoch: 'e1', offset: 41 }
    const { url } = socketTarget('ws://gw/?since=1&epoch=old', 'tok', 'room', 'query', at)
    const q = new URL(url).searchParams
    assert.deepEqual([q.get('since'), q.get('epoch'), q.get('channel')], ['41', 'e1', 'room'])
    const none = new URL(socketTarget('ws://gw/?since=1', 'tok', undefined, 'query', at).url)
    assert.equal(none.searchParams.get('since'), null)
  })
})
