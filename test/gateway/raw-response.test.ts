import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import { writeRawResponse } from '../../src/gateway/raw-response.ts'

test('writes a complete HTTP response and closes the socket', async () => {
  const socket = new PassThrough()
  let written = ''
  socket.on('data', (c) => {
    written += c
  })
  writeRawResponse(socket, 403, {
    body: '{"message":"Forbidden"}',
    headers: { 'Retry-After': '5' },
  })
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
