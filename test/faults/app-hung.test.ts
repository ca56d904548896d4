/**
 * Fault scenario 2: the app hangs (the proxy accepts and never answers) under 200 upgrade
 * attempts per second from 20 addresses. Every attempt ends in 504 (the integration timeout
 * fired) or 503 (the pending-handshake cap), never in an open socket; pending handshakes never
 * pass their cap; the sockets that were open get the timeout frame for their message and stay
 * open, and work again once the app answers.
 *
 * Shortened for `npm test`: a 5 s hang and a 1.5 s integration timeout (so 200/s would need
 * 300 pending handshakes, over the cap of 256). The full form, a 30 s hang at the default
 * 29 s timeout, is `npm run bench -- --hang`.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { type HangOptions, hangFigure, runHang } from '../../bench/faults/hang.ts'

// Known weakness: on a heavily loaded machine this file's process has twice stayed alive,
// busy, after its test ended (cause not found yet). So that it can never hold up `npm test`,
// the process leaves shortly after its last hook, once the reporter has had its results.
after(() => {
  setTimeout(() => process.exit(), 3_000).unref()
})

test('app hung: 504 or 503 for every attempt, pending within its cap, open sockets stay open', {
  timeout: 120_000,
}, async () => {
  const options: HangOptions = {
    integrationTimeoutMs: 1_500,
    hangMs: 5_000,
    attemptsPerSec: 200,
    sources: 20,
    openSockets: 20,
  }
  const r = await runHang(options)
  console.log(hangFigure(r, options))
  const { 503: capped = 0, 504: timedOut = 0, ...other } = r.statuses
  assert.deepEqual(other, {}, 'no attempt may end other than 504 or 503')
  assert.equal(capped + timedOut, r.attempts)
  assert.ok(timedOut > 0, 'the integration timeout fired')
  assert.ok(r.peakPending <= r.maxPendingHandshakes, 'pending handshakes stayed within their cap')
  // How long a 504 took is printed, not asserted: on a loaded machine the upgrade can wait
  // in the accept queue long before the gateway's timer starts.
  assert.equal(r.timeoutFrames, options.openSockets, 'each open socket got the timeout frame')
  assert.equal(r.stillOpen, options.openSockets, 'open sockets stayed open through the hang')
  assert.equal(r.echoAfter, options.openSockets, 'and work once the app answers again')
})
