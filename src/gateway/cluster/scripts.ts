/**
 * @module gateway/cluster/scripts
 * The Lua scripts of the cluster registry. Each step that reads then writes is one script,
 * so Redis runs it atomically: a slot is claimed once, a dead node is reaped once, and a node
 * that lost its slot can no longer write its connection table. Times are Redis's own
 * (`TIME`), so the nodes' clocks never decide who is dead.
 *
 * Keys (after the prefix, `KEYS[1]`):
 *
 * | key | type | holds |
 * |---|---|---|
 * | `slot:<n>` | string, PX `deadAfterMs` | `<nodeId> <incarnation>` of the node holding slot n; renewed by each heartbeat |
 * | `slots` | hash | slot → `<nodeId> <incarnation>`: registered slots, until unregistered or reaped |
 * | `beats` | zset | slot → last heartbeat (Redis ms), for `nodes()` |
 * | `conns:<incarnation>` | hash | connection id → the JSON identity its `$disconnect` needs |
 * | `reaped:<incarnation>` | string, PX 24 h | who reaped that incarnation: its fence |
 * | `epoch` | string | when this Redis first saw the cluster (Redis ms); recreated after a data loss |
 * | `freed:<n>` | string, PX `settleMs` | slot n was reaped or unregistered in this epoch: free, even while the registry settles |
 *
 * A slot is free when it has no `slots` entry: a dead node's slot stays taken until it is
 * reaped, so its sessions are never forgotten.
 */

/** A script and the name it is defined under on the ioredis client. */
export interface ClusterScript {
  readonly name: string
  readonly lua: string
}

const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1e3 + math.floor(tonumber(t[2]) / 1e3)`

/**
 * Register: renew or reclaim the preferred slot, or claim the first free one.
 * ARGV: me (`<nodeId> <incarnation>`), incarnation, preferred slot (-1: none), deadAfterMs,
 * settleMs, slot count. Returns `{'ok', slot}`, `{'fenced', reaped (1/0)}`, `{'full'}`, or
 * `{'duplicate'}` when a live node (its slot key alive) already registered under this node id:
 * a second process with the same id waits until the first is dead (at most `deadAfterMs`
 * after a crash), then registers, and the first one's sessions are reaped.
 * A node may keep its sockets only when nobody can have answered Gone for them: its slot
 * is still registered to it, or the whole registry is younger than `settleMs` (Redis lost
 * its data and every node is re-registering).
 */
export const REGISTER: ClusterScript = {
  name: 'gatehouseClusterRegister',
  lua: `${NOW}
local p = KEYS[1]
local me, inc, pref, dead, settle, count = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('SET', p .. 'epoch', now, 'NX')
local epoch = tonumber(redis.call('GET', p .. 'epoch'))
if redis.call('EXISTS', p .. 'reaped:' .. inc) == 1 then return {'fenced', 1} end
if pref >= 0 then
  local cur = redis.call('GET', p .. 'slot:' .. pref)
  local info = redis.call('HGET', p .. 'slots', pref)
  if cur == me or (not cur and (info == me or (not info and now - epoch < settle))) then
    redis.call('SET', p .. 'slot:' .. pref, me, 'PX', dead)
    redis.call('HSET', p .. 'slots', pref, me)
    redis.call('ZADD', p .. 'beats', now, pref)
    return {'ok', pref}
  end
  if info == me then redis.call('HDEL', p .. 'slots', pref) end
  redis.call('DEL', p .. 'conns:' .. inc)
  return {'fenced', 0}
end
local node = string.match(me, '^(%S+) ')
local all = redis.call('HGETALL', p .. 'slots')
for i = 1, #all, 2 do
  if all[i + 1] ~= me and string.match(all[i + 1], '^(%S+) ') == node and redis.call('EXISTS', p .. 'slot:' .. all[i]) == 1 then
    return {'duplicate'}
  end
end
for s = 0, count - 1 do
  if redis.call('HEXISTS', p .. 'slots', s) == 0 and redis.call('SET', p .. 'slot:' .. s, me, 'NX', 'PX', dead) then
    redis.call('HSET', p .. 'slots', s, me)
    redis.call('ZADD', p .. 'beats', now, s)
    return {'ok', s}
  end
end
return {'full'}`,
}

/**
 * Heartbeat: renew the slot if it is still this node's. ARGV: slot, me, deadAfterMs.
 * Returns 1, or 0 when the slot is not this node's any more (expired or taken).
 */
export const HEARTBEAT: ClusterScript = {
  name: 'gatehouseClusterHeartbeat',
  lua: `${NOW}
local p = KEYS[1]
if redis.call('GET', p .. 'slot:' .. ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('PEXPIRE', p .. 'slot:' .. ARGV[1], ARGV[3])
redis.call('ZADD', p .. 'beats', now, ARGV[1])
return 1`,
}

/**
 * Write part of the connection table, only while the slot is this node's. ARGV: slot, me,
 * incarnation, reset (1: delete the table first), number of rows to set, then id/json pairs,
 * then ids to delete. Returns 1, or 0 when the slot is lost (nothing written).
 */
export const WRITE_TABLE: ClusterScript = {
  name: 'gatehouseClusterWriteTable',
  lua: `local p = KEYS[1]
if redis.call('GET', p .. 'slot:' .. ARGV[1]) ~= ARGV[2] then return 0 end
local key = p .. 'conns:' .. ARGV[3]
if ARGV[4] == '1' then redis.call('DEL', key) end
local sets = tonumber(ARGV[5])
local i = 6
for _ = 1, sets do
  redis.call('HSET', key, ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i <= #ARGV do
  redis.call('HDEL', key, ARGV[i])
  i = i + 1
end
return 1`,
}

/**
 * Reap a dead slot, once: its slot key expired while it was still registered. ARGV: slot,
 * the registration seen (`<nodeId> <incarnation>`), reaper node id, fence TTL ms, settleMs.
 * Returns
 * the dead node's table as a flat id/json list, or false when it is not (or no longer) dead
 * or another node reaps it.
 */
export const REAP: ClusterScript = {
  name: 'gatehouseClusterReap',
  lua: `local p = KEYS[1]
local s, info = ARGV[1], ARGV[2]
if redis.call('HGET', p .. 'slots', s) ~= info then return false end
if redis.call('EXISTS', p .. 'slot:' .. s) == 1 then return false end
local inc = string.match(info, ' (.+)$')
if not redis.call('SET', p .. 'reaped:' .. inc, ARGV[3], 'NX', 'PX', ARGV[4]) then return false end
local rows = redis.call('HGETALL', p .. 'conns:' .. inc)
redis.call('DEL', p .. 'conns:' .. inc)
redis.call('HDEL', p .. 'slots', s)
redis.call('ZREM', p .. 'beats', s)
redis.call('SET', p .. 'freed:' .. s, '1', 'PX', ARGV[5])
return rows`,
}

/**
 * Unregister on a clean shutdown (its sockets' `$disconnect`s were sent locally): free the
 * slot and drop the table, so nobody reaps it. ARGV: slot, me, incarnation, settleMs.
 */
export const UNREGISTER: ClusterScript = {
  name: 'gatehouseClusterUnregister',
  lua: `local p = KEYS[1]
if redis.call('HGET', p .. 'slots', ARGV[1]) == ARGV[2] then
  redis.call('HDEL', p .. 'slots', ARGV[1])
  redis.call('ZREM', p .. 'beats', ARGV[1])
  redis.call('SET', p .. 'freed:' .. ARGV[1], '1', 'PX', ARGV[4])
end
if redis.call('GET', p .. 'slot:' .. ARGV[1]) == ARGV[2] then redis.call('DEL', p .. 'slot:' .. ARGV[1]) end
redis.call('DEL', p .. 'conns:' .. ARGV[3])
return 1`,
}

/**
 * Whether a slot nobody answered for has an owner: `held` (its key is alive: the owner is
 * unreachable), `registered` (dead, not yet reaped), `settling` (the registry is younger
 * than `settleMs`: nodes may still be re-registering), or `free` (no live owner: Gone).
 * ARGV: slot, settleMs.
 */
export const SLOT_STATE: ClusterScript = {
  name: 'gatehouseClusterSlotState',
  lua: `${NOW}
local p = KEYS[1]
if redis.call('EXISTS', p .. 'slot:' .. ARGV[1]) == 1 then return 'held' end
if redis.call('HEXISTS', p .. 'slots', ARGV[1]) == 1 then return 'registered' end
if redis.call('EXISTS', p .. 'freed:' .. ARGV[1]) == 1 then return 'free' end
local epoch = tonumber(redis.call('GET', p .. 'epoch') or now)
if now - epoch < tonumber(ARGV[2]) then return 'settling' end
return 'free'`,
}

/** Every script, for `defineCommand`. */
export const CLUSTER_SCRIPTS: readonly ClusterScript[] = [
  REGISTER,
  HEARTBEAT,
  WRITE_TABLE,
  REAP,
  UNREGISTER,
  SLOT_STATE,
]
