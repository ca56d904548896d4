/**
 * @module bench/run
 * `npm run bench [-- --quick | --smoke] [--only=ws,gatehouse] [--scenario=connect,fanout]
 * [--out=file] [--repeats=n] [--cpu-prof=phase|process] [--heap-snapshot] [--verbose]`
 *
 * Runs each system's server in its own process (fresh for every scenario), drives it from a
 * load generator in another process, on loopback only, and writes `bench/results.json` plus
 * a table on stdout. Every loop is bounded by a count and a deadline; children die with us.
 *
 * `--scale[=n]`, `--soak[=seconds]` and `--hang` run the fault suite's long forms instead
 * (`bench/faults/main.ts`, docs/reliability.md).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { BENCH_DIR, runLoad, startServer, Unavailable } from './lib/proc.ts'
import { PROFILES, type Profile } from './lib/profiles.ts'
import {
  DIAGNOSTIC_SYSTEMS,
  type LoadJob,
  type ReadyLine,
  SCENARIOS,
  type Scenario,
  SERVER_OF,
  SYSTEMS,
  type SystemId,
} from './lib/protocol.ts'
import { type Figures, judge, type Results, type SystemResults } from './lib/results.ts'
import { renderTable } from './lib/table.ts'

// The fault suite's long forms have their own options; nothing below runs for them.
if (process.argv.slice(2).some((a) => /^--(scale|soak|hang)(=|$)/.test(a))) {
  const { runFaultBench } = await import('./faults/main.ts')
  process.exit(await runFaultBench(process.argv.slice(2)))
}

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    only: { type: 'string' },
    scenario: { type: 'string' },
    out: { type: 'string' },
    repeats: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'heap-snapshot': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
  strict: true,
})

const base: Profile = values.smoke ? PROFILES.smoke : values.quick ? PROFILES.quick : PROFILES.full
const profile: Profile = values.repeats
  ? { ...base, repeats: Math.max(1, Math.min(9, Number(values.repeats) || 1)) }
  : base

function pick<T extends string>(list: readonly T[], arg: string | undefined, what: string): T[] {
  if (!arg) return [...list]
  const wanted = arg.split(',').map((s) => s.trim())
  for (const w of wanted) {
    if (!list.includes(w as T)) throw new Error(`unknown ${what} "${w}"; one of ${list.join(', ')}`)
  }
  return list.filter((x) => wanted.includes(x))
}

const systems: SystemId[] = values.only
  ? pick([...SYSTEMS, ...DIAGNOSTIC_SYSTEMS], values.only, 'system')
  : [...SYSTEMS]
const scenarios = pick(SCENARIOS, values.scenario, 'scenario')
const outFile = resolve(values.out ?? `${BENCH_DIR}results.json`)
const warnings: string[] = []

/** Soft and hard open-files limits of this process (Linux), or null elsewhere. */
function openFilesLimit(): { soft: number; hard: number } | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const [soft, hard] = (line ?? '').split(/\s{2,}/).slice(1, 3)
    const n = (s: string | undefined) => (s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s))
    return { soft: n(soft), hard: n(hard) }
  } catch {
    return null
  }
}

// Each process holds at most one socket per client connection, plus a margin.
const FD_MARGIN = 1000
const neededFds = Math.max(profile.connect.connections, profile.crowd.connections) + FD_MARGIN
const limits = openFilesLimit()
let openFiles: number | undefined
let sizes = profile
if (limits && limits.soft < neededFds) {
  if (limits.hard >= neededFds) openFiles = neededFds
  else {
    const cap = Math.max(10, limits.hard - FD_MARGIN)
    warnings.push(`open-files limit ${limits.hard} < ${neededFds}: connections capped at ${cap}`)
    sizes = {
      ...profile,
      connect: { ...profile.connect, connections: Math.min(profile.connect.connections, cap) },
      crowd: { ...profile.crowd, connections: Math.min(profile.crowd.connections, cap) },
    }
  }
}

const localAddresses = Array.from({ length: sizes.sourceAddresses }, (_, i) => `127.0.0.${i + 2}`)
const serverFlags = ['--expose-gc']
const cpuProf = values['cpu-prof']
if (cpuProf !== undefined && cpuProf !== 'phase' && cpuProf !== 'process') {
  throw new Error('--cpu-prof=phase (the measured phase of each scenario) or --cpu-prof=process')
}
const profileDir = `${BENCH_DIR}profiles`
if (values['heap-snapshot'] || cpuProf) mkdirSync(profileDir, { recursive: true })
if (cpuProf === 'process') serverFlags.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`)
const childOpts = { verbose: values.verbose, ...(openFiles ? { openFiles } : {}) }

/** The load jobs for the selected scenarios; memory and fan-out share one crowd. */
function jobs(ready: ReadyLine, system = ''): Array<{ covers: Scenario[]; job: LoadJob }> {
  const common = {
    ready,
    system,
    warmupConnections: sizes.warmupConnections,
    localAddresses,
    sessions: sizes.sessions,
    ...(cpuProf === 'phase' ? { profileDir } : {}),
  }
  const out: Array<{ covers: Scenario[]; job: LoadJob }> = []
  if (scenarios.includes('connect')) {
    out.push({ covers: ['connect'], job: { ...common, scenario: 'connect', ...sizes.connect } })
  }
  const crowd = scenarios.filter((s) => s === 'memory' || s === 'fanout')
  if (crowd.length > 0) {
    const c = sizes.crowd
    out.push({
      covers: crowd,
      job: {
        ...common,
        scenario: 'crowd',
        connections: c.connections,
        concurrency: c.concurrency,
        memory: crowd.includes('memory'),
        broadcasts: crowd.includes('fanout') ? c.broadcasts : 0,
        broadcastWindow: c.broadcastWindow,
        settleMs: c.settleMs,
        deadlineMs: c.deadlineMs,
        ...(values['heap-snapshot'] ? { heapSnapshotDir: profileDir } : {}),
      },
    })
  }
  if (scenarios.includes('roundtrip')) {
    const r = sizes.roundtrip
    out.push({
      covers: ['roundtrip'],
      job: { ...common, scenario: 'roundtrip', concurrency: 16, window: 1, ...r },
    })
  }
  if (scenarios.includes('messages')) {
    out.push({
      covers: ['messages'],
      job: { ...common, scenario: 'messages', concurrency: 16, ...sizes.messages },
    })
  }
  return out
}

/** The figures of one scenario out of a load job's result. */
function extract(scenario: Scenario, result: Record<string, unknown>): Figures {
  if (scenario === 'memory') {
    return { ...(result.memory as Figures), open: result.open }
  }
  if (scenario === 'fanout') return result.fanout as Figures
  return result
}

/** The figure the median of repeats is taken on. */
const PRIMARY: Record<Scenario, (f: Figures) => number> = {
  connect: (f) => Number(f.connectsPerSec),
  memory: (f) => Number(f.rssPerConnBytes),
  fanout: (f) => Number(f.deliveriesPerSec),
  roundtrip: (f) => Number((f.latencyMs as { p99?: number } | undefined)?.p99),
  messages: (f) => Number(f.messagesPerSec),
}

function median(scenario: Scenario, runs: Figures[]): Figures {
  const sorted = [...runs].sort((a, b) => PRIMARY[scenario](a) - PRIMARY[scenario](b))
  const mid = sorted[Math.floor((sorted.length - 1) / 2)]!
  return runs.length > 1 ? { ...mid, repeats: runs.map(PRIMARY[scenario]) } : mid
}

/** One scenario group (the scenarios one load job covers) on one system, on a fresh server. */
async function runGroup(
  system: SystemId,
  covers: readonly Scenario[],
  r: number,
  deadlineCapMs: number,
  runs: Map<SystemId, Map<Scenario, Figures[]>>,
  errors: Map<SystemId, Map<Scenario, string>>,
): Promise<void> {
  let server: Awaited<ReturnType<typeof startServer>>
  try {
    const target = SERVER_OF[system] ?? { script: system, args: [] }
    server = await startServer(target.script, {
      ...childOpts,
      nodeFlags: serverFlags,
      args: target.args,
    })
  } catch (err) {
    if (err instanceof Unavailable) {
      skipped.set(system, err.message)
      log(`${system}: skipped (${err.message})`)
      return
    }
    // A server that cannot start fails this run, not the whole bench.
    const message = `server did not start: ${err instanceof Error ? err.message : String(err)}`
    warn(`${system} ${covers.join('+')}: ${message.split('\n')[0]}`)
    const bySystem = errors.get(system) ?? new Map<Scenario, string>()
    errors.set(system, bySystem)
    for (const s of covers) bySystem.set(s, message.slice(0, 2000))
    return
  }
  try {
    const planned = jobs(server.ready, system).find((j) => j.covers.join() === covers.join())
    if (!planned) return
    log(`${system}: ${covers.join('+')} (run ${r + 1}/${profile.repeats})`)
    try {
      const deadlineMs = Math.min(planned.job.deadlineMs, deadlineCapMs)
      const result = await runLoad({ ...planned.job, deadlineMs }, childOpts)
      const bySystem = runs.get(system) ?? new Map<Scenario, Figures[]>()
      runs.set(system, bySystem)
      for (const s of covers) bySystem.set(s, [...(bySystem.get(s) ?? []), extract(s, result)])
      noteFailures(system, covers, result)
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      log(`${system}: ${covers.join('+')} failed: ${message}`)
      const bySystem = errors.get(system) ?? new Map<Scenario, string>()
      errors.set(system, bySystem)
      for (const s of covers) bySystem.set(s, message.slice(0, 2000))
    }
  } finally {
    await server.stop()
  }
}

const skipped = new Map<SystemId, string>()

/** Record failed or cut-short work of a job (its figures then cover less than planned). */
function noteFailures(system: SystemId, covers: readonly Scenario[], result: Figures): void {
  const where = `${system} ${covers.join('+')}`
  const open = (result.open ?? result) as { tokens?: Figures; connects?: Figures }
  for (const phase of ['tokens', 'connects'] as const) {
    const f = open[phase] as { failed?: number; errors?: string[]; timedOut?: boolean } | undefined
    if (f?.failed) warn(`${where}: ${f.failed} ${phase} failed (${(f.errors ?? []).join('; ')})`)
    if (f?.timedOut) warn(`${where}: the deadline cut the ${phase} phase short`)
  }
  for (const part of [result, result.fanout as Figures | undefined]) {
    if (part && part.complete === false) warn(`${where}: incomplete (deadline or lost messages)`)
  }
}

function warn(msg: string): void {
  warnings.push(msg)
  log(msg)
}

/** Server start, load generator start and server stop, per job. */
const STARTUP_ALLOWANCE_MS = 2_000
/** No job is cut shorter than this, whatever the budget says. */
const MIN_JOB_MS = 4_000

/**
 * Run every selected scenario on every selected system. Systems take turns within each
 * scenario and round, so a transient load on the machine touches all of them alike.
 */
async function benchAll(): Promise<Results['systems']> {
  const runs = new Map<SystemId, Map<Scenario, Figures[]>>()
  const errors = new Map<SystemId, Map<Scenario, string>>()
  // The scenario groups are the same for every system; the ready line only fills in URLs.
  const groups = jobs({} as ReadyLine).map((j) => j.covers)
  const stopAt = performance.now() + profile.budgetMs
  let firstRunsLeft = groups.length * systems.length
  // Round 0 runs everything once; later rounds add repeats while the budget lasts.
  for (let r = 0; r < profile.repeats; r++) {
    for (const covers of groups) {
      for (const system of systems) {
        if (skipped.has(system)) continue
        if (r > 0 && performance.now() > stopAt) {
          warnings.push(`time budget spent: ${covers.join('+')} run ${r + 1} skipped on ${system}`)
          continue
        }
        // A job's deadline shrinks so the first round fits in what is left of the budget.
        const left = stopAt - performance.now()
        const share = left / Math.max(1, firstRunsLeft) - STARTUP_ALLOWANCE_MS
        if (r === 0) firstRunsLeft--
        await runGroup(system, covers, r, Math.max(MIN_JOB_MS, share), runs, errors)
      }
    }
  }
  const out: Results['systems'] = {}
  for (const system of systems) {
    const skip = skipped.get(system)
    if (skip) {
      out[system] = { skipped: skip, scenarios: {} }
      continue
    }
    const scenarioResults: SystemResults['scenarios'] = {}
    for (const [s, list] of runs.get(system) ?? []) scenarioResults[s] = median(s, list)
    for (const [s, message] of errors.get(system) ?? []) {
      if (!scenarioResults[s]) scenarioResults[s] = { error: message }
    }
    out[system] = { scenarios: scenarioResults }
  }
  return out
}

function log(msg: string): void {
  process.stderr.write(`[bench] ${(performance.now() / 1000).toFixed(2)} ${msg}\n`)
}

function version(pkg: string): string {
  try {
    const p = JSON.parse(readFileSync(`${BENCH_DIR}../node_modules/${pkg}/package.json`, 'utf8'))
    return String(p.version)
  } catch {
    return 'unknown'
  }
}

async function main(): Promise<void> {
  const started = Date.now()
  const loadBefore = loadavg()
  const out = await benchAll()
  const { ratios, targets } = judge(out)
  const results: Results = {
    meta: {
      date: new Date(started).toISOString(),
      mode: profile.name,
      durationMs: Date.now() - started,
      node: process.version,
      os: `${process.platform} ${release()}`,
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryMiB: Math.round(totalmem() / 1048576),
      openFiles: limits,
      versions: { ws: version('ws'), 'socket.io': version('socket.io') },
      systems,
      scenarios,
      sizes,
      sourceAddresses: localAddresses.length,
      loadAverage: { before: loadBefore, after: loadavg() },
      warnings,
    },
    systems: out,
    ratios,
    targets,
  }
  mkdirSync(dirname(outFile), { recursive: true })
  writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`)
  process.stdout.write(renderTable(results))
  process.stdout.write(`\nwrote ${outFile} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
}

await main()
