/**
 * @module store/redis-scripts
 * The Lua scripts behind the Redis store. Each Store method that reads then writes is one
 * script, so Redis runs it atomically: no other command interleaves, on any client.
 *
 * Every script gets the key prefix as `KEYS[1]` (so a cluster routes it to the prefix's
 * slot; use a hash-tagged prefix such as `{gatehouse}:` on Redis Cluster) and builds its
 * keys from it:
 *
 * | key | type | holds |
 * |---|---|---|
 * | `t:<hash>` | hash | token: `u` user, `s` session hash, `a` app id, `c` created, `e` expires, `x` used at |
 * | `tu:<user>`, `ts:<session hash>` | set | token hashes, for revocation |
 * | `tc` | zset | token hashes by creation time, for cleanup |
 * | `r:<key>` | hash | rate counter: `w` window ms, `s` bucket start, `c` count, `p` previous count |
 * | `rx` | zset | rate keys by the time they stop mattering, for cleanup |
 * | `s:<connection id>` | hash | session: `u`, `h`, `ch`, `con` (1/0), `rc`, `ca`, `ls`, `da` |
 * | `su:<user>`, `sh:<session hash>`, `sc:<channel>`, `sa` | set | connected ids, for audiences |
 * | `sd` | zset | disconnected ids by disconnect time, for cleanup |
 * | `n:<key>` | string | a claimed nonce: its expiry (injected clock), with a Redis TTL as well |
 * | `hs:<channel>` | stream | channel history: entry id `0-<offset>`, fields `m` message, `t` appended at |
 * | `hm:<channel>` | hash | its stream's `e` epoch and `o` last offset |
 *
 * Nullable strings travel as `''` (null) or `'=' .. value`.
 *
 * Every key carries a TTL, so Redis stays bounded even when no cleanup ever runs. TTLs are
 * durations (`PEXPIRE`), never instants: the store's clock is injected and may be fake, and
 * a duration means the same on Redis's clock. Row keys expire with their row (a token: its
 * own TTL plus a grace; a rate counter: two windows after its last hit; a disconnected
 * session: the retention; a connected session: the longest a connection can live). An index
 * key's TTL is raised, never lowered, to the longest TTL of anything added to it, so an
 * index outlives its members; members whose row has expired are trimmed by the writes (the
 * oldest few of a zset and a few random members of a token set per write) and by the
 * reads that visit them (audience listings, presence), so an index of a busy key stays
 * close to its live rows. `cleanup()` still removes rows by the cut-offs it is given.
 *
 * A token hash written before tokens had an audience has no `a` field; it belongs to the
 * default app, `'default'` (as the SQL migrations decide for old rows), so an app with another
 * id never accepts it and no token matches every app.
 */
import { createHash } from 'node:crypto'

/** A script and its SHA-1, for `EVALSHA` with an `EVAL` fallback. */
export interface RedisScript {
  readonly lua: string
  readonly sha: string
}

function script(lua: string): RedisScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') }
}

/**
 * Added to a rate counter's two-window TTL. The bucket is computed from the caller's clock
 * reading, and Redis starts the TTL when the script runs; the slack covers the time between
 * the two (a busy event loop, a slow network), so a counter never expires while it still
 * weighs on a decision.
 *
 * @example
 * ```ts
 * const ttlMs = 2 * windowMs + RATE_TTL_SLACK_MS
 * ```
 */
export const RATE_TTL_SLACK_MS = 5_000

const OPT = `local function opt(a) if a == '' then return false end return string.sub(a, 2) end\n`

// Raise a key's TTL to at least \`ms\` (a key without a TTL gets one); never lowers it, so an
// index lives as long as the longest-lived row added to it.
const KEEP = `local function keep(k, ms)
  if redis.call('PTTL', k) < tonumber(ms) then redis.call('PEXPIRE', k, ms) end
end\n`

// Drop the oldest few members of a zset index whose row key (prefix .. member) has expired.
// A few per write is enough: every write adds one member and can remove up to four.
const TRIM_ZSET = `local function trim_zset(z, rowprefix)
  for _, m in ipairs(redis.call('ZRANGE', z, 0, 3)) do
    if redis.call('EXISTS', rowprefix .. m) == 0 then redis.call('ZREM', z, m) end
  end
end\n`

// Drop those of four random members of a token set whose token row has expired. O(1) per
// write, and enough: each write adds one member and removes each dead one it draws, so in
// steady state at most about a quarter of a set's members are dead.
const TRIM_TOKEN_SET = `local function trim_token_set(p, set)
  for _, h in ipairs(redis.call('SRANDMEMBER', set, 4)) do
    if redis.call('EXISTS', p .. 't:' .. h) == 0 then redis.call('SREM', set, h) end
  end
end\n`

// Remove a connected session from every audience set it is in.
const UNINDEX = `local function unindex(p, id, u, h, ch)
  if u then redis.call('SREM', p .. 'su:' .. u, id) end
  if h then redis.call('SREM', p .. 'sh:' .. h, id) end
  if ch then redis.call('SREM', p .. 'sc:' .. ch, id) end
  redis.call('SREM', p .. 'sa', id)
end\n`

// Write a connected session, replacing any row of that id (createSession and openSession).
// The row lives at most \`ttl\` ms (the longest a connection can be open) and so does every
// audience set it joins, at least.
const WRITE_SESSION = `local function index(set, id, ttl)
  redis.call('SADD', set, id)
  keep(set, ttl)
end
local function write_session(p, id, u, h, ch, at, ttl)
  local k = p .. 's:' .. id
  local old = redis.call('HMGET', k, 'u', 'h', 'ch', 'con')
  if old[4] == '1' then unindex(p, id, old[1], old[2], old[3]) end
  redis.call('ZREM', p .. 'sd', id)
  redis.call('DEL', k)
  redis.call('HSET', k, 'con', 1, 'rc', 0, 'ca', at, 'ls', at)
  redis.call('PEXPIRE', k, ttl)
  if u then redis.call('HSET', k, 'u', u); index(p .. 'su:' .. u, id, ttl) end
  if h then redis.call('HSET', k, 'h', h); index(p .. 'sh:' .. h, id, ttl) end
  if ch then redis.call('HSET', k, 'ch', ch); index(p .. 'sc:' .. ch, id, ttl) end
  index(p .. 'sa', id, ttl)
end\n`

// The one token match of consumeToken and openSession: session, audience and (when given)
// user, unused, unexpired; marks the token used and returns {user, session hash}, or false.
const USE_TOKEN = `local function use_token(p, hash, sh, app, user, now)
  local k = p .. 't:' .. hash
  local t = redis.call('HMGET', k, 'u', 's', 'e', 'x', 'a')
  if not t[1] or t[4] or t[2] ~= sh or (t[5] or 'default') ~= app then return false end
  if user and t[1] ~= user then return false end
  if tonumber(t[3]) <= tonumber(now) then return false end
  redis.call('HSET', k, 'x', now)
  return {t[1], t[2]}
end\n`

/**
 * The scripts, by Store operation.
 *
 * @example
 * ```ts
 * await redis.evalsha(REDIS_SCRIPTS.consumeToken.sha, 1, prefix, hash, sessionHash, 'chat', '', now)
 * ```
 */
export const REDIS_SCRIPTS = {
  /**
   * ARGV: key, expires, now, ttl ms. 1 when claimed, 0 when held. Expiry is judged on the
   * injected clock like every other row here; the TTL (`SET … PX`) only lets Redis drop the
   * key itself once it no longer matters, so nonces need no cleanup pass.
   */
  claimNonce: script(`local k = KEYS[1] .. 'n:' .. ARGV[1]
local held = redis.call('GET', k)
if held and tonumber(held) > tonumber(ARGV[3]) then return 0 end
redis.call('SET', k, ARGV[2], 'PX', ARGV[4])
return 1`),

  /**
   * ARGV: channel, epoch for a new stream, message, now, size, TTL ms. Returns
   * `{epoch, offset}`. A stream found without its hash, or a hash without its stream (a key
   * deleted or evicted), is lost: both start again at offset 1 under the new epoch. The
   * stream is trimmed approximately (`MAXLEN ~`, cheap; reads drop the excess), and both
   * keys live the history's age after the last append: by then every entry is too old.
   */
  appendHistory: script(`local p, ch = KEYS[1], ARGV[1]
local sk, mk = p .. 'hs:' .. ch, p .. 'hm:' .. ch
local epoch = redis.call('HGET', mk, 'e')
if not epoch or redis.call('EXISTS', sk) == 0 then
  epoch = ARGV[2]
  redis.call('DEL', sk)
  redis.call('HSET', mk, 'e', epoch, 'o', 0)
end
local o = redis.call('HINCRBY', mk, 'o', 1)
redis.call('XADD', sk, 'MAXLEN', '~', ARGV[5], '0-' .. o, 'm', ARGV[3], 't', ARGV[4])
redis.call('PEXPIRE', sk, ARGV[6])
redis.call('PEXPIRE', mk, ARGV[6])
return {epoch, o}`),

  /**
   * ARGV: channel, since, size. `false` without history; else `{epoch, last offset, entries}`
   * with the entries after `since` (at most the last `size`), read in one atomic snapshot.
   */
  readHistory: script(`local p, ch = KEYS[1], ARGV[1]
local m = redis.call('HMGET', p .. 'hm:' .. ch, 'e', 'o')
if not m[1] then return false end
local from = math.max(tonumber(ARGV[2]) + 1, tonumber(m[2]) - tonumber(ARGV[3]) + 1)
return {m[1], m[2], redis.call('XRANGE', p .. 'hs:' .. ch, '0-' .. from, '+')}`),

  /**
   * ARGV: hash, user, session hash, app id, created, expires, row TTL ms. 0 when the hash
   * exists (never overwritten).
   */
  insertToken: script(`${KEEP}${TRIM_ZSET}${TRIM_TOKEN_SET}local p = KEYS[1]
local k = p .. 't:' .. ARGV[1]
local ttl = ARGV[7]
if redis.call('EXISTS', k) == 1 then return 0 end
redis.call('HSET', k, 'u', ARGV[2], 's', ARGV[3], 'a', ARGV[4], 'c', ARGV[5], 'e', ARGV[6])
redis.call('PEXPIRE', k, ttl)
for _, set in ipairs({p .. 'tu:' .. ARGV[2], p .. 'ts:' .. ARGV[3]}) do
  redis.call('SADD', set, ARGV[1])
  keep(set, ttl)
  trim_token_set(p, set)
end
redis.call('ZADD', p .. 'tc', ARGV[5], ARGV[1])
keep(p .. 'tc', ttl)
trim_zset(p .. 'tc', p .. 't:')
return 1`),

  /** ARGV: hash, session hash, app id, user?, now. `{user, session hash}` once, else nil. */
  consumeToken: script(`${OPT}${USE_TOKEN}
return use_token(KEYS[1], ARGV[1], ARGV[2], ARGV[3], opt(ARGV[4]), ARGV[5])`),

  /**
   * ARGV: 'u' or 's', the user or session hash. Deletes every token of the owner, used or
   * not; returns how many token rows it removed.
   */
  revokeTokens: script(`local p = KEYS[1]
local set = p .. (ARGV[1] == 'u' and 'tu:' or 'ts:') .. ARGV[2]
local n = 0
for _, h in ipairs(redis.call('SMEMBERS', set)) do
  local k = p .. 't:' .. h
  local t = redis.call('HMGET', k, 'u', 's')
  if not t[1] then
    redis.call('SREM', set, h)
  else
    redis.call('DEL', k)
    redis.call('SREM', p .. 'tu:' .. t[1], h)
    redis.call('SREM', p .. 'ts:' .. t[2], h)
    redis.call('ZREM', p .. 'tc', h)
    n = n + 1
  end
end
return n`),

  /**
   * ARGV: now, then per key: key, window ms, bucket start, limit, charge (1 or 0). The step
   * of sliding-window.ts `advanceCounts` per key, in order, written only when the key
   * charges, and judged as sliding-window.ts `judge` does (the same integer inequality); the
   * first key that refuses ends the walk, so later keys are not touched. Returns
   * `{start, count, prev}` per key visited. A written counter lives two windows after its
   * last hit (a bucket weighs on the estimate for one window after it ends, as "previous",
   * never longer), plus {@link RATE_TTL_SLACK_MS}.
   */
  hit: script(`${KEEP}${TRIM_ZSET}local p = KEYS[1]
local now = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV, 5 do
  local k = p .. 'r:' .. ARGV[i]
  local w, st, lim = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local r = redis.call('HMGET', k, 'w', 's', 'c', 'p')
  local cw, cs, cc, cp = tonumber(r[1]), tonumber(r[2]), tonumber(r[3]), tonumber(r[4])
  local ns, nc, np
  if not cw or cw ~= w then ns, nc, np = st, 1, 0
  elseif cs >= st then ns, nc, np = cs, cc + 1, cp
  elseif cs == st - w then ns, nc, np = st, 1, cc
  else ns, nc, np = st, 1, 0 end
  if ARGV[i + 4] == '1' then
    redis.call('HSET', k, 'w', w, 's', ns, 'c', nc, 'p', np)
    redis.call('PEXPIRE', k, 2 * w + ${RATE_TTL_SLACK_MS})
    redis.call('ZADD', p .. 'rx', ns + 2 * w, ARGV[i])
    keep(p .. 'rx', 2 * w + ${RATE_TTL_SLACK_MS})
  end
  out[#out + 1] = {ns, nc, np}
  local e = math.min(math.max(now - ns, 0), w)
  if np * (w - e) + nc * w > lim * w then break end
end
trim_zset(p .. 'rx', p .. 'r:')
return out`),

  /**
   * ARGV: id, user?, session hash?, channel?, connected at, guard token hash?, row TTL ms.
   * Replaces any row of that id. With a guard, writes nothing and returns 0 unless that
   * token row exists.
   */
  createSession: script(`${OPT}${KEEP}${UNINDEX}${WRITE_SESSION}local p, id = KEYS[1], ARGV[1]
local u, h, ch, at = opt(ARGV[2]), opt(ARGV[3]), opt(ARGV[4]), ARGV[5]
local guard = opt(ARGV[6])
if guard and redis.call('EXISTS', p .. 't:' .. guard) == 0 then return 0 end
write_session(p, id, u, h, ch, at, ARGV[7])
return 1`),

  /**
   * ARGV: the token as consumeToken takes it (hash, session hash, app id, user?, now), then
   * the session: id, user?, session hash?, channel?, connected at, row TTL ms. Uses the
   * token as consumeToken does and writes the session as createSession does, or does
   * nothing and returns nil.
   */
  openSession: script(`${OPT}${KEEP}${UNINDEX}${WRITE_SESSION}${USE_TOKEN}local p = KEYS[1]
local owner = use_token(p, ARGV[1], ARGV[2], ARGV[3], opt(ARGV[4]), ARGV[5])
if not owner then return false end
write_session(p, ARGV[6], opt(ARGV[7]), opt(ARGV[8]), opt(ARGV[9]), ARGV[10], ARGV[11])
return owner`),

  /** ARGV: id, now. The session's fields after the bump, or nil when not connected. */
  touchSession: script(`local k = KEYS[1] .. 's:' .. ARGV[1]
if redis.call('HGET', k, 'con') ~= '1' then return false end
redis.call('HINCRBY', k, 'rc', 1)
redis.call('HSET', k, 'ls', ARGV[2])
return redis.call('HGETALL', k)`),

  /** ARGV: (id, count, lastSeenAt)…. Unknown ids are skipped: no hash is created for them. */
  recordActivity: script(`local p = KEYS[1]
for i = 1, #ARGV, 3 do
  local k = p .. 's:' .. ARGV[i]
  if redis.call('EXISTS', k) == 1 then
    redis.call('HINCRBY', k, 'rc', ARGV[i + 1])
    local t = tonumber(ARGV[i + 2])
    if t > (tonumber(redis.call('HGET', k, 'ls')) or 0) then redis.call('HSET', k, 'ls', ARGV[i + 2]) end
  end
end
return 0`),

  /** ARGV: id, channel?, audience set TTL ms. 1 when moved, 0 when not connected. */
  setChannel: script(`${OPT}${KEEP}local p, id = KEYS[1], ARGV[1]
local k = p .. 's:' .. id
local r = redis.call('HMGET', k, 'con', 'ch')
if r[1] ~= '1' then return 0 end
if r[2] then redis.call('SREM', p .. 'sc:' .. r[2], id) end
local ch = opt(ARGV[2])
if ch then
  redis.call('HSET', k, 'ch', ch)
  redis.call('SADD', p .. 'sc:' .. ch, id)
  keep(p .. 'sc:' .. ch, ARGV[3])
else
  redis.call('HDEL', k, 'ch')
end
return 1`),

  /**
   * ARGV: now, connected-before cut-off, retention ms of a disconnected row, ids…. Returns
   * how many were connected and now are not. An id whose row has already expired leaves
   * the set of all connections (the other sets it was in are unknown with its row; their
   * readers trim it).
   */
  markDisconnected: script(`${KEEP}${TRIM_ZSET}${UNINDEX}local p = KEYS[1]
local cutoff, ttl = tonumber(ARGV[2]), ARGV[3]
local n = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local k = p .. 's:' .. id
  local r = redis.call('HMGET', k, 'con', 'u', 'h', 'ch', 'ca')
  if r[1] == '1' and tonumber(r[5]) < cutoff then
    redis.call('HSET', k, 'con', 0, 'da', ARGV[1])
    redis.call('PEXPIRE', k, ttl)
    unindex(p, id, r[2], r[3], r[4])
    redis.call('ZADD', p .. 'sd', ARGV[1], id)
    keep(p .. 'sd', ttl)
    n = n + 1
  elseif not r[1] then
    redis.call('SREM', p .. 'sa', id)
  end
end
trim_zset(p .. 'sd', p .. 's:')
return n`),

  /**
   * ARGV: set suffix (`su:<user>`, `sh:<hash>`, `sc:<channel>` or `sa`). The ids of the set
   * whose row is connected; members whose row has expired (a `$disconnect` that never came,
   * outlived by its set) are removed on the way.
   */
  listConnections: script(`local p = KEYS[1]
local set = p .. ARGV[1]
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', set)) do
  local con = redis.call('HGET', p .. 's:' .. id, 'con')
  if con == '1' then out[#out + 1] = id
  elseif not con then redis.call('SREM', set, id) end
end
return out`),

  /**
   * ARGV: channel. The users connected to it and how many connections each has, as a flat
   * list `{user, count, user, count, …}` followed by the count of anonymous connections; one
   * script, so presence is one round trip. Members whose row has expired are removed.
   */
  channelPresence: script(`local p = KEYS[1]
local set = p .. 'sc:' .. ARGV[1]
local counts, order, anon = {}, {}, 0
for _, id in ipairs(redis.call('SMEMBERS', set)) do
  local r = redis.call('HMGET', p .. 's:' .. id, 'con', 'u', 'ch')
  if r[1] == '1' and r[3] == ARGV[1] then
    if r[2] then
      if not counts[r[2]] then counts[r[2]] = 0; order[#order + 1] = r[2] end
      counts[r[2]] = counts[r[2]] + 1
    else
      anon = anon + 1
    end
  elseif not r[1] then
    redis.call('SREM', set, id)
  end
end
local out = {}
for _, u in ipairs(order) do out[#out + 1] = u; out[#out + 1] = counts[u] end
out[#out + 1] = anon
return out`),

  /**
   * ARGV: now. Tokens unused and unexpired, walking the creation index (which cleanup keeps
   * short); for the admin page, not for a hot path.
   */
  countTokens: script(`local p, now = KEYS[1], tonumber(ARGV[1])
local n = 0
for _, h in ipairs(redis.call('ZRANGE', p .. 'tc', 0, -1)) do
  local t = redis.call('HMGET', p .. 't:' .. h, 'e', 'x')
  if t[1] and not t[2] and tonumber(t[1]) > now then n = n + 1 end
end
return n`),

  /**
   * ARGV: token cut-off, rate cut-off, session cut-off, batch size. Removes up to a batch of
   * each; returns `{tokens, rates, sessions}` deleted and `{…}` index entries visited, so the
   * caller can loop while a batch came back full.
   */
  cleanup: script(`local p, lim = KEYS[1], tonumber(ARGV[4])
local nt, nr, ns = 0, 0, 0
local vt = redis.call('ZRANGEBYSCORE', p .. 'tc', '-inf', '(' .. ARGV[1], 'LIMIT', 0, lim)
for _, h in ipairs(vt) do
  local k = p .. 't:' .. h
  local t = redis.call('HMGET', k, 'u', 's')
  if redis.call('DEL', k) == 1 then nt = nt + 1 end
  if t[1] then
    redis.call('SREM', p .. 'tu:' .. t[1], h)
    redis.call('SREM', p .. 'ts:' .. t[2], h)
  end
  redis.call('ZREM', p .. 'tc', h)
end
local vr = redis.call('ZRANGEBYSCORE', p .. 'rx', '-inf', '(' .. ARGV[2], 'LIMIT', 0, lim)
for _, key in ipairs(vr) do
  nr = nr + redis.call('DEL', p .. 'r:' .. key)
  redis.call('ZREM', p .. 'rx', key)
end
local vs = redis.call('ZRANGEBYSCORE', p .. 'sd', '-inf', '(' .. ARGV[3], 'LIMIT', 0, lim)
for _, id in ipairs(vs) do
  local k = p .. 's:' .. id
  if redis.call('HGET', k, 'con') == '0' then ns = ns + redis.call('DEL', k) end
  redis.call('ZREM', p .. 'sd', id)
end
return {nt, nr, ns, #vt, #vr, #vs}`),
} as const
