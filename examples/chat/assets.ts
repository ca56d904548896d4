/**
 * @module examples/chat/assets
 * The page's static files, built once at start-up and served from memory. The script is the
 * page code (`browser/app.ts`) bundled by esbuild together with `gatehouse/client`, so a fresh
 * clone needs no separate build step.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const here = dirname(fileURLToPath(import.meta.url))

/** One static file. */
export interface Asset {
  readonly body: Buffer
  readonly contentType: string
  /** Strong validator for `If-None-Match`. */
  readonly etag: string
}

function asset(body: Buffer, contentType: string): Asset {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
  return { body, contentType, etag }
}

/**
 * Bundle the page script and read the other files; keys are the URL paths.
 *
 * @example
 * ```ts
 * const assets = await buildAssets()
 * assets.get('/static/app.js')?.contentType // 'text/javascript; charset=utf-8'
 * ```
 */
export async function buildAssets(): Promise<ReadonlyMap<string, Asset>> {
  const bundle = await build({
    entryPoints: [join(here, 'browser/app.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    // `gatehouse/client` resolves to src/ (package.json "exports"): a checkout needs no build.
    conditions: ['gatehouse-source'],
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: false } },
  })
  const script = bundle.outputFiles[0]
  if (!script) throw new Error('esbuild produced no bundle for the chat page')
  const [css, icon] = await Promise.all([
    readFile(join(here, 'public/style.css')),
    readFile(join(here, 'public/icon.svg')),
  ])
  return new Map([
    ['/static/app.js', asset(Buffer.from(script.contents), 'text/javascript; charset=utf-8')],
    ['/static/style.css', asset(css, 'text/css; charset=utf-8')],
    ['/static/icon.svg', asset(icon, 'image/svg+xml')],
  ])
}
