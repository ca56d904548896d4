/**
 * @module defaults
 * Every default Gatehouse uses, in one table. Values follow AWS API Gateway WebSocket quotas
 * where AWS has one, so an app tested locally behaves the same in production.
 * Each name carries its unit. Override any of them through the options of the part that uses it.
 */

/**
 * The defaults table.
 *
 * @example
 * ```ts
 * import { DEFAULTS } from 'gatehouse'
 * console.log(DEFAULTS.tokenTtlMs) // 60000
 * ```
 */
export const DEFAULTS = Object.freeze({
  /**
   * The app's id, the audience of the tokens it issues: an app accepts only tokens issued
   * under its own id. Apps side by side on one store need distinct ids.
   */
  appId: 'default',
  /** How long an issued WebSocket token stays valid. */
  tokenTtlMs: 60_000,
  /** Tokens one user may be issued per window. */
  tokenIssueLimit: 20,
  tokenIssueWindowMs: 60_000,
  /**
   * Failed token attempts (missing, malformed, unknown, used, expired, another session's)
   * per client IP per window. Honest connects never count, so any number of users can share
   * one IP (an office, a carrier NAT); once spent, that IP's `$connect`s answer 429 before a
   * token is looked at. Refusals for Origin, Host, headers or channel never count.
   */
  connectFailureLimitPerIp: 20,
  /**
   * `$connect` attempts per client IP per window of an anonymous app (`useToken: false`),
   * where every connect counts since nothing can fail. Room for 100 users behind one IP
   * connecting twice a minute.
   */
  connectLimitPerIp: 200,
  /**
   * `$connect` attempts per user per window (the user `identify` names), counted after the
   * checks that spend nothing. The token endpoint answers 429 with `Retry-After` while this
   * budget is spent, which a browser can read (it cannot read a refused upgrade's status).
   */
  connectLimitPerUser: 20,
  connectWindowMs: 60_000,
  /** Largest inbound message (AWS: 128 KB). */
  maxMessageBytes: 131_072,
  /** Largest single inbound frame (AWS: 32 KB). */
  maxFrameBytes: 32_768,
  /** Largest outbound message (AWS `PostToConnection` Data). */
  maxOutboundBytes: 131_072,
  /** Largest request body a framework adapter reads (`gatehouse/node`, `/express`, `/fastify`). */
  maxAdapterBodyBytes: 1_048_576,
  /** Close after this long without a data frame in either direction (AWS: 10 min). */
  idleTimeoutMs: 600_000,
  /** Hard connection lifetime (AWS: 2 h). */
  maxConnectionMs: 7_200_000,
  /** Integration call timeout (AWS maximum: 29 s). */
  integrationTimeoutMs: 29_000,
  /** Accepted skew of a signed gateway call's timestamp. */
  signatureWindowMs: 30_000,
  /** Signed calls the app's replay cache remembers at once (full: the oldest is forgotten). */
  replayCacheSize: 100_000,
  /** Of those, at most this many from one client IP (IPv6 per /64). */
  replayCachePerSource: 10_000,
  /**
   * Every this many `claimNonce` calls, a SQL store also deletes expired nonce rows (at most
   * `nonceSweepBatch`), so the table stays bounded without a cleanup job.
   */
  nonceSweepEveryClaims: 100,
  /** Expired nonce rows one sweep deletes at most (more than the claims between sweeps). */
  nonceSweepBatch: 500,
  /**
   * Every this many `appendHistory` calls, a SQL store also deletes history rows past their
   * age in EVERY channel (at most `historySweepBatch`): an append trims only its own channel,
   * so a channel that fell silent would otherwise keep its last messages for good.
   */
  historySweepEveryAppends: 256,
  /** History rows one sweep deletes at most. */
  historySweepBatch: 1_000,
  /** Channel names: letters, digits, `_` and `-`, 1 to 128 characters. */
  channelPattern: /^[A-Za-z0-9_-]{1,128}$/,
  /** Connection ids as AWS issues them (URL-safe base64 plus `=`). */
  connectionIdPattern: /^[A-Za-z0-9_=-]{1,128}$/,
  /** Handler names the registry accepts. */
  handlerNamePattern: /^[A-Za-z][A-Za-z0-9_]{0,63}$/,
  /** Deepest JSON nesting accepted in a message body. */
  maxJsonDepth: 32,
  /** The body key that names the handler; `handler` is accepted too (upstream compatible). */
  actionKey: 'action',
  /**
   * The body key of a request id (`client.request()`): the app echoes it in its reply
   * envelope, `{"type":"reply","rid":…,"data":…}`, and in its error replies. Ids match
   * `requestIdPattern`; any other value is ignored (a plain message).
   */
  requestIdKey: 'rid',
  requestIdPattern: /^[A-Za-z0-9_-]{1,64}$/,
  /** Query parameter carrying the WebSocket token (AWS and upstream compatible). */
  tokenQueryParam: 'ws_token',
  /** `Sec-WebSocket-Protocol` entry prefix carrying the token instead of the query string. */
  tokenProtocolPrefix: 'gatehouse.token.',
  /** The subprotocol echoed when the token travelled as a protocol entry. */
  appProtocol: 'gatehouse.v1',
  /** Query parameter naming the channel at connect. */
  channelQueryParam: 'channel',
  /** Largest body a token request may declare (it needs none): over it, 413. */
  tokenRequestMaxBodyBytes: 1_024,
  /** Cookie and header names of the CSRF double submit. */
  csrfCookieName: 'csrftoken',
  csrfHeaderName: 'x-csrftoken',
  /**
   * The token endpoint refuses `Sec-Fetch-Site: same-site` unless told otherwise: sibling
   * subdomains are same-site, and are exactly the attacker a CSRF check keeps out.
   */
  allowSameSite: false,
  /**
   * A push answered Gone does not end a session that connected less than this long ago: a
   * push racing a handshake is answered Gone (AWS does the same) although the socket is about
   * to open. Covers the longest `$connect` (the integration timeout). `$disconnect` and
   * cleanup still end sessions that really are gone.
   */
  goneGraceMs: 30_000,
  /** Tries of each store step of a revocation (tokens, listed sockets) before it reports failure. */
  revokeAttempts: 3,
  /** Pause before the second try of a revocation step; the third waits twice as long. */
  revokeRetryDelayMs: 100,
  /**
   * How long a message may trust the session and user kept in memory since its `$connect`
   * (or its last store read) before reading the store again. Bounds how long a revocation
   * made by another process of the app, or a user deactivated without `revokeUser`, can go
   * unseen by this one; `revokeUser` in this process is seen at once. 0 reads every time.
   */
  sessionCacheTtlMs: 2_000,
  /**
   * Channel history (`send.toChannel(channel, message, { history: true })`): the messages a
   * channel keeps for clients that reconnect, by count and by age (app option `history`).
   */
  historySize: 100,
  historyTtlMs: 300_000,
  /**
   * Query parameters of a reconnecting client: the last offset and epoch it saw of its
   * channel's history. `since` is 0 to 15 digits, `epoch` matches `historyEpochPattern`.
   */
  historySinceQueryParam: 'since',
  historyEpochQueryParam: 'epoch',
  historySincePattern: /^(0|[1-9][0-9]{0,14})$/,
  historyEpochPattern: /^[A-Za-z0-9_-]{1,32}$/,
  /**
   * The action a reconnected client sends first to receive what it missed (answered by the
   * app itself, never by a handler); the app then pushes the missed messages and a
   * `{"type":"recovered",…}` notice. Pushed after `$connect`, so it works behind AWS too.
   */
  historyRecoverAction: '$recover',
  /** A reconnect request kept between its `$connect` and its `$recover`, at most this long. */
  historyRecoverWindowMs: 60_000,
  /** Connections an app keeps in its session cache; past it the oldest entry goes. */
  sessionCacheMaxEntries: 100_000,
  /** How often an app writes request counts and last-seen times (one batch per flush). */
  activityFlushMs: 1_000,
  /**
   * How long a token's row outlives its expiry on stores that expire rows by themselves
   * (Redis TTLs): a token row lives its own TTL plus this, so by default 60 s + 240 s, the
   * 300 s token age `gatehouse cleanup` uses. The grace keeps a used token's row for the
   * session write it guards and for revocation lookups.
   */
  tokenRetentionGraceMs: 240_000,
  /**
   * How long a disconnected session stays readable (Redis TTL; `gatehouse cleanup`'s default
   * session age is the same 24 h).
   */
  disconnectedSessionRetentionMs: 86_400_000,
  /**
   * The longest a connected session's row lives on Redis without a `$disconnect`: the hard
   * connection lifetime (2 h) plus the integration timeout and a minute of clock slack, so a
   * missed `$disconnect` cannot keep a row forever. Raise it with the gateway's
   * `maxConnectionMs` when that is raised.
   */
  connectedSessionRetentionMs: 7_289_000,
  /** Concurrency of pushes through the AWS Management API. */
  pushConcurrency: 16,
  /**
   * After a throttled push (429 `LimitExceededException`), pushes through the AWS Management
   * API pause this long, doubling on each further throttle up to the max; a success resets it.
   */
  pushThrottleBackoffMs: 100,
  pushThrottleBackoffMaxMs: 5_000,
  /**
   * Stage throttling `gatehouse aws` provisions (every route): steady requests per second and
   * burst. Well under the account quota (10 000/s, burst 5 000), so one API cannot starve
   * the others of the account.
   */
  awsThrottlingRateLimitPerSecond: 1_000,
  awsThrottlingBurstLimit: 500,
  /** Outbound bytes buffered for a slow reader before its socket is closed (1008). */
  maxBufferedBytes: 1_048_576,
  /** Inbound message rate per connection: burst and refill per second. */
  messageBurst: 20,
  messagesPerSecond: 10,
  /** Server pings for liveness; a peer that misses a pong is terminated. */
  pingIntervalMs: 30_000,
  pongTimeoutMs: 10_000,
  /** Handshake limits of the bundled gateway. */
  headersTimeoutMs: 10_000,
  maxPendingHandshakes: 256,
  maxPendingHandshakesPerIp: 16,
  maxConnections: 100_000,
  maxConnectionsPerIp: 1_000,
  /**
   * Upgrade attempts per client IP (IPv6 per /64) at the gateway, before `$connect`: a burst
   * for NAT (hundreds of users behind one address reconnecting after a restart), then a
   * steady rate per second.
   */
  upgradeBurstPerIp: 300,
  upgradesPerSecondPerIp: 10,
  /** Where the bundled gateway listens by default (loopback; port 0 picks a free port). */
  gatewayHost: '127.0.0.1',
  gatewayPort: 0,
  /** The stage in `ws://host/{stage}` and `/{stage}/@connections`. */
  stage: 'production',
  routeSelectionExpression: '$request.body.action',
  /** Node's request timeout must not be shorter than its header timeout. */
  requestTimeoutMs: 15_000,
  /** How often Node checks header/request timeouts (its default, 30 s, is too coarse). */
  connectionsCheckingIntervalMs: 1_000,
  /** The one timer that checks idle, lifetime and heartbeat of every connection. */
  sweepIntervalMs: 1_000,
  /** Integration calls of one connection at a time; 1 keeps its messages in order. */
  maxInFlightPerConnection: 1,
  /** Messages of one connection waiting for an integration slot. */
  maxQueuedMessagesPerConnection: 20,
  /** Fragments of one message (ws's default is 16 384; memory grew with parts, not bytes). */
  maxFragments: 64,
  /** How long a closing handshake may take before the socket is destroyed. */
  closeTimeoutMs: 5_000,
  /** AWS's URL length quota. */
  maxUrlLength: 4_096,
  /** `Retry-After` sent with the gateway's own 429 and 503 answers. */
  retryAfterSeconds: 5,
  /** Key (and channel) prefix of a gateway cluster on Redis. */
  clusterKeyPrefix: 'gatehouse:cluster:',
  /** How often a cluster node renews its slot and looks for dead nodes. */
  clusterHeartbeatIntervalMs: 1_000,
  /**
   * A node whose slot was not renewed for this long is dead: a survivor sends the
   * `$disconnect`s it could not. Death is seen within `deadAfterMs` + one heartbeat interval.
   */
  clusterDeadAfterMs: 5_000,
  /** The longest a push, `get` or `delete` routed to another node waits for its answer. */
  clusterRouteTimeoutMs: 2_000,
  /** Accepted clock distance of a cluster envelope (and how long its id is remembered). */
  clusterEnvelopeWindowMs: 30_000,
  /** The most nodes of one cluster: a connection id names its node's slot in one character. */
  clusterMaxNodes: 64,
  /** AWS's integration timeout range. */
  minIntegrationTimeoutMs: 50,
  maxIntegrationTimeoutMs: 29_000,
} as const)

/** The type of {@link DEFAULTS}. */
export type Defaults = typeof DEFAULTS
