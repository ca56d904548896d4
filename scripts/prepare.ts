/**
 * npm's `prepare` script. `npm install git+…` builds a Git dependency by running `prepare` in
 * a fresh clone, never `prepack`, so this builds `dist/` when it is missing: in that clone,
 * and once in a new checkout. `npm pack` and `npm publish` run `prepack` first, which always
 * rebuilds, so what they ship is never a stale `dist/`.
 *
 * Run: `npm run prepare` (npm runs it after `npm install`/`npm ci` and on `npm pack`).
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

if (!existsSync(resolve(root, 'dist/index.js'))) {
  // npm sets npm_execpath to the npm that runs this script; fall back to `npm` on PATH.
  const npm = process.env.npm_execpath
  const { status } = npm
    ? spawnSync(process.execPath, [npm, 'run', 'build'], { cwd: root, stdio: 'inherit' })
    : spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: true })
  process.exit(status ?? 1)
}
