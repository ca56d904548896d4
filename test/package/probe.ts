/**
 * Package test support: which public entry points load `node:sqlite` when imported. A child
 * process imports them one by one and reports, after each import, whether Node has loaded the
 * `sqlite` builtin (`process.moduleLoadList` lists every builtin once it is loaded). On
 * Node 22 loading it prints an ExperimentalWarning, so only `openSqliteStore` may load it.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** What the probe saw. */
export interface SqliteProbe {
  /** Each specifier imported, and whether `node:sqlite` was loaded once it was. */
  readonly loadedAfter: ReadonlyArray<readonly [string, boolean]>
  /** Whether it was loaded after `openSqliteStore({ path: ':memory:' })` (the control). */
  readonly loadedAfterOpen: boolean
}

/** The import specifiers of every entry point in `exports`, but the bundle and package.json. */
export async function publicSpecifiers(packageJson: string): Promise<string[]> {
  const pkg = JSON.parse(await readFile(packageJson, 'utf8')) as {
    name: string
    exports: Record<string, unknown>
  }
  return Object.keys(pkg.exports)
    .filter((key) => key !== './package.json' && !key.endsWith('.js'))
    .map((key) => (key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`))
}

/**
 * Import `specifiers` in order in a fresh `node` started in `cwd` with `nodeArgs`, then open
 * an in-memory SQLite store, reporting when `node:sqlite` got loaded.
 */
export async function probeSqlite(
  cwd: string,
  specifiers: readonly string[],
  nodeArgs: readonly string[] = [],
): Promise<SqliteProbe> {
  const source = `
    const loaded = () => process.moduleLoadList.some((m) => m === 'NativeModule sqlite')
    const loadedAfter = []
    for (const specifier of ${JSON.stringify(specifiers)}) {
      await import(specifier)
      loadedAfter.push([specifier, loaded()])
    }
    const { openSqliteStore } = await import('gatehouse')
    const store = await openSqliteStore({ path: ':memory:' })
    await store.close()
    process.stdout.write(JSON.stringify({ loadedAfter, loadedAfterOpen: loaded() }))
  `
  const { stdout } = await run(
    process.execPath,
    [...nodeArgs, '--input-type=module', '--eval', source],
    { cwd, timeout: 30_000 },
  )
  return JSON.parse(stdout) as SqliteProbe
}
