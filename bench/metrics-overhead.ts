/**
 * @module bench/metrics-overhead
 * `node bench/metrics-overhead.ts [--rounds=n]`: what the Prometheus exporter costs on the hot
 * paths, measured in one process with the real app: the `$connect` pipeline (token use and
 * session write on SQLite `:memory:`) and a channel fan-out (store listing, one frame, the
 * push through a connections port). Rounds alternate without and with `createMetrics()`
 * subscribed, so machine noise hits both sides alike; the medians are compared. Figures are
 * this process's CPU time (user + system), which other load on the machine disturbs less
 * than wall time.
 */
import { parseArgs } from 'node:util'
import { createApp } from '../src/app/create-app.ts'
import type { GatewayEvent } from '../src/events/event.ts'
import { createMetrics, type GatehouseMetrics } from '../src/metrics/index.ts'
import { createMemoryConnections } from '../src/push/memory.ts'
import { openSqliteStore } from '../src/store/sqlite.ts'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '9' } } })
const ROUNDS = Math.max(3, Math.min(41, Number(values.rounds) || 9))
const CONNECTS = 1_000
const FANOUT_SIZE = 1_000
const FANOUTS = 200

async function setup() {
  const store = await openSqliteStore({ path: ':memory:' })
  const connections = createMemoryConnections()
  const app = createApp({
    store,
    connections,
    allowedOrigins: ['http://bench.test'],
    identify: (e) => ({ sessionId: 'bench-session', userId: String(e.headers['x-user']) }),
    loadUser: (id) => ({ id, permissions: ['bench.use'] }),
    permissions: { anyOf: ['bench.use'] },
    connectLimitPerIp: 1e9,
    connectLimitPerUser: 1e9,
  })
  return { store, connections, app }
}

let seq = 0
function connectEvent(user: string, token: string, channel: string): GatewayEvent {
  const now = Date.now()
  return {
    eventType: 'CONNECT',
    routeKey: '$connect',
    connectionId: `c${(++seq).toString(36).padStart(8, '0')}=`,
    headers: { host: 'bench.test', origin: 'http://bench.test', 'x-user': user },
    query: { ws_token: token, channel },
    rawQuery: '',
    body: undefined,
    sourceIp: '127.0.0.1',
    apiId: 'bench',
    stage: 'production',
    domainName: 'bench.test',
    requestId: `r${seq}`,
    connectedAt: now,
    requestTimeEpoch: now,
    transport: { via: 'in-process' },
  }
}

/** µs per connect over CONNECTS connects (tokens issued beforehand, outside the timing). */
async function connectRound(): Promise<number> {
  const { app, store } = await setup()
  const tokens: [string, string][] = []
  const service = app.tokens
  for (let i = 0; i < CONNECTS; i++) {
    const user = `u${i % 100}`
    // Issue limits are per user; a fresh service per round keeps them out of the way.
    const issued = await service.issue(user, 'bench-session').catch(() => null)
    if (issued?.ok) tokens.push([user, issued.token])
  }
  const events = tokens.map(([u, t]) => connectEvent(u, t, 'room'))
  const started = process.cpuUsage()
  for (const e of events) {
    const r = await app.handle(e)
    if (r.status !== 200) throw new Error(`connect ${r.status}`)
  }
  const us = cpuMicros(started) / events.length
  await store.close()
  return us
}

/** µs per delivery over FANOUTS pushes to a channel of FANOUT_SIZE sessions. */
async function fanoutRound(): Promise<number> {
  const { app, store, connections } = await setup()
  for (let i = 0; i < FANOUT_SIZE; i++) {
    const id = `f${i.toString(36).padStart(8, '0')}=`
    connections.open(id)
    await store.createSession({
      connectionId: id,
      userId: `u${i}`,
      sessionHash: null,
      channel: 'room',
      connectedAt: Date.now(),
    })
  }
  const payload = JSON.stringify({ type: 'chat_message', text: 'x'.repeat(64) })
  const started = process.cpuUsage()
  let sent = 0
  for (let i = 0; i < FANOUTS; i++) sent += (await app.send.toChannel('room', payload)).sent
  const us = cpuMicros(started) / sent
  await store.close()
  return us
}

function cpuMicros(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since)
  return d.user + d.system
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

const results = {
  connect: { off: [] as number[], on: [] as number[] },
  fanout: { off: [] as number[], on: [] as number[] },
}
// A warm-up round of each, not counted.
await connectRound()
await fanoutRound()
for (let r = 0; r < ROUNDS; r++) {
  // Alternate which side goes first, so drift in machine load cancels out.
  const order: ('off' | 'on')[] = r % 2 === 0 ? ['off', 'on'] : ['on', 'off']
  for (const side of order) {
    let metrics: GatehouseMetrics | undefined
    if (side === 'on') metrics = await createMetrics()
    results.connect[side].push(await connectRound())
    results.fanout[side].push(await fanoutRound())
    metrics?.close()
  }
}
for (const [name, r] of Object.entries(results)) {
  const off = median(r.off)
  const on = median(r.on)
  const unit = name === 'connect' ? 'µs/connect' : 'µs/delivery'
  process.stdout.write(
    `${name.padEnd(8)} without metrics ${off.toFixed(3)} ${unit}  with metrics ${on.toFixed(3)} ${unit}  overhead ${(((on - off) / off) * 100).toFixed(1)} %  (median of ${ROUNDS})\n`,
  )
}
