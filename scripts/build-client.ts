/**
 * Bundles `gatehouse/client` into one small ESM file for browsers:
 * `dist/client/gatehouse-client.js` (minified, ES2020, no dependencies).
 *
 * Run: `node scripts/build-client.ts [outFile]`. The demo server calls {@link buildClient} at
 * start-up so the page always gets the current client.
 */
import { mkdir, readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Where the bundle goes unless told otherwise.
 *
 * @example
 * ```ts
 * await buildClient(DEFAULT_CLIENT_BUNDLE)
 * ```
 */
export const DEFAULT_CLIENT_BUNDLE: string = resolve(root, 'dist/client/gatehouse-client.js')

/**
 * What {@link buildClient} produced.
 *
 * @example
 * ```ts
 * const { bytes, gzipBytes }: ClientBundle = await buildClient()
 * ```
 */
export interface ClientBundle {
  /** Absolute path of the bundle. */
  file: string
  /** Its size in bytes. */
  bytes: number
  /** Its size gzipped (level 9), what a browser downloads from a compressing server. */
  gzipBytes: number
}

/**
 * Builds the browser bundle and reports its size.
 *
 * @example
 * ```ts
 * import { buildClient } from '../../scripts/build-client.ts'
 * const { file, gzipBytes } = await buildClient()
 * ```
 */
export async function buildClient(outFile: string = DEFAULT_CLIENT_BUNDLE): Promise<ClientBundle> {
  const file = resolve(outFile)
  await mkdir(dirname(file), { recursive: true })
  await build({
    entryPoints: [resolve(root, 'src/client/index.ts')],
    outfile: file,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    sourcemap: false,
    logLevel: 'silent',
    // Plain assignments instead of `Object.defineProperty` per field: smaller, same behaviour
    // for these classes (no field shadows an accessor).
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: false } },
  })
  const code = await readFile(file)
  return { file, bytes: code.byteLength, gzipBytes: gzipSync(code, { level: 9 }).byteLength }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { file, bytes, gzipBytes } = await buildClient(process.argv[2])
  console.log(`${file}: ${bytes} bytes, ${gzipBytes} bytes gzipped`)
}
