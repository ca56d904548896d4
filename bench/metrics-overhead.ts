/**
 * @module bench/metrics-overhead
 * `node bench/metrics-overhead.ts [--rounds=n] [--with-admin] [--null] [--cpu-prof-dir=dir]`:
 * what the Prometheus exporter costs on the hot paths, measured with the real app: the
 * `$connect` pipeline (token use and session write on SQLite `:memory:`) and a channel fan-out
 * (store listing, one frame, the push through a connections port).
 *
 * Each side runs in a process of its own, subscribed (or not) from its start to its end, as
 * a gateway or the demo is: `createMetrics()` before any traffic and never closed. Flipping
 * one process between the two sides would measure something no server does: subscribing and
 * unsubscribing swaps the channel's prototype, and V8 then throws away the optimised code of
 * every function that read `telemetry.hasSubscribers` (`--trace-deopt` shows "dependent
 * prototype chain changed"), so each side's rounds paid for recompiling. Two identical
 * processes also differ by a few per cent for as long as they live, so a fresh pair is
 * started every {@link ROUNDS_PER_PAIR} rounds.
 *
 * A round prepares the same work on both sides (tokens issued or sessions written, then a
 * full collection), then runs it in {@link SLICES} slices of a few milliseconds, alternating
 * off, on, on, off, … A slice is timed on the wall clock inside its process: on the bench
 * machine the kernel accounts CPU time by the tick (`CONFIG_TICK_CPU_ACCOUNTING`, 250 Hz), so
 * `process.cpuUsage()` over a 35 ms round was off by several milliseconds either way, while a
 * burst of load elsewhere on the machine falls on neighbouring slices alike. The overhead is
 * the median, over every slice pair, of on / off − 1.
 *
 * `--with-admin` also subscribes the admin page's recorder on the metrics side (the demo runs
 * both). `--null` subscribes nothing on either side: its "overhead" is the bench's noise
 * floor. `--cpu-prof-dir` writes a CPU profile of each side's first process there.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { recordActivity } from '../src/admin/recent.ts'
import { createApp } from '../src/app/create-app.ts'
import type { GatewayEvent } from '../src/events/event.ts'
import { createMetrics } from '../src/metrics/index.ts'
import { createMemoryConnections } from '../src/push/memory.ts'
import { openSqliteStore } from '../src/store/sqlite.ts'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '9' },
    'with-admin': { type: 'boolean', default: false },
    null: { type: 'boolean', default: false },
    'cpu-prof-dir': { type: 'string' },
    // Internal: run as one side's child.
    side: { type: 'string' },
  },
  strict: true,
})
const ROUNDS = Math.max(3, Math.min(41, Number(values.rounds) || 9))
const CONNECTS = 1_000
const FANOUT_SIZE = 1_000
const FANOUTS = 200
/** Slices per round: 100 connects, or 20 pushes of 1,000 deliveries, a few ms each. */
const SLICES = 10
/** Rounds measured by one pair of processes, after two warm-up rounds. */
const ROUNDS_PER_PAIR = 3

type Side = 'off' | 'on'
type Scenario = 'connect' | 'fanout'

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

/**
 * One prepared round: its work split into {@link SLICES} parts, each timed alone, so the
 * parent can interleave the two sides' parts.
 */
interface Round {
  /** Run part `i`; resolves to the µs it took. */
  slice(i: number): Promise<number>
  /** How many units (connects, deliveries) part `i` did. */
  units(i: number): number
  close(): Promise<void>
}

/** CONNECTS connects, tokens issued beforehand (outside the timing). */
async function connectRound(): Promise<Round> {
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
  const per = Math.ceil(events.length / SLICES)
  const part = (i: number) => events.slice(i * per, (i + 1) * per)
  return {
    async slice(i) {
      const slice = part(i)
      const started = performance.now()
      for (const e of slice) {
        const r = await app.handle(e)
        if (r.status !== 200) throw new Error(`connect ${r.status}`)
      }
      return (performance.now() - started) * 1000
    },
    units: (i) => part(i).length,
    close: () => store.close(),
  }
}

/** FANOUTS pushes to a channel of FANOUT_SIZE sessions. */
async function fanoutRound(): Promise<Round> {
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
  const sent: number[] = []
  return {
    async slice(i) {
      let n = 0
      const started = performance.now()
      for (let k = 0; k < FANOUTS / SLICES; k++) {
        n += (await app.send.toChannel('room', payload)).sent
      }
      const us = (performance.now() - started) * 1000
      sent[i] = n
      return us
    },
    units: (i) => sent[i] ?? 0,
    close: () => store.close(),
  }
}

/** What the parent asks a side: prepare a round, run one slice of it, or close it. */
type Ask = { prepare: Scenario } | { slice: number } | { finish: true }
/** A side's answer: µs per unit of a slice, or nothing. */
type Answer = { value: number } | { error: string }

/** One side's process: subscribe (or not) once, then run what the parent asks for. */
async function runChild(side: Side): Promise<void> {
  if (side === 'on' && !values.null) {
    // As the gateway host and the demo do: subscribed before any traffic, for good.
    await createMetrics()
    if (values['with-admin']) recordActivity(50, () => Date.now())
  }
  let round: Round | undefined
  const answer = async (m: Ask): Promise<number> => {
    if ('prepare' in m) {
      round = m.prepare === 'connect' ? await connectRound() : await fanoutRound()
      // The setup's garbage is collected now, not in the middle of some timed slice.
      ;(globalThis as { gc?: () => void }).gc?.()
      return 0
    }
    if (!round) throw new Error('no round prepared')
    if ('slice' in m) {
      const us = await round.slice(m.slice)
      return us / round.units(m.slice)
    }
    await round.close()
    round = undefined
    return 0
  }
  process.on('message', (m: Ask) => {
    answer(m).then(
      (value) => process.send?.({ value } satisfies Answer),
      (err: unknown) => process.send?.({ error: String(err) } satisfies Answer),
    )
  })
  process.send?.({ value: 0 } satisfies Answer)
}

function startSide(side: Side, profile: boolean): Promise<ChildProcess> {
  const dir = values['cpu-prof-dir']
  const args = ['--side', side]
  if (values['with-admin']) args.push('--with-admin')
  if (values.null) args.push('--null')
  const child = fork(fileURLToPath(import.meta.url), args, {
    execArgv: [
      ...process.execArgv,
      '--expose-gc',
      ...(dir && profile
        ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${side}.cpuprofile`]
        : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child))
    child.once('exit', (code) => reject(new Error(`the ${side} side exited (${code})`)))
  })
}

function ask(child: ChildProcess, m: Ask): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('message', (a: Answer) =>
      'value' in a ? resolve(a.value) : reject(new Error(a.error)),
    )
    child.send(m)
  })
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

/** One round of `scenario` on both sides: µs per unit of each slice, by side. */
async function pairedRound(
  children: Record<Side, ChildProcess>,
  scenario: Scenario,
): Promise<Record<Side, number[]>> {
  await ask(children.off, { prepare: scenario })
  await ask(children.on, { prepare: scenario })
  const out = { off: [] as number[], on: [] as number[] }
  for (let i = 0; i < SLICES; i++) {
    const order: Side[] = i % 2 === 0 ? ['off', 'on'] : ['on', 'off']
    for (const side of order) out[side].push(await ask(children[side], { slice: i }))
  }
  await ask(children.off, { finish: true })
  await ask(children.on, { finish: true })
  return out
}

async function runParent(): Promise<void> {
  const results = {
    connect: { off: [] as number[], on: [] as number[] },
    fanout: { off: [] as number[], on: [] as number[] },
  }
  for (let done = 0; done < ROUNDS; ) {
    const children = {
      off: await startSide('off', done === 0),
      on: await startSide('on', done === 0),
    }
    try {
      for (let i = 0; i < 2; i++) {
        await pairedRound(children, 'connect')
        await pairedRound(children, 'fanout')
      }
      for (let r = 0; r < ROUNDS_PER_PAIR && done < ROUNDS; r++, done++) {
        for (const scenario of ['connect', 'fanout'] as const) {
          const { off, on } = await pairedRound(children, scenario)
          results[scenario].off.push(...off)
          results[scenario].on.push(...on)
        }
      }
    } finally {
      children.off.disconnect()
      children.on.disconnect()
    }
  }
  const subscribed = values.null
    ? 'with nothing (null run)'
    : values['with-admin']
      ? 'with metrics and admin'
      : 'with metrics'
  for (const [name, r] of Object.entries(results)) {
    const unit = name === 'connect' ? 'µs/connect' : 'µs/delivery'
    const overhead = median(r.on.map((on, i) => on / (r.off[i] as number) - 1)) * 100
    process.stdout.write(
      `${name.padEnd(8)} without metrics ${median(r.off).toFixed(3)} ${unit}  ${subscribed} ${median(r.on).toFixed(3)} ${unit}  overhead ${overhead.toFixed(1)} %  (median of ${r.off.length} slice pairs, ${ROUNDS} rounds)\n`,
    )
  }
}

if (values.side === 'on' || values.side === 'off') await runChild(values.side)
else await runParent()
