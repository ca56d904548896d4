/**
 * @module bench/lib/table
 * The table the bench prints on stdout: one row per figure, one column per system.
 */

import { DIAGNOSTIC_SYSTEMS, type Scenario, SYSTEMS } from './protocol.ts'
import { figure, type Results } from './results.ts'

const ROWS: ReadonlyArray<readonly [string, Scenario, string, number]> = [
  ['(a) connects/s', 'connect', 'connectsPerSec', 1],
  ['(a) handshake p50 ms', 'connect', 'handshakeMs.p50', 1],
  ['(a) handshake p99 ms', 'connect', 'handshakeMs.p99', 1],
  ['(a) token issues/s', 'connect', 'tokensPerSec', 1],
  ['(a) token issue p99 ms', 'connect', 'tokenIssueMs.p99', 1],
  ['(a) server CPU µs/connect', 'connect', 'serverCpuUsPerConnect', 1],
  ['(a) server CPU µs/token', 'connect', 'serverCpuUsPerToken', 1],
  ['(b) fan-out deliveries/s', 'fanout', 'deliveriesPerSec', 1],
  ['(b) fan-out p99 ms', 'fanout', 'latencyMs.p99', 1],
  ['(b) server CPU ns/delivery', 'fanout', 'serverCpuNsPerDelivery', 1],
  ['(c) round trip p50 ms', 'roundtrip', 'latencyMs.p50', 1],
  ['(c) round trip p99 ms', 'roundtrip', 'latencyMs.p99', 1],
  ['(d) RSS KiB/idle conn', 'memory', 'rssPerConnBytes', 1024],
  ['(d) heap KiB/idle conn', 'memory', 'heapPerConnBytes', 1024],
  ['(d) RSS KiB/conn, before shrink', 'memory', 'rssPerConnWithSlackBytes', 1024],
  ['(e) messages/s', 'messages', 'messagesPerSec', 1],
  ['(e) messages p99 ms', 'messages', 'latencyMs.p99', 1],
]

function fmt(n: number | null): string {
  if (n === null) return '—'
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US')
  if (Math.abs(n) >= 100) return n.toFixed(0)
  if (Math.abs(n) >= 10) return n.toFixed(1)
  return n.toFixed(2)
}

/**
 * Render the results as a fixed-width text table.
 *
 * @example
 * ```ts
 * process.stdout.write(renderTable(results))
 * ```
 */
export function renderTable(results: Results): string {
  const systems = [...SYSTEMS, ...DIAGNOSTIC_SYSTEMS].filter((s) => results.systems[s])
  const head = ['figure', ...systems]
  const rows: string[][] = [head]
  for (const [label, scenario, path, div] of ROWS) {
    const cells = systems.map((s) => {
      const v = figure(results.systems[s], scenario, path)
      return fmt(v === null ? null : v / div)
    })
    if (cells.some((c) => c !== '—')) rows.push([label, ...cells])
  }
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  const out = [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  ')]
  for (const r of rows.slice(1)) out.push(line(r))
  for (const s of systems) {
    const skipped = results.systems[s]?.skipped
    if (skipped) out.push(`${s}: skipped (${skipped})`)
  }
  for (const w of (results.meta.warnings as string[] | undefined) ?? []) out.push(`warning: ${w}`)
  out.push('', 'ratios (Gatehouse in-process ÷ other; for RSS and latency lower is better):')
  for (const [name, v] of Object.entries(results.ratios)) {
    const t = results.targets[name]
    const mark = t
      ? `  target ${t.target}: ${t.met === null ? 'n/a' : t.met ? 'met' : 'MISSED'}`
      : ''
    out.push(`  ${name.padEnd(28)} ${v === null ? '—' : v.toFixed(3)}${mark}`)
  }
  return `${out.join('\n')}\n`
}
