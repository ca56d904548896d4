/**
 * @module bench/faults/main
 * The fault suite's long forms, run by `bench/run.ts`:
 *
 * - `npm run bench -- --scale[=10000] [--hold=60]`: N authenticated connections held for
 *   `hold` seconds with pings (every 10 s), then closed (scenario 7).
 * - `npm run bench -- --soak[=600] [--connections=2000] [--plot=docs/images/soak.png]
 *   [--soak-sample-ms=ms] [--soak-plant-leak=bytes]`: the soak (scenario 8); exits 1 when the
 *   last third's RSS trend rises more than 5 % or a reconnect failed. `--soak-sample-ms`
 *   samples more often (1,000 to 60,000; default every minute, a twelfth of a shorter run);
 *   `--soak-plant-leak` makes the server keep that many bytes per message (at most 1 MiB),
 *   to show the trend check failing.
 * - `npm run bench -- --hang`: the app hung for 30 s under 200 upgrade attempts per second at
 *   the default 29 s integration timeout (scenario 2's full form).
 *
 * Figures go to stdout, the run's data to `bench/faults-<mode>.json`.
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { DEFAULTS } from '../../src/defaults.ts'
import { hangFigure, runHang } from './hang.ts'
import { soakPlot } from './plot.ts'
import { runScale, scaleFigure } from './scale.ts'
import { runSoak } from './soak.ts'

const BENCH_DIR = new URL('..', import.meta.url).pathname
const log = (line: string) => process.stderr.write(`[faults] ${line}\n`)

function seconds(value: string | boolean | undefined, fallback: number): number {
  if (value === undefined || value === true || value === '') return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number, got ${value}`)
  return n
}

/**
 * Run the mode named in `argv`; resolves to the exit status.
 *
 * @example
 * ```ts
 * process.exitCode = await runFaultBench(['--soak=180'])
 * ```
 */
export async function runFaultBench(argv: readonly string[]): Promise<number> {
  // `--soak` and `--scale` may come without a value: give them their defaults first.
  const args = argv.map((a) => (a === '--soak' || a === '--scale' ? `${a}=` : a))
  const { values } = parseArgs({
    args,
    options: {
      scale: { type: 'string' },
      hold: { type: 'string' },
      soak: { type: 'string' },
      plot: { type: 'string' },
      connections: { type: 'string' },
      'soak-sample-ms': { type: 'string' },
      'soak-plant-leak': { type: 'string' },
      hang: { type: 'boolean' },
    },
    strict: true,
  })
  if (values.scale !== undefined) {
    const connections = Math.round(seconds(values.scale, 10_000))
    const holdMs = seconds(values.hold, 60) * 1000
    log(`scale: ${connections} connections, hold ${holdMs / 1000} s`)
    const r = await runScale({
      connections,
      holdMs,
      pingIntervalMs: 10_000,
      sources: Math.max(10, Math.ceil(connections / 500)),
      concurrency: 32,
    })
    writeFileSync(`${BENCH_DIR}faults-scale.json`, `${JSON.stringify(r, null, 2)}\n`)
    console.log(scaleFigure(r))
    return r.disconnects === connections && r.openAfterHold === connections ? 0 : 1
  }
  if (values.soak !== undefined) {
    const durationMs = seconds(values.soak, 600) * 1000
    const sampleMs = values['soak-sample-ms']
    const leak = values['soak-plant-leak']
    const leakBytes = leak === undefined ? 0 : Math.round(seconds(leak, 0))
    if (leakBytes > 1_048_576) throw new Error('--soak-plant-leak is at most 1048576 bytes')
    log(`soak: ${durationMs / 1000} s${leakBytes ? `, planted leak ${leakBytes} B/message` : ''}`)
    const r = await runSoak(
      {
        durationMs,
        connections: Math.round(seconds(values.connections, 2_000)),
        rooms: 20,
        messageEveryMs: 30_000,
        reconnectShare: 0.05,
        sources: 10,
        ...(sampleMs === undefined ? {} : { sampleMs: seconds(sampleMs, 60) }),
        ...(leakBytes ? { plantLeakBytesPerMessage: leakBytes } : {}),
      },
      log,
    )
    writeFileSync(`${BENCH_DIR}faults-soak.json`, `${JSON.stringify(r, null, 2)}\n`)
    const plotPath = values.plot ?? `${BENCH_DIR}faults-soak.png`
    writeFileSync(plotPath, soakPlot(r.samples))
    console.log(
      `figure: soak ${durationMs / 1000} s${leakBytes ? ` (planted leak ${leakBytes} B/message)` : ''}: ${r.options.connections} sockets, ${r.messagesSent} messages, ` +
        `${r.delivered} deliveries, ${r.reconnects} reconnects (${r.reconnectFailures} failed${r.reconnectErrors.length ? `: ${r.reconnectErrors.join('; ')}` : ''}); ` +
        `${r.samples.length} samples every ${r.sampleMs / 1000} s; last third RSS trend ${r.lastThirdRisePercent} % ` +
        `(heap ${r.heapLastThirdRisePercent} %): ${r.passed ? 'passed' : 'FAILED'} (limit 5 %); plot ${plotPath}`,
    )
    return r.passed && r.reconnectFailures === 0 ? 0 : 1
  }
  if (values.hang) {
    const options = {
      integrationTimeoutMs: DEFAULTS.integrationTimeoutMs,
      hangMs: 30_000,
      attemptsPerSec: 200,
      sources: 20,
      openSockets: 20,
    }
    log('hang: 30 s at 200 attempts/s, integration timeout 29 s')
    const r = await runHang(options)
    writeFileSync(`${BENCH_DIR}faults-hang.json`, `${JSON.stringify(r, null, 2)}\n`)
    console.log(hangFigure(r, options))
    const ok = r.peakPending <= r.maxPendingHandshakes && r.stillOpen === options.openSockets
    return ok ? 0 : 1
  }
  throw new Error('one of --scale, --soak, --hang')
}
