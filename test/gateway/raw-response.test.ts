import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import { writeRawResponse } from '../../src/gateway/raw-response.ts'

test('writes a complete HTTP response with the refusal body and closes the socket', async () => {
  const socket = new PassThrough()
  let written = ''
  socket.on('data', (c) => {
    written += c
  })
  writeRawResponse(socket, 403, { 'Retry-After': '5' })
  await new Promise((r) => socket.once('close', r))
  assert.equal(
    written,
    'HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 23\r\nRetry-After: 5\r\n\r\n{"message":"Forbidden"}',
  )
})

test('a destroyed socket is left alone', () => {
  const socket = new PassThrough()
  socket.destroy()
  assert.doesNotThrow(() => writeRawResponse(socket, 503))
})

test('every status gets the one body shape, statuses outside the table included', async () => {
  for (const [status, message] of [
    [400, 'Bad Request'],
    [401, 'Unauthorized'],
    [500, 'Internal server error'],
    [504, 'Endpoint request timed out'],
    [418, 'Error'],
  ] as const) {
    const socket = new PassThrough()
    let written = ''
    socket.on('data', (c) => {
      written += c
    })
    writeRawResponse(socket, status)
    await new Promise((r) => socket.once('close', r))
    const [head, body] = written.split('\r\n\r\n')
    assert.deepEqual(JSON.parse(body ?? ''), { message }, String(status))
    assert.match(head ?? '', /\r\nContent-Type: application\/json\r\n/)
    assert.match(
      head ?? '',
      new RegExp(`\\r\\nContent-Length: ${Buffer.byteLength(body ?? '')}(\\r|$)`),
    )
  }
})
