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
import { test } from 'node:test'
import type { HangOptions, HangResult } from '../../bench/faults/hang.ts'
import { hangFigure } from '../../bench/faults/hang.ts'
import { killChild, readJsonLine, startChild } from '../support/processes.ts'

const CHILD = new URL('../../bench/faults/hang-child.ts', import.meta.url).pathname

test('app hung: 504 or 503 for every attempt, pending within its cap, open sockets stay open', {
  timeout: 180_000,
}, async () => {
  const options: HangOptions = {
    integrationTimeoutMs: 1_500,
    hangMs: 5_000,
    attemptsPerSec: 200,
    sources: 20,
    openSockets: 20,
  }
  // In a process of its own, killed at the end whatever happens: on a heavily loaded machine
  // a hang run's process has twice stayed busy after its work (cause not found yet).
  const child = startChild(CHILD, { args: [JSON.stringify(options)] })
  let r: HangResult
  try {
    r = (await readJsonLine<{ result: HangResult }>(child, (m) => 'result' in m, 150_000)).result
  } finally {
    await killChild(child, 'SIGKILL')
  }
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
