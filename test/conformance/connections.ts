/**
 * The `Connections` port's contract, run over every port a gateway offers: the in-process
 * port, the `@connections` API over HTTP (one call per id, and the fan-out extension), and a
 * cluster (the owner's own port, another node's, and another node's `@connections` API).
 * What every one of them must agree on: an unknown id vs a live one vs one that is closing,
 * the size limit, text vs binary frames, an idempotent delete, and what `postMany` reports.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { WebSocket } from 'ws'
import { isGatehouseError } from '../../src/errors.ts'
import type { Connections } from '../../src/push/connections.ts'

/** A socket the suite holds: its id, and every frame it received with its type. */
export interface HeldSocket {
  readonly id: string
  readonly ws: WebSocket
  /** The next frame: its text and whether it came as a binary frame. */
  next(timeoutMs?: number): Promise<{ text: string; binary: boolean; bytes: Buffer }>
  /** Resolves with the close code once the socket is closed. */
  readonly closed: Promise<number>
}

/** One port under test, with a way to open sockets it can reach. */
export interface ConnectionsTarget {
  readonly connections: Connections
  /** Open a client socket whose id the port must reach. */
  open(): Promise<HeldSocket>
  /** A well-formed id that no gateway of the target issued. */
  unknownId(): string
  close(): Promise<void>
}

/**
 * Run the suite over a target built by `setup`.
 *
 * @example
 * ```ts
 * connectionsSuite('in-process gateway', async () => inProcessTarget())
 * ```
 */
export function connectionsSuite(name: string, setup: () => Promise<ConnectionsTarget>): void {
  describe(`Connections contract: ${name}`, () => {
    let target: ConnectionsTarget
    let c: Connections
    before(async () => {
      target = await setup()
      c = target.connections
    })
    after(() => target.close())

    test('an unknown id is gone, to every call', async () => {
      const id = target.unknownId()
      assert.equal(await c.post(id, 'x'), false)
      assert.equal(await c.get(id), null)
      assert.equal(await c.delete(id), false)
      assert.deepEqual(await c.postMany([id], 'x'), { sent: 0, gone: [id] })
    })

    test('a live id: post delivers, get describes', async () => {
      const s = await target.open()
      assert.equal(await c.post(s.id, '{"n":1}'), true)
      assert.deepEqual((await s.next()).text, '{"n":1}')
      const info = await c.get(s.id)
      assert.ok(info)
      assert.equal(typeof info.connectedAt, 'number')
      assert.ok(info.lastActiveAt >= info.connectedAt)
      assert.equal(info.sourceIp, '127.0.0.1')
      s.ws.close()
      await s.closed
    })

    test('text stays text; UTF-8 bytes go as text, other bytes as binary', async () => {
      const s = await target.open()
      assert.equal(await c.post(s.id, 'héllo'), true)
      assert.deepEqual(await s.next(), {
        text: 'héllo',
        binary: false,
        bytes: Buffer.from('héllo'),
      })
      assert.equal(await c.post(s.id, new TextEncoder().encode('plain')), true)
      assert.equal((await s.next()).binary, false)
      const raw = new Uint8Array([0xff, 0xfe, 0x00, 0x80])
      assert.equal(await c.post(s.id, raw), true)
      const frame = await s.next()
      assert.equal(frame.binary, true)
      assert.deepEqual(new Uint8Array(frame.bytes), raw)
      s.ws.close()
      await s.closed
    })

    test('over the size limit: ERR_MESSAGE_TOO_LARGE, nothing delivered', async () => {
      const s = await target.open()
      await assert.rejects(c.post(s.id, 'x'.repeat(131_073)), (err) =>
        isGatehouseError(err, 'ERR_MESSAGE_TOO_LARGE'),
      )
      await assert.rejects(c.postMany([s.id], 'x'.repeat(131_073)), (err) =>
        isGatehouseError(err, 'ERR_MESSAGE_TOO_LARGE'),
      )
      assert.equal(await c.post(s.id, 'x'.repeat(131_072)), true)
      assert.equal((await s.next()).text.length, 131_072)
      s.ws.close()
      await s.closed
    })

    test('delete closes with 1000, is gone at once (closing), and a second delete is false', async () => {
      const s = await target.open()
      assert.equal(await c.delete(s.id), true)
      // Closing already: nothing more may reach it.
      assert.equal(await c.post(s.id, 'late'), false)
      assert.equal(await c.get(s.id), null)
      assert.equal(await c.delete(s.id), false)
      assert.equal(await s.closed, 1000)
      assert.equal(await c.delete(s.id), false)
    })

    test('a socket its client closed is gone', async () => {
      const s = await target.open()
      s.ws.close()
      await s.closed
      // The close reaches the gateway right after the client sees it.
      let found = true
      for (let i = 0; i < 50 && found; i++) {
        found = (await c.get(s.id)) !== null
        if (found) await new Promise((r) => setTimeout(r, 20))
      }
      assert.equal(found, false)
      assert.equal(await c.post(s.id, 'x'), false)
    })

    test('postMany reports what it sent and exactly the ids found gone', async () => {
      const a = await target.open()
      const b = await target.open()
      const unknown = target.unknownId()
      const result = await c.postMany([a.id, unknown, b.id], 'all')
      assert.equal(result.sent, 2)
      assert.deepEqual(result.gone, [unknown])
      assert.equal((await a.next()).text, 'all')
      assert.equal((await b.next()).text, 'all')
      assert.deepEqual(await c.postMany([], 'none'), { sent: 0, gone: [] })
      a.ws.close()
      b.ws.close()
      await Promise.all([a.closed, b.closed])
    })
  })
}
