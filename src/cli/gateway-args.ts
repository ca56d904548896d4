/**
 * @module cli/gateway-args
 * The arguments of `gatehouse gateway`, parsed strictly (an unknown or misspelt flag is an
 * error, never ignored) into gateway and management options. Pure: no sockets, no exit.
 */
import { createHmac } from 'node:crypto'
import { parseArgs } from 'node:util'
import type { ClusterOptions } from '../gateway/cluster/options.ts'
import type { Integration } from '../gateway/integration.ts'
import type { SigV4Credentials } from '../push/sigv4.ts'

/** The help text of `gatehouse gateway`. */
export const GATEWAY_USAGE = `Usage: gatehouse gateway --integration <base-url> [options]

Run the bundled WebSocket gateway in front of an HTTP backend, the way API Gateway's HTTP
integrations call it: $connect, $disconnect and $default are POSTed to <base-url>connect,
<base-url>disconnect and <base-url>default.

Options:
  --integration <base-url>       backend base URL, e.g. http://127.0.0.1:8000/ws/ (required)
  --route <key>=<url>            a custom route and its URL (repeatable), e.g. chat=http://…/ws/chat
  --port <n>                     WebSocket port (default 3001; 0 picks a free port)
  --management-port <n>          @connections API port on 127.0.0.1 (default 3002; 0 = free port)
  --allow-host <name>            a Host name the @connections API accepts besides localhost,
                                 127.0.0.1 and [::1] (repeatable), e.g. behind a local TLS proxy
  --host <address>               WebSocket listen address (default 127.0.0.1)
  --trusted-proxy <ip|cidr>      a proxy in front (e.g. a load balancer) whose X-Forwarded-For is
                                 believed (repeatable), e.g. 10.0.0.0/8; default none
  --trusted-hops <n>             how many trusted proxies stand in front (default 1)
  --stage <name>                 stage in ws://host:port/<stage> and /<stage>/@connections (default production)
  --api-id <id>                  API id sent as X-Amzn-Apigateway-Api-Id (default: random, like AWS)
  --secret <hmac-secret>         sign every integration request (HMAC, at least 16 characters);
                                 or set GATEHOUSE_SECRET
  --aws-access-key-id <id>       require SigV4 on the @connections API with this key pair;
  --aws-secret-access-key <key>  or set GATEHOUSE_AWS_ACCESS_KEY_ID / GATEHOUSE_AWS_SECRET_ACCESS_KEY.
                                 Without a key pair the API is unsigned and answers only callers
                                 on this machine that address it as localhost or 127.0.0.1
  --two-way                      message routes send the backend's response body back to the client
  --metrics                      serve Prometheus metrics at GET /metrics on the management port
                                 (needs the optional package prom-client)
  --cluster <redis-url>          run as one node of a cluster over Redis, e.g. redis://127.0.0.1:6379:
                                 any node's @connections API reaches every node's sockets
  --node-id <id>                 this node's name in the cluster, 1-64 of [A-Za-z0-9_.-] (with --cluster)
  --cluster-secret <secret>      signs what nodes send each other (at least 16 characters, the same
                                 on every node); or set GATEHOUSE_CLUSTER_SECRET. Default: derived
                                 from --secret
  --cluster-key-prefix <prefix>  prefix of the cluster's Redis keys and channels (default gatehouse:cluster:)
  --cluster-heartbeat-ms <n>     slot renewal period (default 1000)
  --cluster-dead-after-ms <n>    a node silent this long is dead (default 5000); its sessions get
                                 their $disconnect from a survivor within this plus one heartbeat
  -h, --help                     show this help

The gateway prints "websocket: <url>" and "management: <url>" once listening (and, with
--cluster, "cluster: node <id> slot <n>" once registered); SIGTERM or SIGINT closes every
socket with 1001, drains in-flight calls and exits 0.
`

/** Everything `gatehouse gateway` needs to start. */
export interface GatewayCliConfig {
  readonly port: number
  readonly managementPort: number
  readonly host: string
  readonly stage: string
  readonly apiId: string | undefined
  readonly routes: Readonly<Record<string, Integration>>
  readonly credentials: readonly SigV4Credentials[] | undefined
  /** `Host` names the management API accepts: the loopback names, then each `--allow-host`. */
  readonly allowedHosts: readonly string[]
  /** The `cluster` option of the gateway, with `--cluster`. */
  readonly cluster: ClusterOptions | undefined
  /** Serve `GET /metrics` on the management listener (`--metrics`). */
  readonly metrics: boolean
  /** Proxies whose `X-Forwarded-For` the gateway believes (`--trusted-proxy`). */
  readonly trustedProxies: readonly string[]
  /** Trusted proxies in front, counted from the right of `X-Forwarded-For` (`--trusted-hops`). */
  readonly trustedHops: number
}

/**
 * The cluster secret derived from the integration secret, under a label of its own: one
 * `--secret` configures both, and the one never stands in for the other.
 *
 * @example
 * ```ts
 * deriveClusterSecret(process.env.GATEHOUSE_SECRET!) // 64 hex characters
 * ```
 */
export function deriveClusterSecret(secret: string): string {
  return createHmac('sha256', secret).update('gatehouse cluster v1').digest('hex')
}

function positive(value: string | undefined, name: string): number | undefined | string {
  if (value === undefined) return undefined
  if (!/^\d{1,9}$/.test(value) || Number(value) === 0) {
    return `--${name} must be a positive integer, got ${JSON.stringify(value)}`
  }
  return Number(value)
}

/** The parse result: run, show help, or a usage error. */
export type GatewayCliParse =
  | { readonly kind: 'run'; readonly config: GatewayCliConfig }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string }

function port(value: string | undefined, fallback: number, name: string): number | string {
  if (value === undefined) return fallback
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65_535) {
    return `--${name} must be a port number from 0 to 65535, got ${JSON.stringify(value)}`
  }
  return Number(value)
}

function httpUrl(value: string, name: string): URL | string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return `${name} must be an absolute http(s) URL, got ${JSON.stringify(value)}`
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `${name} must be an http(s) URL`
  }
  if (url.username !== '' || url.password !== '') {
    return `${name} must not carry credentials; use --secret to sign requests`
  }
  if (url.search !== '' || url.hash !== '') return `${name} must not carry a query or fragment`
  return url
}

/**
 * Parse the arguments that follow `gatehouse gateway`.
 *
 * @example
 * ```ts
 * const parsed = parseGatewayArgs(['--integration', 'http://127.0.0.1:8000/ws/', '--port', '0'], {})
 * if (parsed.kind === 'run') parsed.config.routes.$default // { type: 'http', url: 'http://127.0.0.1:8000/ws/default' }
 * ```
 */
export function parseGatewayArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): GatewayCliParse {
  let values: ClusterFlags & {
    integration?: string | undefined
    route?: string[] | undefined
    port?: string | undefined
    'management-port'?: string | undefined
    'allow-host'?: string[] | undefined
    host?: string | undefined
    'trusted-proxy'?: string[] | undefined
    'trusted-hops'?: string | undefined
    stage?: string | undefined
    'api-id'?: string | undefined
    secret?: string | undefined
    'aws-access-key-id'?: string | undefined
    'aws-secret-access-key'?: string | undefined
    'two-way'?: boolean | undefined
    metrics?: boolean | undefined
    help?: boolean | undefined
  }
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        integration: { type: 'string' },
        route: { type: 'string', multiple: true },
        port: { type: 'string' },
        'management-port': { type: 'string' },
        'allow-host': { type: 'string', multiple: true },
        host: { type: 'string' },
        'trusted-proxy': { type: 'string', multiple: true },
        'trusted-hops': { type: 'string' },
        stage: { type: 'string' },
        'api-id': { type: 'string' },
        secret: { type: 'string' },
        'aws-access-key-id': { type: 'string' },
        'aws-secret-access-key': { type: 'string' },
        'two-way': { type: 'boolean' },
        metrics: { type: 'boolean' },
        cluster: { type: 'string' },
        'node-id': { type: 'string' },
        'cluster-secret': { type: 'string' },
        'cluster-key-prefix': { type: 'string' },
        'cluster-heartbeat-ms': { type: 'string' },
        'cluster-dead-after-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values
  } catch (err) {
    return { kind: 'error', message: (err as Error).message }
  }
  if (values.help) return { kind: 'help' }

  if (values.integration === undefined)
    return { kind: 'error', message: '--integration is required' }
  const base = httpUrl(values.integration, '--integration')
  if (typeof base === 'string') return { kind: 'error', message: base }
  // `…/ws` and `…/ws/` both mean the folder `ws/`: routes are its children.
  if (!base.pathname.endsWith('/')) base.pathname = `${base.pathname}/`

  const wsPort = port(values.port, 3001, 'port')
  if (typeof wsPort === 'string') return { kind: 'error', message: wsPort }
  const managementPort = port(values['management-port'], 3002, 'management-port')
  if (typeof managementPort === 'string') return { kind: 'error', message: managementPort }
  if (wsPort !== 0 && wsPort === managementPort) {
    return { kind: 'error', message: '--port and --management-port must differ' }
  }

  const secret = values.secret ?? env.GATEHOUSE_SECRET
  const twoWay = values['two-way'] === true
  const http = (url: string, messageRoute: boolean): Integration => ({
    type: 'http',
    url,
    ...(secret !== undefined ? { secret } : {}),
    ...(twoWay && messageRoute ? { twoWay: true } : {}),
  })
  const routes: Record<string, Integration> = {
    $connect: http(new URL('connect', base).href, false),
    $disconnect: http(new URL('disconnect', base).href, false),
    $default: http(new URL('default', base).href, true),
  }
  const custom = new Set<string>()
  for (const spec of values.route ?? []) {
    const eq = spec.indexOf('=')
    if (eq <= 0)
      return { kind: 'error', message: `--route must be <key>=<url>, got ${JSON.stringify(spec)}` }
    const key = spec.slice(0, eq)
    if (key.startsWith('$')) {
      return { kind: 'error', message: `--route ${key}: route keys starting with $ are reserved` }
    }
    if (custom.has(key)) return { kind: 'error', message: `--route ${key} is given twice` }
    custom.add(key)
    const url = httpUrl(spec.slice(eq + 1), `--route ${key}`)
    if (typeof url === 'string') return { kind: 'error', message: url }
    routes[key] = http(url.href, true)
  }

  const hops = values['trusted-hops'] ?? '1'
  if (!/^[1-9]\d{0,1}$/.test(hops)) {
    return {
      kind: 'error',
      message: `--trusted-hops must be a number from 1 to 99, got ${JSON.stringify(hops)}`,
    }
  }
  const trustedProxies = values['trusted-proxy'] ?? []
  if (values['trusted-hops'] !== undefined && trustedProxies.length === 0) {
    return { kind: 'error', message: '--trusted-hops needs at least one --trusted-proxy' }
  }

  const accessKeyId = values['aws-access-key-id'] ?? env.GATEHOUSE_AWS_ACCESS_KEY_ID
  const secretAccessKey = values['aws-secret-access-key'] ?? env.GATEHOUSE_AWS_SECRET_ACCESS_KEY
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    return {
      kind: 'error',
      message: '--aws-access-key-id and --aws-secret-access-key go together',
    }
  }

  const cluster = clusterConfig(values, env, secret)
  if (typeof cluster === 'string') return { kind: 'error', message: cluster }

  return {
    kind: 'run',
    config: {
      port: wsPort,
      managementPort,
      host: values.host ?? '127.0.0.1',
      stage: values.stage ?? 'production',
      apiId: values['api-id'],
      routes,
      credentials:
        accessKeyId !== undefined && secretAccessKey !== undefined
          ? [{ accessKeyId, secretAccessKey }]
          : undefined,
      // The API listens on 127.0.0.1 only, so these are the default names plus the extra ones;
      // createManagementServer refuses a malformed name (exit 2).
      allowedHosts: ['localhost', '127.0.0.1', '::1', ...(values['allow-host'] ?? [])],
      cluster,
      metrics: values.metrics === true,
      // createGateway refuses an entry that is not an address or CIDR range (exit 2).
      trustedProxies,
      trustedHops: Number(hops),
    },
  }
}

/** The `--cluster*` flags as `parseArgs` returns them. */
interface ClusterFlags {
  cluster?: string | undefined
  'node-id'?: string | undefined
  'cluster-secret'?: string | undefined
  'cluster-key-prefix'?: string | undefined
  'cluster-heartbeat-ms'?: string | undefined
  'cluster-dead-after-ms'?: string | undefined
}

/** The `cluster` option from the `--cluster*` flags, or the usage error's message. */
function clusterConfig(
  values: ClusterFlags,
  env: Readonly<Record<string, string | undefined>>,
  secret: string | undefined,
): ClusterOptions | undefined | string {
  const url = values.cluster
  if (url === undefined) {
    const stray = (
      [
        'node-id',
        'cluster-secret',
        'cluster-key-prefix',
        'cluster-heartbeat-ms',
        'cluster-dead-after-ms',
      ] as const
    ).find((name) => values[name] !== undefined)
    return stray === undefined ? undefined : `--${stray} needs --cluster`
  }
  const nodeId = values['node-id']
  if (nodeId === undefined) return '--cluster needs --node-id'
  const given = values['cluster-secret'] ?? env.GATEHOUSE_CLUSTER_SECRET
  if (given === undefined && secret === undefined) {
    // Fail closed: nodes never trust each other's envelopes unsigned.
    return '--cluster needs --cluster-secret (or GATEHOUSE_CLUSTER_SECRET), or --secret to derive it from'
  }
  const heartbeat = positive(values['cluster-heartbeat-ms'], 'cluster-heartbeat-ms')
  if (typeof heartbeat === 'string') return heartbeat
  const deadAfter = positive(values['cluster-dead-after-ms'], 'cluster-dead-after-ms')
  if (typeof deadAfter === 'string') return deadAfter
  const keyPrefix = values['cluster-key-prefix']
  return {
    url,
    nodeId,
    secret: given ?? deriveClusterSecret(secret as string),
    ...(keyPrefix !== undefined ? { keyPrefix } : {}),
    ...(heartbeat !== undefined ? { heartbeatIntervalMs: heartbeat } : {}),
    ...(deadAfter !== undefined ? { deadAfterMs: deadAfter } : {}),
  }
}
