/**
 * @module bench/servers/gatehouse-config
 * What the Gatehouse bench servers share: the Origin clients send, the gateway secret, and
 * the limits the bench raises, and why. Everything else stays at its default.
 * The bench opens thousands of sockets from 8–16 loopback addresses in seconds and sends
 * thousands of messages per second per socket: the defaults (AWS's quotas, 10 messages per
 * second per connection, 16 pending handshakes per address) would rightly refuse that.
 * The checks still run on every connection and message; only the thresholds move.
 */
import type { GatewayOptions } from '../../src/gateway/index.ts'

/**
 * Gateway options for bench load.
 *
 * @example
 * ```ts
 * createGateway({ ...BENCH_GATEWAY_LIMITS, routes })
 * ```
 */
export const BENCH_GATEWAY_LIMITS: GatewayOptions = {
  maxConnections: 100_000,
  maxConnectionsPerIp: 100_000,
  maxPendingHandshakes: 4_096,
  maxPendingHandshakesPerIp: 4_096,
  // Every bench client shares one address.
  upgradeBurstPerIp: 1_000_000,
  upgradesPerSecondPerIp: 1_000_000,
  messageBurst: 1_000_000,
  messagesPerSecond: 1_000_000,
}

/** The Origin bench clients send (a page served from here). */
export const BENCH_ORIGIN = 'http://127.0.0.1:8000'

/** The HMAC secret the gateway signs integration calls with (bench only). */
export const BENCH_GATEWAY_SECRET = 'bench-gateway-secret-0123456789abcdef'

/**
 * The SigV4 key pair the app signs its `@connections` calls with, and the gateway's
 * management API requires (bench only; a deployment reads its own from the environment).
 */
export const BENCH_MANAGEMENT_CREDENTIALS = Object.freeze({
  accessKeyId: 'AKIDBENCHGATEHOUSE01',
  secretAccessKey: 'bench-management-secret-0123456789abcdef',
})

/** App rate limits: high enough that no bench run reaches them; the counters still run. */
export const BENCH_RATE_LIMIT = 1_000_000_000
