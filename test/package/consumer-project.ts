/**
 * Package test support: an empty project that installs the packed tarball as a user would,
 * offline. Its lockfile is cut from this repository's own: the tarball, its dependencies and
 * the peers at the versions `npm ci` installed here, so `npm ci --offline` finds every one in
 * the npm cache (an `npm install` would pick the newest version a cached registry document
 * lists, whose tarball may never have been downloaded).
 */
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The slice of a lockfile-v3 package entry this module reads. */
interface LockEntry {
  version?: string
  dependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
  peerDependenciesMeta?: Record<string, { optional?: boolean }>
  [key: string]: unknown
}

interface Lockfile {
  packages: Record<string, LockEntry>
}

interface Manifest {
  name: string
  version: string
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
  peerDependenciesMeta?: Record<string, { optional?: boolean }>
  [key: string]: unknown
}

/**
 * The files a fresh clone has (tracked, plus untracked files git does not ignore), copied to
 * a temporary directory with this checkout's `node_modules` linked in, so `npm pack` there
 * runs `prepack` from scratch without touching this checkout's `dist/`.
 */
export async function stageClone(root: string): Promise<string> {
  const { stdout } = await run(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    { cwd: root, maxBuffer: 16 << 20 },
  )
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-clone-'))
  const files = stdout.split('\0').filter((f) => f.length > 0)
  await Promise.all(
    files.map(async (file) => {
      await mkdir(join(dir, file, '..'), { recursive: true })
      await cp(join(root, file), join(dir, file)).catch((err: NodeJS.ErrnoException) => {
        // A file deleted in the working tree but still tracked is not in a clone of it.
        if (err.code !== 'ENOENT') throw err
      })
    }),
  )
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir')
  return dir
}

/** `npm pack` in `dir` (which runs `prepack`) into the empty `destination`; the tarball's path. */
export async function pack(dir: string, destination: string): Promise<string> {
  // The prepack build prints to stdout too, so the tarball is found on disk, not in `--json`.
  await run('npm', ['pack', '--pack-destination', destination], {
    cwd: dir,
    maxBuffer: 64 << 20,
    timeout: 120_000,
  })
  const tarballs = (await readdir(destination)).filter((f) => f.endsWith('.tgz'))
  if (tarballs.length !== 1) throw new Error(`npm pack left ${tarballs.length} tarballs`)
  return join(destination, tarballs[0] as string)
}

/** Where `name` resolves from the package installed at `from` (Node's upward search). */
function resolveIn(lock: Lockfile, from: string, name: string): string | undefined {
  let base = from
  for (;;) {
    const candidate = `${base === '' ? '' : `${base}/`}node_modules/${name}`
    if (lock.packages[candidate]) return candidate
    if (base === '') return undefined
    const cut = base.lastIndexOf('/node_modules/')
    base = cut === -1 ? '' : base.slice(0, cut)
  }
}

/** Every lockfile entry needed to install `roots` (names resolved from the project root). */
function closure(lock: Lockfile, roots: readonly string[]): Map<string, LockEntry> {
  const out = new Map<string, LockEntry>()
  const visit = (from: string, name: string, optional: boolean): void => {
    const at = resolveIn(lock, from, name)
    if (at === undefined) {
      if (optional) return
      throw new Error(`${name} (needed by ${from || 'the consumer'}) is not in package-lock.json`)
    }
    if (out.has(at)) return
    const entry = lock.packages[at] as LockEntry
    out.set(at, entry)
    for (const dep of Object.keys(entry.dependencies ?? {})) visit(at, dep, false)
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) visit(at, dep, true)
    for (const dep of Object.keys(entry.peerDependencies ?? {})) {
      visit(at, dep, entry.peerDependenciesMeta?.[dep]?.optional === true)
    }
  }
  for (const name of roots) visit('', name, false)
  return out
}

/** The consumer project: its directory and the package it installed. */
export interface ConsumerProject {
  readonly dir: string
  readonly manifest: Manifest
}

/**
 * An empty project in a new temporary directory that depends on `tarball`, every peer
 * dependency it declares (optional ones too, so each subpath can be type-checked and
 * imported) and `@types/node`, installed with `npm ci --offline`.
 */
export async function installConsumer(root: string, tarball: string): Promise<ConsumerProject> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-consumer-'))
  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as Lockfile
  const { stdout } = await run('tar', ['-xzOf', tarball, 'package/package.json'])
  const manifest = JSON.parse(stdout) as Manifest
  await cp(tarball, join(dir, basename(tarball)))

  const extra = [...Object.keys(manifest.peerDependencies ?? {}), '@types/node']
  const pinned = (name: string): string => {
    const version = lock.packages[`node_modules/${name}`]?.version
    if (version === undefined) throw new Error(`${name} is not installed in this checkout`)
    return version
  }
  const dependencies: Record<string, string> = {
    [manifest.name]: `file:${basename(tarball)}`,
    ...Object.fromEntries(extra.map((name) => [name, pinned(name)])),
  }
  const packages: Record<string, LockEntry> = {
    '': { name: 'consumer', version: '1.0.0', dependencies },
    [`node_modules/${manifest.name}`]: {
      version: manifest.version,
      resolved: `file:${basename(tarball)}`,
      ...pick(manifest, [
        'license',
        'dependencies',
        'peerDependencies',
        'peerDependenciesMeta',
        'bin',
        'engines',
      ]),
    },
  }
  const needed = closure(lock, [...Object.keys(manifest.dependencies ?? {}), ...extra])
  for (const [at, entry] of needed) {
    // Whether a package is dev-only or a peer here says nothing about the consumer.
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...rest } = entry
    packages[at] = rest
  }
  await writeFile(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies }, null, 2)}\n`,
  )
  await writeFile(
    join(dir, 'package-lock.json'),
    `${JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`,
  )
  await run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
    cwd: dir,
    timeout: 120_000,
  })
  return { dir, manifest }
}

function pick(from: Manifest, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => from[k] !== undefined).map((k) => [k, from[k]]))
}
