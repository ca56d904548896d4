/**
 * @module limits/client-ip
 * Which address a rate limit counts: the socket peer, unless that peer is a trusted proxy;
 * then the `X-Forwarded-For` entry the nearest trusted proxies vouch for, counted from the
 * right (entries on the left are whatever the client wrote). See research/security.md §2.16
 * and §2.20: an invalid value never falls into a shared bucket, and IPv6 counts per /64.
 */
import { createHash } from 'node:crypto'
import { BlockList, isIPv4, isIPv6 } from 'node:net'
import { GatehouseError } from '../errors.ts'

/** `X-Forwarded-For` entries looked at, from the right: a huge header costs a bounded scan. */
const MAX_FORWARDED_ENTRIES = 64
/** Longer strings are no address (an IPv6 with embedded IPv4 and a zone id stays under it). */
const MAX_ADDRESS_LENGTH = 100

function ipv6Parts(text: string): number[] {
  if (text === '') return []
  const out: number[] = []
  for (const part of text.split(':')) {
    if (part.includes('.')) {
      const o = part.split('.').map(Number)
      out.push(((o[0] ?? 0) << 8) | (o[1] ?? 0), ((o[2] ?? 0) << 8) | (o[3] ?? 0))
    } else {
      out.push(Number.parseInt(part, 16))
    }
  }
  return out
}

/** The eight 16-bit groups of an address `isIPv6` accepted (without zone id). */
function ipv6Groups(ip: string): number[] {
  const gap = ip.indexOf('::')
  if (gap === -1) return ipv6Parts(ip)
  const left = ipv6Parts(ip.slice(0, gap))
  const right = ipv6Parts(ip.slice(gap + 2))
  const zeros = new Array<number>(8 - left.length - right.length).fill(0)
  return [...left, ...zeros, ...right]
}

/** RFC 5952 text: lower-case hex, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < groups.length && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart === -1) return hex.join(':')
  const head = hex.slice(0, bestStart).join(':')
  const tail = hex.slice(bestStart + bestLength).join(':')
  return `${head}::${tail}`
}

/**
 * The canonical text of an IP address, or `null` when `value` is none. IPv4 stays as is;
 * IPv6 is written in RFC 5952 form without its zone id; an IPv4-mapped IPv6 address
 * (`::ffff:192.0.2.1`, as a dual-stack socket reports IPv4 peers) becomes plain IPv4.
 *
 * @example
 * ```ts
 * normalizeIp('::ffff:127.0.0.1')    // '127.0.0.1'
 * normalizeIp('2001:DB8:0:0:0:0:0:1') // '2001:db8::1'
 * normalizeIp('unknown')              // null
 * ```
 */
export function normalizeIp(value: string): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ADDRESS_LENGTH) {
    return null
  }
  if (isIPv4(value)) return value
  const zone = value.indexOf('%')
  const address = zone === -1 ? value : value.slice(0, zone)
  if (!isIPv6(address)) return null
  const groups = ipv6Groups(address)
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff
  if (mapped) {
    const hi = groups[6] ?? 0
    const lo = groups[7] ?? 0
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  return formatIpv6(groups)
}

/** One `X-Forwarded-For` entry as an address: trimmed, an optional port or brackets removed. */
function parseForwardedEntry(entry: string): string | null {
  const text = entry.trim()
  if (text.startsWith('[')) {
    // `[2001:db8::1]` or `[2001:db8::1]:443`
    const close = text.indexOf(']')
    if (close === -1) return null
    const rest = text.slice(close + 1)
    if (rest !== '' && !(rest.startsWith(':') && isPort(rest.slice(1)))) return null
    return normalizeIp(text.slice(1, close))
  }
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text)
  if (v4WithPort && !isPort(v4WithPort[2] ?? '')) return null
  return normalizeIp(v4WithPort ? (v4WithPort[1] ?? '') : text)
}

/** A TCP port as decimal text (0–65535). */
function isPort(text: string): boolean {
  return /^\d{1,5}$/.test(text) && Number(text) <= 65535
}

const matchers = new WeakMap<readonly string[], BlockList>()

/** The trusted proxy list as a BlockList, built once per list (the array is treated as frozen). */
function proxyMatcher(trustedProxies: readonly string[]): BlockList {
  const cached = matchers.get(trustedProxies)
  if (cached) return cached
  const list = new BlockList()
  for (const entry of trustedProxies) {
    const [address = '', bits, ...extra] = String(entry).split('/')
    const ip = normalizeIp(address)
    const family = ip !== null && isIPv4(ip) ? 'ipv4' : 'ipv6'
    const prefix = bits === undefined ? undefined : Number(bits)
    const maxPrefix = family === 'ipv4' ? 32 : 128
    const validPrefix =
      prefix === undefined ||
      (bits !== undefined && /^\d{1,3}$/.test(bits) && prefix >= 0 && prefix <= maxPrefix)
    if (ip === null || extra.length > 0 || !validPrefix) {
      throw new GatehouseError(
        'ERR_INVALID_OPTION',
        `trustedProxies: ${JSON.stringify(entry)} is not an IP address or CIDR range`,
      )
    }
    if (prefix === undefined) list.addAddress(ip, family)
    else list.addSubnet(ip, prefix, family)
  }
  matchers.set(trustedProxies, list)
  return list
}

/**
 * True when `ip` is one of `trustedProxies` (addresses or CIDR ranges such as `10.0.0.0/8`).
 * Throws `ERR_INVALID_OPTION` for an entry that is neither.
 *
 * @example
 * ```ts
 * isTrustedProxy('10.1.2.3', ['10.0.0.0/8']) // true
 * ```
 */
export function isTrustedProxy(ip: string, trustedProxies: readonly string[]): boolean {
  if (trustedProxies.length === 0) return false
  const list = proxyMatcher(trustedProxies)
  const address = normalizeIp(ip)
  if (address === null) return false
  return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6')
}

/**
 * The client address a request is counted under.
 *
 * - `peer` (the socket's remote address) is the answer unless it is a trusted proxy.
 * - From a trusted proxy, `X-Forwarded-For` is read from the right: the `trustedHops`-th
 *   entry (1 = the address the nearest proxy saw); with fewer entries than hops, the
 *   leftmost one wins.
 * - An invalid entry among those hops (`unknown`, an empty entry, `1.2.3.4%eth0:443`, junk)
 *   ends the scan and the answer is the peer: a trusted proxy wrote that entry, so the chain
 *   is broken there, and skipping it would hand the answer to an entry on its left — one the
 *   client wrote. Never mapped to a shared value either.
 * - The result is normalised (`::ffff:1.2.3.4` → `1.2.3.4`); a peer that is no address is
 *   returned unchanged, so it still has a bucket of its own.
 *
 * Throws `ERR_INVALID_OPTION` for an invalid `trustedProxies` entry or `trustedHops` < 1.
 * The proxy list is compiled once per array: do not mutate it afterwards.
 *
 * @example
 * ```ts
 * resolveClientIp('10.0.0.5', '198.51.100.7, 203.0.113.9', ['10.0.0.0/8']) // '203.0.113.9'
 * resolveClientIp('198.51.100.7', '1.1.1.1', ['10.0.0.0/8'])              // '198.51.100.7'
 * ```
 */
export function resolveClientIp(
  peer: string,
  forwardedFor: string | undefined,
  trustedProxies: readonly string[],
  trustedHops = 1,
): string {
  if (!Number.isSafeInteger(trustedHops) || trustedHops < 1) {
    throw new GatehouseError('ERR_INVALID_OPTION', 'trustedHops must be a positive integer')
  }
  const peerIp = normalizeIp(peer) ?? peer
  if (!isTrustedProxy(peerIp, trustedProxies)) return peerIp
  if (typeof forwardedFor !== 'string' || forwardedFor === '') return peerIp
  const entries = forwardedFor.split(',')
  let found: string | null = null
  let seen = 0
  const stop = Math.max(0, entries.length - MAX_FORWARDED_ENTRIES)
  for (let i = entries.length - 1; i >= stop; i--) {
    const ip = parseForwardedEntry(entries[i] ?? '')
    // Within the trusted hops every entry was written by a proxy we trust; one that is no
    // address means the chain cannot be read past it. Falling back to the peer keeps the
    // answer on the trusted side instead of on a client-written entry further left.
    if (ip === null) return peerIp
    found = ip
    seen++
    if (seen === trustedHops) break
  }
  return found ?? peerIp
}

/**
 * The rate-limit bucket of an address: IPv4 as is, IPv6 by its /64 prefix (one host owns a
 * whole /64, so per-address buckets would be free to rotate), IPv4-mapped IPv6 as IPv4.
 * A value that is no address gets a bucket of its own (`invalid:` + a hash), never a shared one.
 *
 * @example
 * ```ts
 * rateKeyForIp('203.0.113.9')            // '203.0.113.9'
 * rateKeyForIp('2001:db8:1:2:3:4:5:6')   // '2001:db8:1:2::/64'
 * rateKeyForIp('::ffff:203.0.113.9')     // '203.0.113.9'
 * ```
 */
export function rateKeyForIp(ip: string): string {
  const address = normalizeIp(ip)
  if (address === null) {
    const digest = createHash('sha256').update(String(ip), 'utf8').digest('hex')
    return `invalid:${digest.slice(0, 32)}`
  }
  if (isIPv4(address)) return address
  const groups = ipv6Groups(address)
  return `${formatIpv6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`
}
