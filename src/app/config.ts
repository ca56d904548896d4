/**
 * @module app/config
 * App options merged with {@link DEFAULTS} once, validated once. Conflicts and nonsense are
 * rejected at construction with a {@link GatehouseError}, never discovered per request.
 */
import { type Clock, systemClock } from '../clock.ts'
import { DEFAULTS } from '../defaults.ts'
import { GatehouseError } from '../errors.ts'
import { type Logger, silentLogger } from '../logger.ts'
import { checkAppId } from '../tokens/app-id.ts'
import { positiveInt } from '../util/options.ts'
import { assertSafePattern } from './checks/pattern.ts'
import type { AppOptions } from './types.ts'

/** The resolved, validated options an app runs with. */
export interface AppConfig
  extends Required<
    Pick<
      AppOptions,
      | 'appId'
      | 'useToken'
      | 'requireOrigin'
      | 'allowUnsignedGateway'
      | 'requireChannel'
      | 'connectLimitPerIp'
      | 'connectLimitPerUser'
      | 'connectWindowMs'
      | 'maxMessageBytes'
      | 'maxOutboundBytes'
      | 'goneGraceMs'
      | 'maxJsonDepth'
      | 'actionKey'
      | 'channelPattern'
      | 'tokenQueryParam'
    >
  > {
  readonly options: AppOptions
  readonly clock: Clock
  readonly logger: Logger
  readonly allowedOrigins: readonly string[]
  readonly requiredHeaders: readonly string[]
}

/**
 * Merge and check app options.
 *
 * @example
 * ```ts
 * const config = resolveAppConfig({ store, identify, loadUser })
 * config.connectLimitPerIp // 20
 * ```
 */
export function resolveAppConfig(options: AppOptions): AppConfig {
  if (!options || typeof options !== 'object' || !options.store) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'createApp() needs a `store`.')
  }
  const useToken = options.useToken ?? true
  if (useToken && typeof options.identify !== 'function') {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      'With `useToken` on (the default), createApp() needs `identify(event)` to read the session from the handshake.',
    )
  }
  if (useToken && typeof options.loadUser !== 'function') {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      'With `useToken` on (the default), createApp() needs `loadUser(userId)`.',
    )
  }
  if (!useToken && options.permissions) {
    throw new GatehouseError(
      'ERR_OPTION_CONFLICT',
      '`permissions` need a user, and `useToken: false` makes connections anonymous.',
    )
  }
  if (options.gatewaySecret !== undefined) {
    if (typeof options.gatewaySecret !== 'string' || options.gatewaySecret.length < 16) {
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        '`gatewaySecret` must be a string of at least 16 characters.',
      )
    }
    if (options.allowUnsignedGateway) {
      throw new GatehouseError(
        'ERR_OPTION_CONFLICT',
        '`allowUnsignedGateway` contradicts `gatewaySecret`: with a secret, unsigned calls are refused.',
      )
    }
  }
  const channelPattern = options.channelPattern ?? DEFAULTS.channelPattern
  // Refused here, at construction: the channel check would otherwise throw on every connect.
  assertSafePattern(channelPattern, 'channelPattern')
  const maxMessageBytes = positiveInt(
    'maxMessageBytes',
    options.maxMessageBytes ?? DEFAULTS.maxMessageBytes,
  )
  const maxOutboundBytes = positiveInt(
    'maxOutboundBytes',
    options.maxOutboundBytes ?? DEFAULTS.maxOutboundBytes,
  )
  return {
    options,
    appId: checkAppId('appId', options.appId ?? DEFAULTS.appId),
    useToken,
    requireOrigin: options.requireOrigin ?? false,
    allowUnsignedGateway: options.allowUnsignedGateway ?? false,
    requireChannel: options.requireChannel ?? false,
    connectLimitPerIp: positiveInt(
      'connectLimitPerIp',
      options.connectLimitPerIp ?? DEFAULTS.connectLimitPerIp,
    ),
    connectLimitPerUser: positiveInt(
      'connectLimitPerUser',
      options.connectLimitPerUser ?? DEFAULTS.connectLimitPerUser,
    ),
    connectWindowMs: positiveInt(
      'connectWindowMs',
      options.connectWindowMs ?? DEFAULTS.connectWindowMs,
    ),
    maxMessageBytes,
    maxOutboundBytes,
    goneGraceMs: positiveInt('goneGraceMs', options.goneGraceMs ?? DEFAULTS.goneGraceMs, 0),
    maxJsonDepth: positiveInt('maxJsonDepth', options.maxJsonDepth ?? DEFAULTS.maxJsonDepth),
    actionKey: options.actionKey ?? DEFAULTS.actionKey,
    channelPattern,
    tokenQueryParam: options.tokenQueryParam ?? DEFAULTS.tokenQueryParam,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
    allowedOrigins: options.allowedOrigins ?? [],
    requiredHeaders: (options.requiredHeaders ?? []).map((h) => h.toLowerCase()),
  }
}
