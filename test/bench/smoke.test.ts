/**
 * The bench harness runs end to end in its tiny mode and writes a results file with the
 * expected shape. No timing is asserted: figures on a shared test machine mean nothing.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const RUN = fileURLToPath(new URL('../../bench/run.ts', import.meta.url))
const SYSTEMS = ['ws', 'socketio', 'gatehouse', 'gatehouse-http']
const REQUIRED_RATIOS = [
  'connects_vs_ws',
  'connects_vs_socketio',
  'fanout_vs_ws',
  'fanout_vs_socketio',
  'rss_per_conn_vs_ws',
  'roundtrip_p99_vs_ws',
]

function runBench(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })
}

test('bench --smoke completes and writes results with every system and the ratios', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-smoke-'))
  try {
    const file = join(dir, 'results.json')
    const { code, out } = await runBench(
      ['--smoke', '--scenario=connect', `--out=${file}`],
      120_000,
    )
    assert.equal(code, 0, out)
    const results = JSON.parse(readFileSync(file, 'utf8')) as {
      meta: { mode: string }
      systems: Record<string, { skipped?: string; scenarios: Record<string, unknown> }>
      ratios: Record<string, number | null>
      targets: Record<string, unknown>
    }
    assert.equal(results.meta.mode, 'smoke')
    for (const system of SYSTEMS) {
      const sys = results.systems[system]
      assert.ok(sys, `results for ${system}`)
      const connect = sys.scenarios.connect as { connectsPerSec?: unknown } | undefined
      assert.equal(typeof connect?.connectsPerSec, 'number', `${system} connect figures: ${out}`)
    }
    for (const key of REQUIRED_RATIOS) assert.ok(key in results.ratios, `ratio ${key}`)
    assert.equal(typeof results.ratios.connects_vs_ws, 'number')
    assert.match(out, /connects\/s/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
