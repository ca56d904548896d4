/**
 * Child process of the fault suite: a crowd of WebSocket clients that count what they
 * receive, so a fan-out's receivers run on a core of their own and the gateway's process
 * measures only the gateway.
 * Usage: node receivers.ts '{"url":…,"count":n,"sources":10,"headers":{…}}'
 * Prints `{"ready":true}` once all are open. Then, for each stdin line `{"expect":n}`, it
 * resets its counter and prints `{"done":true,"received":n}` once n messages have arrived.
 */
import { createInterface } from 'node:readline'
import { openCrowd } from './crowd.ts'

const job = JSON.parse(process.argv[2]!) as {
  url: string
  count: number
  sources: number
  headers?: Record<string, string>
}
let received = 0
let target = Number.POSITIVE_INFINITY
const clients = await openCrowd(job.url, job.count, {
  sources: job.sources,
  ...(job.headers ? { headers: job.headers } : {}),
})
for (const ws of clients) {
  ws.on('message', () => {
    received++
    if (received === target) process.stdout.write(`${JSON.stringify({ done: true, received })}\n`)
  })
}
process.stdout.write(`${JSON.stringify({ ready: true })}\n`)
const lines = createInterface({ input: process.stdin })
lines.on('line', (line) => {
  const { expect } = JSON.parse(line) as { expect: number }
  received = 0
  target = expect
})
lines.on('close', () => process.exit(0))
