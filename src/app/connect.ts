/**
 * @module app/connect
 * The `$connect` pipeline: named checks in a fixed order, cheapest and non-consuming first.
 * A request refused for its Origin, Host, channel or rate never burns its token, because the
 * token is used only after all of those pass:
 *
 * gateway → headers → host → origin → channel → identify → rate → token, then the user
 * checks (user → permissions → channel-authorization → custom checks) and the session write.
 *
 * The checks that spend nothing run before any counter is charged, so a foreign page that
 * opens sockets with a victim's cookie (refused for its Origin) charges neither the victim
 * nor the shared IP. `rate` then looks at the IP's failed-token counter without charging it
 * and charges the user's connect budget; the IP's counter is charged only when the token is
 * missing or refused. Honest connects, however many share an IP, never fill it.
 *
 * A store failure while the session is written answers 503, and the write is then undone
 * ({@link abandonConnect}): a store that timed out may still commit it afterwards.
 *
 * Using the token is one call, `connectWithToken` (tokens/use.ts), which owns the rules
 * (well-formed, session, audience, single use, the session write guarded by the token) and
 * the order of the user checks around them: when `identify` names the user, the user checks
 * run before the token is touched and one store call uses the token and writes the session,
 * so a user those checks refuse keeps an unburnt token; otherwise the token is used first,
 * the user it names is checked, and the session is written only while the token row still
 * exists, so a revocation in between refuses the connect (401).
 */
import { DEFAULTS } from '../defaults.ts'
import type { GatewayEvent, GatewayResponse } from '../events/event.ts'
import { type Rejection, reject, toResponse } from '../http/refusal.ts'
import { connectFailureIpKey, connectIpKey, connectUserKey } from '../limits/keys.ts'
import type { NewSession, RateKey, SessionRecord, Store } from '../store/store.ts'
import { FIXED_EVENTS, publish, rateKindOf, telemetry } from '../telemetry.ts'
import { hashSessionId } from '../tokens/token.ts'
import { connectWithToken, type TokenUseContext } from '../tokens/use.ts'
import { abandonConnect } from './abandon.ts'
import type { Authenticity } from './authenticity.ts'
import { isValidChannel } from './checks/channel.ts'
import { hasPermissions } from './checks/permissions.ts'
import type { AppConfig } from './config.ts'
import { guard } from './guard.ts'
import { firePresence } from './presence.ts'
import { type Recovery, type RecoveryRequest, readRecoveryRequest } from './recovery.ts'
import type { Roster } from './roster.ts'
import type { Sender } from './send.ts'
import type { SessionCache } from './session-cache.ts'
import type { ConnectIdentity, User } from './types.ts'

/** What the connect checks learn as they run. */
interface ConnectState {
  readonly event: GatewayEvent
  identity: ConnectIdentity | null
  /** The token came as a `Sec-WebSocket-Protocol` entry, so the app protocol must be echoed. */
  tokenInProtocol: boolean
  channel: string | null
  /** The history position a reconnecting client presented (`since`, `epoch`). */
  recovery: RecoveryRequest | undefined
  userId: string | null
  user: User | null
}

/** A refusal and the check that made it, as the log names it. */
interface Refusal {
  readonly check: string
  readonly rejection: Rejection
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
  readonly authenticity: Authenticity
  /** Handed to the `onConnect` hook. */
  readonly send: Sender
  /** Where an opened connection is recorded with its user, for revocation without the store. */
  readonly roster: Roster
  /** Filled with the session and user of each accepted `$connect`. */
  readonly cache: SessionCache
  /** Where a reconnecting client's history position waits for its `$recover`. */
  readonly recovery?: Recovery
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
 * const connect = createConnectPipeline({ config, store, authenticity, send, roster, cache })
 * const response = await connect(event) // { status: 200 } or a generic rejection
 * ```
 */
export function createConnectPipeline(
  deps: ConnectDeps,
): (event: GatewayEvent) => Promise<GatewayResponse> {
  const { config, store, authenticity, send, roster, cache, recovery } = deps
  const tokenUse: TokenUseContext = {
    store,
    appId: config.appId,
    clock: config.clock,
    logger: config.logger,
  }
  // Everything below comes from the frozen config, compiled once; the caller's options
  // object is never read again.
  const { checkOrigin, checkHost, missingHeader, identify, loadUser, permissions } = config
  const ipLimit = { limit: config.connectLimitPerIp, windowMs: config.connectWindowMs }
  const failureLimit = { limit: config.connectFailureLimitPerIp, windowMs: config.connectWindowMs }
  const userLimit = { limit: config.connectLimitPerUser, windowMs: config.connectWindowMs }
  // The counter of an IP's failed token attempts, charged only when a token fails.
  const failureKey = (ip: string): RateKey => connectFailureIpKey(ip, failureLimit)

  // Checks whose refusal depends on the signed request alone (see `refuse` below).
  const RELEASABLE_CHECKS: ReadonlySet<string> = new Set([
    'headers',
    'host',
    'origin',
    'channel',
    'recovery',
    'token',
  ])
  const steps: ConnectStep[] = [
    { name: 'gateway', run: (s) => authenticity.check(s.event) },
    {
      name: 'headers',
      run: (s) =>
        missingHeader(s.event.headers) === null ? undefined : reject(400, 'headers_missing'),
    },
    {
      name: 'host',
      run: (s) =>
        !checkHost || checkHost(s.event.headers.host) ? undefined : reject(403, 'host_forbidden'),
    },
    {
      name: 'origin',
      run: (s) => {
        const verdict = checkOrigin(s.event.headers.origin)
        if (verdict === 'forbidden') return reject(403, 'origin_forbidden')
        if (verdict === 'missing') return reject(403, 'origin_missing')
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
    {
      // The history position of a reconnecting client: both or neither, bounded, well formed.
      name: 'recovery',
      run: (s) => {
        const request = readRecoveryRequest(
          s.event.query[DEFAULTS.historySinceQueryParam],
          s.event.query[DEFAULTS.historyEpochQueryParam],
        )
        if (request === null) return reject(400, 'recovery_invalid')
        s.recovery = request
        return undefined
      },
    },
    {
      name: 'identify',
      run: async (s) => {
        s.identity = identify ? await identify(s.event) : null
        return undefined
      },
    },
    {
      name: 'rate',
      run: async (s) => {
        // The trusted key first: hit() stops at the first refusal, so an IP refused for its
        // failures charges no user. With a token, the IP key is only looked at; an anonymous
        // app has nothing that can fail, so each connect counts on its IP.
        const keys: RateKey[] = config.useToken
          ? [{ ...failureKey(s.event.sourceIp), charge: false }]
          : [connectIpKey(s.event.sourceIp, ipLimit)]
        const userId = s.identity?.userId
        if (typeof userId === 'string' && userId !== '')
          keys.push(connectUserKey(userId, userLimit))
        const decision = await store.hit(keys, config.clock.now())
        if (decision.allowed) return undefined
        if (telemetry.hasSubscribers) {
          publish({ type: 'rate_limited', kind: rateKindOf(decision.key), key: decision.key })
        }
        return reject(429, 'rate_limited', Math.max(1, Math.ceil(decision.msBeforeNext / 1000)))
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
      const user = s.userId === null || !loadUser ? null : await loadUser(s.userId)
      if (!user) return reject(401, 'user_unknown')
      if (user.active === false) return reject(403, 'user_inactive')
      s.user = user
      return undefined
    },
  }
  const permissionsStep: ConnectStep = {
    name: 'permissions',
    run: (s) =>
      hasPermissions(s.user!.permissions, permissions)
        ? undefined
        : reject(403, 'permission_denied'),
  }

  const checks: ConnectStep[] = []
  if (config.authorizeChannel) {
    const authorize = config.authorizeChannel
    checks.push({
      name: 'channel-authorization',
      run: async (s) =>
        s.channel === null || (await authorize(s.user, s.channel))
          ? undefined
          : reject(403, 'channel_forbidden'),
    })
  }

  for (const [i, check] of config.connectChecks.entries()) {
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

  // What a user must pass (the token's user, or nobody's when the app takes no token).
  const userChecks: ConnectStep[] = config.useToken
    ? [userStep, permissionsStep, ...checks]
    : checks
  const runChecks = async (s: ConnectState): Promise<Refusal | undefined> => {
    for (const step of userChecks) {
      const rejection = await step.run(s)
      if (rejection) return { check: step.name, rejection }
    }
    return undefined
  }

  return (event) =>
    guard(config.logger, 'connect', event, async () => {
      // A revocation or kick during this $connect moves the epoch; then the session is not
      // kept in memory (its first message reads the store, which has the revocation).
      const epoch = cache.epoch
      const state: ConnectState = {
        event,
        identity: null,
        tokenInProtocol: false,
        channel: null,
        recovery: undefined,
        userId: null,
        user: null,
      }
      // A store call that fails may still have written (a timeout is no rollback): undo it.
      const abandonOnFailure = async <T>(write: () => Promise<T>): Promise<T> => {
        try {
          return await write()
        } catch (err) {
          void abandonConnect(
            { store, clock: config.clock, logger: config.logger },
            event.connectionId,
          )
          throw err
        }
      }
      const refuse = ({ check, rejection }: Refusal): GatewayResponse => {
        // A connect refused for the signed request alone leaves no trace in the replay cache:
        // anonymous floods of refused connects cannot fill it, and a replay of this call is
        // only refused again. A refusal that can clear with time (rate, the user's checks,
        // which leave the token unburnt) keeps the signature, or its replay would pass later.
        if (RELEASABLE_CHECKS.has(check)) authenticity.release(event)
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
        if (telemetry.hasSubscribers) {
          publish({
            type: 'app_connect',
            outcome: 'refused',
            status: rejection.status,
            reason: rejection.reason,
            check,
          })
        }
        return toResponse(rejection)
      }
      for (const step of steps) {
        const rejection = await step.run(state)
        if (rejection) return refuse({ check: step.name, rejection })
      }
      const connection = {
        connectionId: event.connectionId,
        channel: state.channel,
        connectedAt: event.connectedAt,
      }
      let row: NewSession
      if (config.useToken && !config.identifyAuthenticates) {
        const outcome = await abandonOnFailure(() =>
          connectWithToken(tokenUse, {
            token: readToken(state),
            sessionId: state.identity?.sessionId,
            userId: state.identity?.userId,
            connection,
            admit: (userId) => {
              state.userId = userId
              return runChecks(state)
            },
          }),
        )
        if (!outcome.ok) {
          if ('refused' in outcome) return refuse(outcome.refused)
          // What the client controls failed: charge its IP. A revoked token was genuine.
          if (outcome.reason !== 'token_revoked') {
            await store.hit([failureKey(event.sourceIp)], config.clock.now())
          }
          // A revoked token is found at the session write; every other failure at the token.
          const check = outcome.reason === 'token_revoked' ? 'session' : 'token'
          return refuse({ check, rejection: reject(401, outcome.reason) })
        }
        row = outcome.session
      } else if (config.identifyAuthenticates) {
        // `identify` itself authenticated the user (e.g. a verified bearer JWT): no token.
        const userId = state.identity?.userId
        if (!nonEmpty(userId))
          return refuse({ check: 'user', rejection: reject(401, 'user_unknown') })
        state.userId = userId
        const refused = await runChecks(state)
        if (refused) return refuse(refused)
        const sessionId = state.identity?.sessionId
        row = {
          ...connection,
          userId,
          sessionHash: nonEmpty(sessionId) ? hashSessionId(sessionId) : null,
        }
        // No token to consume, so, as for an anonymous app, the replay cache stops a replay.
        const replayed = await authenticity.claimShared(event)
        if (replayed) return refuse({ check: 'gateway', rejection: replayed })
        await abandonOnFailure(() => store.createSession(row))
      } else {
        // An anonymous app: no token, no user, nothing to guard the write with.
        const refused = await runChecks(state)
        if (refused) return refuse(refused)
        const sessionId = state.identity?.sessionId
        row = {
          ...connection,
          userId: null,
          sessionHash: nonEmpty(sessionId) ? hashSessionId(sessionId) : null,
        }
        // Without a token nothing else stops a replay of this call to another process.
        const replayed = await authenticity.claimShared(event)
        if (replayed) return refuse({ check: 'gateway', rejection: replayed })
        await abandonOnFailure(() => store.createSession(row))
      }
      // Built here rather than read back after the write: every field is known.
      const session: SessionRecord = {
        ...row,
        connected: true,
        requestCount: 0,
        lastSeenAt: row.connectedAt,
        disconnectedAt: null,
      }
      roster.add(event.connectionId, { userId: session.userId, sessionHash: session.sessionHash })
      if (state.recovery !== undefined && session.channel !== null) {
        recovery?.note(event.connectionId, state.recovery)
      }
      cache.fill(session, state.user, epoch, config.clock.now())
      config.logger.info(
        {
          event: 'connected',
          connectionId: event.connectionId,
          userId: session.userId,
          channel: session.channel,
        },
        'connected',
      )
      if (telemetry.hasSubscribers) publish(FIXED_EVENTS.appAccepted)
      if (config.onConnect) {
        try {
          await config.onConnect({ event, user: state.user, session, send })
        } catch (err) {
          config.logger.error(
            { event: 'hook_failed', hook: 'onConnect', err },
            'onConnect hook threw',
          )
        }
      }
      if (session.channel !== null) {
        await firePresence(config.onPresence, { logger: config.logger, send, store }, [
          {
            type: 'join',
            channel: session.channel,
            userId: session.userId,
            connectionId: session.connectionId,
            cause: 'connect',
          },
        ])
      }
      return state.tokenInProtocol || readProtocols(event.headers['sec-websocket-protocol']).offered
        ? { status: 200, headers: { 'sec-websocket-protocol': DEFAULTS.appProtocol } }
        : { status: 200 }
    })
}
