/**
 * @module aws/load-config
 * Reading the `gatehouse aws` config file: JSON, or a TS/JS module whose default export is
 * the config object (so it can compute values, e.g. from `process.env`). The result is the
 * raw value; {@link parseAwsConfig} validates it.
 */
import { readFile } from 'node:fs/promises'
import { extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { GatehouseError } from '../errors.ts'

const MODULE_EXTENSIONS = new Set(['.ts', '.mts', '.js', '.mjs'])

/**
 * The raw config in `path` (relative to the working directory).
 *
 * @throws GatehouseError `ERR_INVALID_OPTION` when the file cannot be read, is not valid
 *   JSON, has an unsupported extension, or a module has no default export.
 * @example
 * ```ts
 * const raw = await loadAwsConfigFile('gatehouse.aws.json')
 * const config = parseAwsConfig(raw, 'gatehouse.aws.json')
 * ```
 */
export async function loadAwsConfigFile(path: string): Promise<unknown> {
  const full = resolve(path)
  const ext = extname(full).toLowerCase()
  if (ext === '.json') {
    let text: string
    try {
      text = await readFile(full, 'utf8')
    } catch (err) {
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        `Cannot read ${path}: ${(err as Error).message}`,
        {
          cause: err,
        },
      )
    }
    try {
      return JSON.parse(text) as unknown
    } catch (err) {
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        `${path} is not valid JSON: ${(err as Error).message}`,
        {
          cause: err,
        },
      )
    }
  }
  if (!MODULE_EXTENSIONS.has(ext)) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      `${path}: the config must be .json, .ts, .mts, .js or .mjs`,
    )
  }
  let mod: { default?: unknown }
  try {
    mod = (await import(pathToFileURL(full).href)) as { default?: unknown }
  } catch (err) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      `Cannot load ${path}: ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
  if (mod.default === undefined) {
    throw new GatehouseError('ERR_INVALID_OPTION', `${path} has no default export`)
  }
  return mod.default
}
