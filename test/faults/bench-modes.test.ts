/**
 * The fault suite's bench modes run end to end in tiny sizes: `npm run bench -- --scale=…`
 * and `--soak=…` as docs/reliability.md gives them. Nothing is timed here; the figures of the
 * full forms are in docs/reliability.md.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'

const RUN = new URL('../../bench/run.ts', import.meta.url).pathname

function bench(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 170_000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })
}

test('npm run bench -- --scale=100 --hold=1 reports its figure', { timeout: 180_000 }, async () => {
  const { code, out } = await bench(['--scale=100', '--hold=1'])
  assert.equal(code, 0, out)
  assert.match(out, /figure: scale: 100 authenticated connections .* \$disconnect 100;/)
})

test('npm run bench -- --soak=12 --connections=100 draws its plot', {
  timeout: 180_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-soak-plot-'))
  try {
    const plot = join(dir, 'soak.png')
    const { code, out } = await bench(['--soak=12', '--connections=100', `--plot=${plot}`])
    assert.equal(code, 0, out)
    assert.match(out, /figure: soak 12 s: 100 sockets, .* passed \(limit 5 %\)/)
    const png = readFileSync(plot)
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG file')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
