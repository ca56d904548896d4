/**
 * @module util/optional
 * Loading an optional peer dependency (`pg`, `ioredis`, `prom-client`): one rule for what a
 * user who did not install it is told, wherever Gatehouse reaches for it.
 */
import { GatehouseError } from '../errors.ts'

/**
 * Run `load` (a literal `import('…')`, so bundlers and types still see the module); when it
 * fails, throw `ERR_INVALID_OPTION` naming the package, the caller and the install command.
 *
 * @example
 * ```ts
 * const pg = await importOptional('pg', 'createPostgresStore', () => import('pg'))
 * ```
 */
export async function importOptional<T>(
  name: string,
  who: string,
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load()
  } catch (err) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      `${who}: the optional dependency "${name}" is not installed (npm install ${name})`,
      { cause: err },
    )
  }
}
