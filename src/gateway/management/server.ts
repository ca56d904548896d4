/**
 * @module gateway/management/server
 * The bundled gateway's `@connections` management API, wire-compatible with AWS API Gateway's:
 * `POST|GET|DELETE /{stage}/@connections/{id}` with AWS's statuses and `x-amzn-ErrorType`
 * errors, optional SigV4 (service `execute-api`), optional throttling, and one extension,
 * fan-out: `POST /{stage}/@connections` with `x-gatehouse-fanout: 1` pushes one message to many
 * connections in one call (see `push/fanout-wire.ts` and docs/gateway.md).
 *
 * Order of work per request, cheapest refusal first: peer address (unauthenticated mode:
 * loopback only), `Host` allow-list and browser origin (`Origin` not allowed, or
 * `Sec-Fetch-Site` cross-site/same-site) (403) → path and method (403) → unsigned POST body
 * type (`application/json` or `application/octet-stream`, else 415) → SigV4 headers
 * (403) → signature over a signed payload hash, before reading the body (403) → body within
 * its limit (413, the rest is never read) → body hash, or the signature over it (403) → the
 * call. The throttle (429) charges only authenticated calls, as soon as the caller is known:
 * after the signature when the payload hash was signed (so a throttled body is never read),
 * after the body otherwise. Refused requests never spend tokens, so unauthenticated traffic
 * cannot starve the real pushes.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto'
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Clock, systemClock } from '../../clock.ts'
import { DEFAULTS } from '../../defaults.ts'
import { GatehouseError, isGatehouseError } from '../../errors.ts'
import { createTokenBucket, type TokenBucket } from '../../limits/token-bucket.ts'
import { type Logger, silentLogger } from '../../logger.ts'
import type { Connections } from '../../push/connections.ts'
import {
  decodeFanout,
  FANOUT_HEADER,
  FANOUT_MAX_IDS,
  fanoutBodyLimit,
} from '../../push/fanout-wire.ts'
import type { SigV4Credentials } from '../../push/sigv4.ts'
import { publish, telemetry } from '../../telemetry.ts'
import { positiveInt } from '../../util/options.ts'
import {
  createHostCheck,
  createOriginCheck,
  isLoopbackAddress,
  isUnsignedBodyType,
} from './access.ts'
import { readBodyLimited } from './body.ts'
import { replyEmpty, replyError, replyJson } from './replies.ts'
import { parseManagementPath, splitTarget } from './route.ts'
import { createSigV4Verifier, type SigV4Verifier } from './sigv4-verify.ts'

/** Throttling of the management API: a steady rate and a burst, in requests. */
export interface ManagementRateLimit {
  /** Requests per second refilled. */
  readonly requestsPerSecond: number
  /** Requests allowed at once from a full bucket. Default: `requestsPerSecond`. */
  readonly burst?: number
}

/** Options of {@link createManagementServer} and {@link createManagementHandler}. */
export interface ManagementServerOptions {
  /** What the API acts on: the gateway's live connections. */
  readonly connections: Connections
  /** The stage in the path, `/{stage}/@connections/…`. */
  readonly stage: string
  /** Listen address. Default `127.0.0.1`; a non-loopback address requires `credentials`. */
  readonly host?: string
  /** Listen port; 0 picks a free one. Default 0. */
  readonly port?: number
  /**
   * Require SigV4 signed by one of these key pairs. Required unless `allowUnauthenticated`
   * is set: the API can push to, read and close every connection.
   */
  readonly credentials?: readonly SigV4Credentials[]
  /**
   * Serve unsigned calls, from loopback peers only (127.0.0.0/8, ::1, ::ffff:127.x): others
   * get 403 whatever socket the handler is mounted on. Must be said explicitly; conflicts
   * with `credentials`. Behind a proxy on the same machine every peer is loopback: use
   * `credentials` there.
   */
  readonly allowUnauthenticated?: boolean
  /**
   * `Host` header names accepted (names or address literals, no port), against DNS
   * rebinding; any other `Host` gets 403. Default: `localhost`, loopback addresses and the
   * address the request arrived on. List your DNS name here to call the API by name.
   */
  readonly allowedHosts?: readonly string[]
  /**
   * Browser origins (`scheme://host[:port]`) allowed to call the API, e.g. an admin page.
   * Default none: a request with any `Origin`, or with `Sec-Fetch-Site: cross-site` or
   * `same-site`, gets 403, signed or not — a page on another site must never push, read or
   * close connections (a cross-site `text/plain` POST needs no preflight).
   */
  readonly allowedOrigins?: readonly string[]
  /** The region signatures must be scoped to; any region when absent. */
  readonly region?: string
  /** Accepted distance of `x-amz-date` from now. Default 300 000 (5 min, as AWS). */
  readonly maxSkewMs?: number
  /** Largest `Data` of a POST. Default 131 072 (AWS). */
  readonly maxPayloadBytes?: number
  /** Most ids one fan-out call may list. Default 10 000. */
  readonly maxFanoutIds?: number
  /**
   * Throttle authenticated calls (429 `LimitExceededException`); off when absent. Requests
   * refused for their path, method or signature spend no tokens.
   */
  readonly rateLimit?: ManagementRateLimit
  /**
   * Serve `GET /metrics` from this source (the `gatehouse/metrics` exporter): to loopback
   * peers without SigV4 (a plain scraper), to other peers only with `metricsBearerToken`.
   * Absent: `/metrics` is forbidden like any other path.
   */
  readonly metrics?: MetricsSource
  /**
   * A bearer token (at least 16 characters) that lets non-loopback peers read `/metrics`
   * (`Authorization: Bearer <token>`). Absent: loopback peers only.
   */
  readonly metricsBearerToken?: string
  readonly clock?: Clock
  readonly logger?: Logger
}

/**
 * Where `/metrics` comes from: the text exposition and its content type. The
 * `gatehouse/metrics` exporter satisfies it.
 *
 * @example
 * ```ts
 * const metrics = await createMetrics()
 * createManagementServer({ connections, stage: 'production', allowUnauthenticated: true, metrics })
 * ```
 */
export interface MetricsSource {
  readonly contentType: string
  render(): Promise<string>
}

/** A running (or ready to run) management server. */
export interface ManagementServer {
  /** Start listening; `url` is the endpoint to give clients, stage included. */
  listen(): Promise<{ url: string; port: number }>
  /** Stop accepting and drop open keep-alive sockets. */
  close(): Promise<void>
  readonly server: Server
}

const STAGE = /^[A-Za-z0-9_-]{1,128}$/

/**
 * The request listener of the management API, for mounting on a server of your own.
 * `ready` resolves once the SigV4 signer is loaded (immediately without credentials).
 * Needs `credentials`, or `allowUnauthenticated: true` to serve loopback peers unsigned.
 *
 * @example
 * ```ts
 * const { listener, ready } = createManagementHandler({ connections, stage: 'production', credentials })
 * await ready
 * gateway.mount((req) => req.url?.startsWith('/production/@connections') ?? false, listener)
 * ```
 */
export function createManagementHandler(options: Omit<ManagementServerOptions, 'host' | 'port'>): {
  listener: RequestListener
  ready: Promise<void>
} {
  const { connections, stage } = options
  if (!STAGE.test(stage)) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'stage must match ^[A-Za-z0-9_-]{1,128}$.')
  }
  if (options.credentials !== undefined && options.allowUnauthenticated === true) {
    throw new GatehouseError(
      'ERR_OPTION_CONFLICT',
      'Give the management API either credentials or allowUnauthenticated, not both.',
    )
  }
  if (options.credentials === undefined && options.allowUnauthenticated !== true) {
    // Push, inspect and close are capabilities over every user's socket: unsigned access is
    // never a default.
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      'The management API needs credentials, or allowUnauthenticated: true (loopback peers only).',
    )
  }
  const loopbackOnly = options.credentials === undefined
  const hostAllowed = createHostCheck(options.allowedHosts)
  const originAllowed = createOriginCheck(options.allowedOrigins)
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? silentLogger
  const maxPayloadBytes = positiveInt(
    'maxPayloadBytes',
    options.maxPayloadBytes ?? DEFAULTS.maxOutboundBytes,
  )
  const maxFanoutIds = positiveInt('maxFanoutIds', options.maxFanoutIds ?? FANOUT_MAX_IDS)
  const bucket = options.rateLimit ? rateLimitBucket(options.rateLimit, clock) : undefined
  const verifier: SigV4Verifier | undefined = options.credentials
    ? createSigV4Verifier({
        credentials: options.credentials,
        clock,
        ...(options.region !== undefined ? { region: options.region } : {}),
        ...(options.maxSkewMs !== undefined ? { maxSkewMs: options.maxSkewMs } : {}),
      })
    : undefined
  const metrics = options.metrics
  const metricsAuth = metricsBearer(options.metricsBearerToken)
  const ready = verifier ? verifier.ready() : Promise.resolve()
  // Callers that never await `ready` still see the load error on first use, not unhandled.
  ready.catch(() => {})

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID()
    res.setHeader('x-amzn-RequestId', requestId)
    const [rawPath, rawQuery] = splitTarget(req.url ?? '/')
    const method = req.method ?? ''
    const forbidden = (reason: string): void => {
      logger.info({ event: 'management_forbidden', reason, method, requestId }, 'forbidden')
      replyError(req, res, 403, 'ForbiddenException', 'Forbidden')
    }

    // A scraper is not a management client: its own rule (loopback, or the bearer token),
    // the same Host check, and never a browser's cross-site request.
    if (metrics !== undefined && rawPath === '/metrics') {
      if (method !== 'GET' && method !== 'HEAD') return forbidden('method')
      if (!hostAllowed(req)) return forbidden('host')
      const site = req.headers['sec-fetch-site']
      if (req.headers.origin !== undefined || (site !== undefined && site !== 'none')) {
        return forbidden('cross_site')
      }
      if (!isLoopbackAddress(req.socket.remoteAddress) && !metricsAuth(req)) {
        return forbidden('metrics_auth')
      }
      const text = await metrics.render()
      res.writeHead(200, {
        'content-type': metrics.contentType,
        'content-length': Buffer.byteLength(text),
        'cache-control': 'no-store',
      })
      res.end(method === 'HEAD' ? undefined : text)
      return
    }

    // Who may talk to the API at all comes first, before any other answer.
    if (loopbackOnly && !isLoopbackAddress(req.socket.remoteAddress)) {
      return forbidden('remote_address')
    }
    if (!hostAllowed(req)) return forbidden('host')
    if (!originAllowed(req)) return forbidden('origin')

    if (rawPath === '/healthz' && (method === 'GET' || method === 'HEAD')) {
      replyJson(req, res, 200, { status: 'ok' })
      return
    }
    const route = parseManagementPath(rawPath, stage)
    if (route.kind === 'forbidden') return forbidden('path')
    if (
      route.kind === 'connection' &&
      method !== 'POST' &&
      method !== 'GET' &&
      method !== 'DELETE'
    ) {
      return forbidden('method')
    }
    if (route.kind === 'fanout' && (method !== 'POST' || req.headers[FANOUT_HEADER] !== '1')) {
      return forbidden('method')
    }

    if (!verifier && method === 'POST' && !isUnsignedBodyType(req)) {
      // Unsigned, the body type is the last guard against a browser that sent no Origin.
      logger.info(
        { event: 'management_refused', status: 415, detail: 'content_type', requestId },
        'refused',
      )
      replyError(
        req,
        res,
        415,
        'UnsupportedMediaTypeException',
        'Unsigned calls send Content-Type application/json or application/octet-stream.',
      )
      return
    }

    // Spend a token once the caller is authenticated; false means 429 has been sent.
    const admitted = (): boolean => {
      if (!bucket || bucket.take(clock.now())) return true
      if (telemetry.hasSubscribers) publish({ type: 'rate_limited', kind: 'management' })
      replyError(req, res, 429, 'LimitExceededException', 'Rate exceeded')
      return false
    }

    let pre: ReturnType<SigV4Verifier['precheck']> | undefined
    if (verifier) {
      await ready
      pre = verifier.precheck(req, rawPath, rawQuery)
      if (!pre.ok) return forbidden(`sigv4_${pre.reason}`)
      if (pre.value.payloadHash !== undefined) {
        const failure = await verifier.verify(pre.value, undefined)
        if (failure) return forbidden(`sigv4_${failure}`)
        if (!admitted()) return
      }
    } else if (!admitted()) {
      return
    }

    const limit =
      route.kind === 'fanout' ? fanoutBodyLimit(maxPayloadBytes, maxFanoutIds) : maxPayloadBytes
    const read = await readBodyLimited(req, limit)
    if (!read.ok) {
      if (read.reason === 'aborted') return
      replyError(req, res, 413, 'PayloadTooLargeException', tooLarge(maxPayloadBytes))
      return
    }
    const body = read.body

    if (verifier && pre?.ok) {
      // A signature already verified over the signed hash needs only the body compared to it.
      const failure =
        pre.value.payloadHash !== undefined
          ? verifier.checkPayload(pre.value, body)
          : await verifier.verify(pre.value, body)
      if (failure) return forbidden(`sigv4_${failure}`)
      if (pre.value.payloadHash === undefined && !admitted()) return
    }

    if (route.kind === 'fanout') return fanout(req, res, body)

    const { id, idValid } = route
    if (!idValid) {
      replyError(req, res, 410, 'GoneException')
      return
    }
    if (method === 'POST') {
      if (await connections.post(id, body)) replyEmpty(req, res, 200)
      else replyError(req, res, 410, 'GoneException')
    } else if (method === 'DELETE') {
      if (await connections.delete(id)) replyEmpty(req, res, 204)
      else replyError(req, res, 410, 'GoneException')
    } else {
      const info = await connections.get(id)
      if (!info) {
        replyError(req, res, 410, 'GoneException')
        return
      }
      replyJson(req, res, 200, {
        connectedAt: new Date(info.connectedAt).toISOString(),
        identity: { sourceIp: info.sourceIp, userAgent: info.userAgent },
        lastActiveAt: new Date(info.lastActiveAt).toISOString(),
      })
    }
  }

  async function fanout(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const decoded = decodeFanout(body)
    if (!decoded) {
      replyError(req, res, 400, 'BadRequestException', 'Fan-out body needs a line of ids.')
      return
    }
    if (decoded.data.byteLength > maxPayloadBytes) {
      replyError(req, res, 413, 'PayloadTooLargeException', tooLarge(maxPayloadBytes))
      return
    }
    if (decoded.ids.length > maxFanoutIds) {
      replyError(
        req,
        res,
        413,
        'PayloadTooLargeException',
        `A fan-out call lists at most ${maxFanoutIds} connection ids.`,
      )
      return
    }
    const valid = new Set<string>()
    const gone: string[] = []
    for (const id of decoded.ids) {
      if (DEFAULTS.connectionIdPattern.test(id)) valid.add(id)
      else gone.push(id)
    }
    const result = valid.size > 0 ? await connections.postMany([...valid], decoded.data) : undefined
    replyJson(req, res, 200, {
      sent: result?.sent ?? 0,
      gone: result ? [...gone, ...result.gone] : gone,
    })
  }

  const listener: RequestListener = (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (isGatehouseError(err, 'ERR_MESSAGE_TOO_LARGE')) {
        if (!res.headersSent) {
          replyError(req, res, 413, 'PayloadTooLargeException', tooLarge(maxPayloadBytes))
        }
        return
      }
      if (isGatehouseError(err, 'ERR_CLUSTER_UNAVAILABLE')) {
        // The owning node could not be reached: the connection may well be alive, so never
        // Gone; a 5xx the caller may retry.
        logger.warn({ event: 'management_unavailable', err }, 'cluster node unreachable')
        if (!res.headersSent) {
          replyError(req, res, 503, 'ServiceUnavailableException', 'Service Unavailable')
        }
        return
      }
      logger.error({ event: 'management_error', err }, 'management call failed')
      if (!res.headersSent) {
        replyError(req, res, 500, 'InternalServerErrorException', 'Internal server error')
      } else {
        res.destroy()
      }
    })
  }
  return { listener, ready }
}

/** The gateway's token bucket, after checking the option (AWS answers 429 past its rate). */
function rateLimitBucket(limit: ManagementRateLimit, clock: Clock): TokenBucket {
  const rate = limit.requestsPerSecond
  const burst = limit.burst ?? rate
  if (!(rate > 0) || !Number.isFinite(rate) || !(burst >= 1) || !Number.isFinite(burst)) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      'rateLimit needs requestsPerSecond > 0 and burst >= 1.',
    )
  }
  return createTokenBucket(burst, rate, clock.now())
}

/** The bearer check of `/metrics` for non-loopback peers; always false without a token. */
function metricsBearer(token: string | undefined): (req: IncomingMessage) => boolean {
  if (token === undefined) return () => false
  if (typeof token !== 'string' || token.length < 16) {
    throw new GatehouseError(
      'ERR_INVALID_OPTION',
      'metricsBearerToken must be a string of at least 16 characters.',
    )
  }
  const expected = createHash('sha256').update(token).digest()
  return (req) => {
    const header = req.headers.authorization
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false
    // Compared as digests: equal lengths, and no timing signal about the token.
    const given = createHash('sha256').update(header.slice(7)).digest()
    return timingSafeEqual(given, expected)
  }
}

function tooLarge(max: number): string {
  return `Request payload exceeds the ${max} byte limit.`
}

/**
 * Create the `@connections` management API server (not yet listening). Without
 * `credentials` it must be told `allowUnauthenticated: true` and stay on a loopback `host`.
 *
 * @example
 * ```ts
 * const management = createManagementServer({
 *   connections: gateway.connections,
 *   stage: 'production',
 *   port: 3002,
 *   allowUnauthenticated: true, // loopback only; pass credentials to require SigV4 instead
 * })
 * const { url } = await management.listen() // 'http://127.0.0.1:3002/production'
 * // later
 * await management.close()
 * ```
 */
export function createManagementServer(options: ManagementServerOptions): ManagementServer {
  const host = options.host ?? '127.0.0.1'
  const port = options.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'port must be an integer from 0 to 65535.')
  }
  if (host !== 'localhost' && !isLoopbackAddress(host) && !options.credentials) {
    // Push, inspect and close are capabilities over every user's socket: never unauthenticated
    // beyond this machine.
    throw new GatehouseError(
      'ERR_OPTION_CONFLICT',
      `The management API listens on ${host}, beyond loopback, without credentials; add credentials or use 127.0.0.1.`,
    )
  }
  const { listener, ready } = createManagementHandler(options)
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, listener)

  return {
    server,
    async listen() {
      await ready
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          resolve()
        })
      })
      const bound = (server.address() as AddressInfo).port
      const shownHost = host.includes(':') ? `[${host}]` : host
      return { url: `http://${shownHost}:${bound}/${options.stage}`, port: bound }
    },
    close() {
      return new Promise<void>((resolve) => {
        if (!server.listening) {
          resolve()
          return
        }
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}
