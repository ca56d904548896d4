import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as wsModule from 'ws'
import { BINARY, encodeFrame, TEXT } from '../../src/gateway/frame.ts'

/** ws's frame parser (exported by ws, not declared by @types/ws). */
interface ReceiverLike {
  on(event: string, listener: (...args: never[]) => void): void
  write(chunk: Buffer): void
}
const Receiver = (wsModule as unknown as { Receiver: new (options: object) => ReceiverLike })
  .Receiver

/** Decode with ws's own client-side receiver: the reference parser. */
function decode(bytes: Buffer): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    const receiver = new Receiver({ isServer: false, maxPayload: 0 })
    receiver.on('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary }))
    receiver.on('error', reject)
    receiver.write(bytes)
  })
}

test('frames of every length class decode with ws', async () => {
  for (const length of [0, 1, 125, 126, 65_535, 65_536, 131_072]) {
    const payload = Buffer.alloc(length, 'x')
    const frame = encodeFrame(payload)
    const expectedHeader = length < 126 ? 2 : length < 65_536 ? 4 : 10
    assert.equal(frame.header.length, expectedHeader)
    assert.equal(frame.byteLength, expectedHeader + length)
    assert.equal(frame.payload, payload, 'the payload is not copied')
    const { data, isBinary } = await decode(Buffer.concat([frame.header, frame.payload]))
    assert.equal(isBinary, false)
    assert.equal(data.length, length)
  }
})

test('the opcode and FIN bit are set; server frames are never masked', async () => {
  const text = encodeFrame(Buffer.from('hi'), TEXT)
  assert.equal(text.header[0], 0x81)
  assert.equal((text.header[1] ?? 0) & 0x80, 0)
  const binary = encodeFrame(Buffer.from([0xff]), BINARY)
  assert.equal(binary.header[0], 0x82)
  assert.equal((await decode(Buffer.concat([binary.header, binary.payload]))).isBinary, true)
})

/** What ws itself writes to a socket for `ws.send(data)` with compression off. */
function wsSends(data: Buffer, binary: boolean): Buffer {
  const written: Buffer[] = []
  const socket = {
    cork() {},
    uncork() {},
    write(chunk: Buffer) {
      written.push(Buffer.from(chunk))
      return true
    },
  }
  const Sender = (
    wsModule as unknown as {
      Sender: new (socket: object) => { send(data: Buffer, options: object, cb?: () => void): void }
    }
  ).Sender
  new Sender(socket).send(data, { binary, compress: false, fin: true, mask: false })
  return Buffer.concat(written)
}

test('the frame bytes are exactly what ws sends, for every length class and both opcodes', () => {
  for (const length of [0, 1, 125, 126, 65_535, 65_536, 131_072]) {
    const payload = Buffer.alloc(length, 'é'.charCodeAt(0) & 0x7f)
    for (const [opcode, binary] of [
      [TEXT, false],
      [BINARY, true],
    ] as const) {
      const frame = encodeFrame(payload, opcode)
      assert.deepEqual(
        Buffer.concat([frame.header, frame.payload]),
        wsSends(payload, binary),
        `length ${length}, opcode ${opcode}`,
      )
    }
  }
})

test('ws is pinned to one exact version: the frame path relies on its framing', async () => {
  const { readFile } = await import('node:fs/promises')
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'))
  const installed = JSON.parse(
    await readFile(new URL('../../node_modules/ws/package.json', import.meta.url), 'utf8'),
  )
  assert.match(pkg.dependencies.ws, /^\d+\.\d+\.\d+$/, 'no range: an exact version')
  assert.equal(installed.version, pkg.dependencies.ws)
})
