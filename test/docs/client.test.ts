// docs/client.md against the client: the diagram has every state, the options table every
// default, and the request table every error code a request rejects with.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { CLIENT_DEFAULTS } from '../../src/client/options.ts'

const DOC = readFileSync(new URL('../../docs/client.md', import.meta.url), 'utf8')
const STATES = ['idle', 'connecting', 'open', 'reconnecting', 'closed', 'failed']

test('the state diagram names every state and the wake-up transition', () => {
  const diagram = DOC.slice(
    DOC.indexOf('```mermaid'),
    DOC.indexOf('```', DOC.indexOf('```mermaid') + 3),
  )
  for (const state of STATES) assert.match(diagram, new RegExp(`\\b${state}\\b`), state)
  assert.match(diagram, /reconnecting --> connecting: online \/ page visible again/)
})

test('the options table lists every client default', () => {
  const table = DOC.slice(DOC.indexOf('## Options'))
  for (const key of Object.keys(CLIENT_DEFAULTS)) assert.ok(table.includes(`\`${key}\``), key)
})

test('the request table names each rejection code', () => {
  const src = readFileSync(new URL('../../src/client/requests.ts', import.meta.url), 'utf8')
  const codes = new Set([...src.matchAll(/'(ERR_REQUEST_[A-Z]+)'/g)].map((m) => m[1]))
  assert.equal(codes.size, 3)
  for (const code of codes) assert.ok(DOC.includes(`\`${code}\``), code)
})
