/**
 * Child process of the fault suite: opens one WebSocket per ticket and then only answers
 * pings (ws does that by itself). The test freezes it with SIGSTOP to make every socket
 * half-open: the kernel keeps the TCP connection, nothing answers.
 * Usage: node idle-clients.ts '{"url":…,"origin":…,"tickets":[{"sid":…,"token":…}]}'
 * Prints `{"ready":true,"open":n}` once all are open.
 */
import WebSocket from 'ws'

const job = JSON.parse(process.argv[2]!) as {
  url: string
  origin: string
  tickets: { sid: string; token: string }[]
}
const sockets: WebSocket[] = []
let open = 0
for (const t of job.tickets) {
  const ws = new WebSocket(`${job.url}?ws_token=${encodeURIComponent(t.token)}&channel=lobby`, {
    headers: { cookie: `sid=${t.sid}`, origin: job.origin },
    perMessageDeflate: false,
  })
  sockets.push(ws)
  ws.on('error', () => {})
  ws.once('open', () => {
    open++
    if (open === job.tickets.length)
      process.stdout.write(`${JSON.stringify({ ready: true, open })}\n`)
  })
  ws.once('unexpected-response', (_req, res) => {
    process.stdout.write(`${JSON.stringify({ refused: res.statusCode })}\n`)
  })
}
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
