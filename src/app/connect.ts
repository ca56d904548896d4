/**
 * @module app/connect
 * The `$connect` pipeline: named checks in a fixed order, cheapest and non-consuming first.
 * A request refused for its Origin, Host, channel or rate never burns its token, because the
 * token is used only after all of those pass. Two orders, chosen per request:
 *
 * - The host's `identify` names the user (it knows them from the session cookie):
 *   gateway → identify → rate → headers → host → origin → channel → token (well-formed,
 *   no store call) → user → permissions → channel-authorization → custom checks → open.
 *   The user checks need only the user, so they run before the token is used, and `open`
 *   is one store call (`Store.openSession`) that uses the token — bound to that session AND
 *   that user — and writes the session in one commit. A user refused by those checks keeps
 *   an unburnt token (it still expires, and it is single use when it is used).
 * - Otherwise (no user from `identify`): … channel → token (used) → user → permissions →
 *   channel-authorization → custom checks → session (a guarded `createSession`).
 *
 * Revocation (logout, kick, ban) deletes the user's or session's token rows, used or not.
 * In the first order a revocation before `open` leaves no token to use (401) and one after
 * it finds the session. In the second the session is written only while the consumed
 * token's row still exists, so a revocation between the token and the session refuses the
 * connect (401) instead of opening a socket the revocation could not see.
 */
import { DEFAULTS } from '../defaults.ts'
import type { GatewayEvent, GatewayResponse } from '../events/event.ts'
import { connectIpKey, connectUserKey } from '../limits/keys.ts'
import type {
  NewSession,
  RateKey,
  SessionGuard,
  SessionRecord,
  Store,
  TokenClaim,
} from '../store/store.ts'
import type { TokenService } from '../tokens/service.ts'
import { hashSessionId, hashToken, isWellFormedToken } from '../tokens/token.ts'
import type { AuthenticityCheck } from './authenticity.ts'
import { isValidChannel } from './checks/channel.ts'
import { createRequiredHeadersCheck } from './checks/headers.ts'
import { createHostCheck } from './checks/host.ts'
import { createOriginCheck } from './checks/origin.ts'
import { hasPermissions } from './checks/permissions.ts'
import type { AppConfig } from './config.ts'
import { guard } from './guard.ts'
import { type Rejection, reject, toResponse } from './rejection.ts'
import type { ConnectIdentity, User } from './types.ts'

/** What the connect checks learn as they run. */
interface ConnectState {
  readonly event: GatewayEvent
  identity: ConnectIdentity | null
  token: string | undefined
  /** The token came as a `Sec-WebSocket-Protocol` entry, so the app protocol must be echoed. */
  tokenInProtocol: boolean
  channel: string | null
  userId: string | null
  user: User | null
  /** The consumed token's hash: the session is written only while that token row exists. */
  guard: SessionGuard | undefined
  /** The token to use together with the session write (user known from `identify`). */
  claim: TokenClaim | undefined
}

/** One named check of the pipeline. */
interface ConnectStep {
  readonly name: string
  run(state: ConnectState): Rejection | undefined | Promise<Rejection | undefined>
}

/** What the connect pipeline needs beyond its config. */
export interface ConnectDeps {
  readonly config: AppConfig
  readonly store: Store
  readonly tokens: TokenService
  readonly authenticity: AuthenticityCheck
}

/** Split a `Sec-WebSocket-Protocol` header into its token entry and whether the app protocol was offered. */
function readProtocols(header: string | undefined): { token?: string; offered: boolean } {
  if (header === undefined) return { offered: false }
  let token: string | undefined
  let offered = false
  for (const raw of header.split(',')) {
    const entry = raw.trim()
    if (entry === DEFAULTS.appProtocol) offered = true
    else if (entry.startsWith(DEFAULTS.tokenProtocolPrefix))
      token = entry.slice(DEFAULTS.tokenProtocolPrefix.length)
  }
  return token === undefined ? { offered } : { token, offered }
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value !== ''
}

/**
 * Build the `$connect` handler of an app.
 *
 * @example
 * ```ts
 * const connect = createConnectPipeline({ config, store, tokens, authenticity })
 * const response = await connect(event) // { status: 200 } or a generic rejection
 * ```
 */
export function createConnectPipeline(
  deps: ConnectDeps,
): (event: GatewayEvent) => Promise<GatewayResponse> {
  const { config, store, tokens, authenticity } = deps
  const opts = config.options
  const originCheck = createOriginCheck(config.allowedOrigins, {
    requireOrigin: config.requireOrigin,
  })
  const hostCheck = opts.allowedHosts ? createHostCheck(opts.allowedHosts) : undefined
  const headersCheck = createRequiredHeadersCheck(config.requiredHeaders)
  const ipLimit = { limit: config.connectLimitPerIp, windowMs: config.connectWindowMs }
  const userLimit = { limit: config.connectLimitPerUser, windowMs: config.connectWindowMs }

  const steps: ConnectStep[] = [
    { name: 'gateway', run: (s) => authenticity(s.event) },
    {
      name: 'identify',
      run: async (s) => {
        s.identity = opts.identify ? await opts.identify(s.event) : null
        return undefined
      },
    },
    {
      name: 'rate',
      run: async (s) => {
        const keys: RateKey[] = [connectIpKey(s.event.sourceIp, ipLimit)]
        const userId = s.identity?.userId
        if (typeof userId === 'string' && userId !== '')
          keys.push(connectUserKey(userId, userLimit))
        const decision = await store.hit(keys, config.clock.now())
        if (decision.allowed) return undefined
        return reject(429, 'rate_limited', Math.max(1, Math.ceil(decision.msBeforeNext / 1000)))
      },
    },
    {
      name: 'headers',
      run: (s) =>
        headersCheck(s.event.headers) === null ? undefined : reject(400, 'headers_missing'),
    },
    {
      name: 'host',
      run: (s) =>
        !hostCheck || hostCheck(s.event.headers.host) ? undefined : reject(403, 'host_forbidden'),
    },
    {
      name: 'origin',
      run: (s) => {
        const verdict = originCheck(s.event.headers.origin)
        if (verdict === 'forbidden') return reject(403, 'origin_forbidden')
        return undefined
      },
    },
    {
      name: 'channel',
      run: (s) => {
        const raw = s.event.query[DEFAULTS.channelQueryParam]
        if (raw === undefined)
          return config.requireChannel ? reject(400, 'channel_required') : undefined
        if (!isValidChannel(raw, config.channelPattern)) return reject(400, 'channel_invalid')
        s.channel = raw
        return undefined
      },
    },
  ]

  // Where the token comes from; records whether the app protocol must be echoed.
  const readToken = (s: ConnectState): string | undefined => {
    const fromQuery = s.event.query[config.tokenQueryParam]
    const protocols = readProtocols(s.event.headers['sec-websocket-protocol'])
    s.tokenInProtocol =
      fromQuery === undefined && protocols.token !== undefined && protocols.offered
    return fromQuery ?? (s.tokenInProtocol ? protocols.token : undefined)
  }

  const userStep: ConnectStep = {
    name: 'user',
    run: async (s) => {
      const user = s.userId === null ? null : await opts.loadUser!(s.userId)
      if (!user) return reject(401, 'user_unknown')
      if (user.active === false) return reject(403, 'user_inactive')
      s.user = user
      return undefined
    },
  }
  const permissionsStep: ConnectStep = {
    name: 'permissions',
    run: (s) =>
      hasPermissions(s.user!.permissions, opts.permissions)
        ? undefined
        : reject(403, 'permission_denied'),
  }

  // Used now (second order): the session is written later, guarded by the token's hash.
  const consumeStep: ConnectStep = {
    name: 'token',
    run: async (s) => {
      const token = readToken(s)
      // The service refuses malformed tokens and a missing session without a store query,
      // with the same answer as an unknown token.
      const consumed = await tokens.consume(token, s.identity?.sessionId ?? null)
      if (!consumed) return reject(401, token === undefined ? 'token_missing' : 'token_invalid')
      const claimed = s.identity?.userId
      if (nonEmpty(claimed) && claimed !== consumed.userId) {
        return reject(401, 'token_invalid')
      }
      s.userId = consumed.userId
      s.guard = { tokenHash: consumed.tokenHash }
      return undefined
    },
  }

  // First order: only what needs no store (present, well-formed, a session to bind it to),
  // with the token service's answers; the token is used by `open` after the user checks.
  const claimStep: ConnectStep = {
    name: 'token',
    run: (s) => {
      const token = readToken(s)
      const sessionId = s.identity?.sessionId
      if (!isWellFormedToken(token) || !nonEmpty(sessionId)) {
        const reason = isWellFormedToken(token) ? 'token_no_session' : 'token_malformed'
        config.logger.info({ reason }, 'token rejected')
        return reject(401, token === undefined ? 'token_missing' : 'token_invalid')
      }
      const userId = s.identity!.userId!
      s.userId = userId
      s.claim = { hash: hashToken(token), sessionHash: hashSessionId(sessionId), userId }
      return undefined
    },
  }

  const checks: ConnectStep[] = []
  if (opts.authorizeChannel) {
    const authorize = opts.authorizeChannel
    checks.push({
      name: 'channel-authorization',
      run: async (s) =>
        s.channel === null || (await authorize(s.user, s.channel))
          ? undefined
          : reject(403, 'channel_forbidden'),
    })
  }

  for (const [i, check] of (opts.connectChecks ?? []).entries()) {
    checks.push({
      name: `custom-${i}`,
      run: async (s) => {
        const verdict = await check({ event: s.event, user: s.user, channel: s.channel })
        if (verdict === true) return undefined
        const status =
          typeof verdict === 'number' && verdict >= 400 && verdict < 600 ? verdict : 403
        return reject(status, 'check_failed')
      },
    })
  }

  // The steps after the request checks, by order (see the module comment).
  const userKnown: ConnectStep[] = [claimStep, userStep, permissionsStep, ...checks]
  const tokenFirst: ConnectStep[] = config.useToken
    ? [consumeStep, userStep, permissionsStep, ...checks]
    : checks

  return (event) =>
    guard(config.logger, 'connect', event, async () => {
      const state: ConnectState = {
        event,
        identity: null,
        token: undefined,
        tokenInProtocol: false,
        channel: null,
        userId: null,
        user: null,
        guard: undefined,
        claim: undefined,
      }
      const refuse = (check: string, rejection: Rejection): GatewayResponse => {
        config.logger.warn(
          {
            event: 'connect_rejected',
            check,
            reason: rejection.reason,
            status: rejection.status,
            ip: event.sourceIp,
            connectionId: event.connectionId,
          },
          'connect rejected',
        )
        return toResponse(rejection)
      }
      for (const step of steps) {
        const rejection = await step.run(state)
        if (rejection) return refuse(step.name, rejection)
      }
      const known = config.useToken && nonEmpty(state.identity?.userId)
      for (const step of known ? userKnown : tokenFirst) {
        const rejection = await step.run(state)
        if (rejection) return refuse(step.name, rejection)
      }
      const sessionId = state.identity?.sessionId ?? null
      // Built here rather than read back after the write: every field is known.
      const session: SessionRecord = {
        connectionId: event.connectionId,
        userId: state.userId,
        sessionHash: sessionId === null ? null : hashSessionId(sessionId),
        channel: state.channel,
        connected: true,
        requestCount: 0,
        connectedAt: event.connectedAt,
        lastSeenAt: event.connectedAt,
        disconnectedAt: null,
      }
      const row: NewSession = {
        connectionId: session.connectionId,
        userId: session.userId,
        sessionHash: session.sessionHash,
        channel: session.channel,
        connectedAt: session.connectedAt,
      }
      if (state.claim !== undefined) {
        // One commit: the token is used (unused, unexpired, this session, this user) and the
        // session written, or neither. Unknown, used, expired, foreign and revoked are one
        // answer, as in the token service.
        const owner = await store.openSession(state.claim, row, config.clock.now())
        if (owner === null) {
          config.logger.info({ reason: 'token_invalid' }, 'token rejected')
          return refuse('token', reject(401, 'token_invalid'))
        }
      } else {
        const written = await store.createSession(row, state.guard)
        // The token was revoked after it was consumed (logout, kick or ban in between).
        if (!written) return refuse('session', reject(401, 'token_revoked'))
      }
      config.logger.info(
        {
          event: 'connected',
          connectionId: event.connectionId,
          userId: state.userId,
          channel: state.channel,
        },
        'connected',
      )
      if (opts.onConnect) {
        try {
          await opts.onConnect({ event, user: state.user, session })
        } catch (err) {
          config.logger.error(
            { event: 'hook_failed', hook: 'onConnect', err },
            'onConnect hook threw',
          )
        }
      }
      return state.tokenInProtocol || readProtocols(event.headers['sec-websocket-protocol']).offered
        ? { status: 200, headers: { 'sec-websocket-protocol': DEFAULTS.appProtocol } }
        : { status: 200 }
    })
}
