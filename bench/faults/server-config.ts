/**
 * @module bench/faults/server-config
 * What the fault server (`server.ts`) and its clients share: its start options, the page
 * Origin and the CSRF value. A module of its own, since importing `server.ts` runs it.
 */
import type { GatewayOptions } from '../../src/gateway/index.ts'

/** What the server is started with. */
export interface ServerConfig {
  /** Folder of the SQLite file (kept across restarts). */
  readonly dir: string
  readonly wsPort?: number
  readonly httpPort?: number
  readonly controlPort?: number
  /** Gateway limits (numbers only); everything else stays at its default. */
  readonly gateway?: Partial<Record<keyof GatewayOptions, number>>
  /** App limits (numbers only). */
  readonly app?: {
    readonly connectLimitPerIp?: number
    readonly connectLimitPerUser?: number
  }
  /**
   * Keep this many bytes for every message the app handles, for the process's life: a leak
   * planted to show that the soak's trend check fails (`--soak-plant-leak`). Bench only.
   */
  readonly plantLeakBytesPerMessage?: number
}

/** The Origin of the page the clients pretend to come from. */
export const SERVER_ORIGIN = 'http://127.0.0.1:3000'
/** The CSRF double-submit value every client uses. */
export const SERVER_CSRF = 'faultsuitecsrf0123456789abcdef01'
