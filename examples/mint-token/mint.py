#!/usr/bin/python3
"""Mint a Gatehouse WebSocket token from a backend that is not Node.

The reference implementation of the token record contract, version 1 (docs/tokens.md):
a token is 32 random bytes in unpadded base64url (43 characters); the store holds only
its SHA-256 (hex), bound to the user, to the SHA-256 of "gatehouse:session:" + the HTTP
session id, and to the audience (the Gatehouse app's appId), with creation and expiry in
milliseconds since the epoch. Gatehouse consumes it once, from that session only.

Standard library only, plus the store's driver from Debian (python3-psycopg2 or
python3-redis). Like Gatehouse's own endpoint, the caller must have authenticated the user
and should rate-limit issuing; this file only writes the record.

    /usr/bin/python3 mint.py postgres --dsn postgresql://postgres@127.0.0.1/test \\
        --user alice --session "$SESSION_ID" --app chat
    /usr/bin/python3 mint.py redis --url redis://127.0.0.1:6379 --prefix gatehouse: \\
        --user alice --session "$SESSION_ID" --app chat

Both print {"token": "...", "expires_in": 60}, the token endpoint's answer.
"""

import argparse
import hashlib
import json
import re
import secrets
import sys
import time

CONTRACT_VERSION = 1
# The PostgreSQL schema version that introduced the record as contract 1 describes it.
MIN_POSTGRES_SCHEMA_VERSION = 4
DEFAULT_TTL_MS = 60_000
SESSION_HASH_PREFIX = "gatehouse:session:"
SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,47}$")
APP_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

# The same script as Gatehouse's own insertToken (src/store/redis-scripts.ts): atomic, and
# an existing hash is never overwritten. Every key gets a TTL (the token's lifetime plus
# TOKEN_GRACE_MS, as Gatehouse's DEFAULTS.tokenRetentionGraceMs), so Redis stays bounded.
TOKEN_GRACE_MS = 240_000
REDIS_INSERT = """local function keep(k, ms)
  if redis.call('PTTL', k) < tonumber(ms) then redis.call('PEXPIRE', k, ms) end
end
local function trim_zset(z, rowprefix)
  for _, m in ipairs(redis.call('ZRANGE', z, 0, 3)) do
    if redis.call('EXISTS', rowprefix .. m) == 0 then redis.call('ZREM', z, m) end
  end
end
local function trim_token_set(p, set)
  for _, h in ipairs(redis.call('SRANDMEMBER', set, 4)) do
    if redis.call('EXISTS', p .. 't:' .. h) == 0 then redis.call('SREM', set, h) end
  end
end
local p = KEYS[1]
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
return 1"""


def generate_token() -> str:
    """32 bytes from the OS CSPRNG, base64url without padding: 43 characters."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256((SESSION_HASH_PREFIX + session_id).encode("utf-8")).hexdigest()


def _record(user_id: str, session_id: str, app_id: str, ttl_ms: int, now_ms):
    if not user_id or not session_id:
        raise ValueError("a user id and a session id are required")
    if not APP_ID.match(app_id):
        raise ValueError("app id must match ^[A-Za-z0-9._:-]{1,64}$")
    if ttl_ms < 1000:
        raise ValueError("ttl_ms must be at least 1000")
    now = int(time.time() * 1000) if now_ms is None else int(now_ms)
    token = generate_token()
    return token, {
        "hash": hash_token(token),
        "user_id": user_id,
        "session_hash": hash_session_id(session_id),
        "app_id": app_id,
        "created_at": now,
        "expires_at": now + ttl_ms,
    }


def mint_postgres(conn, user_id, session_id, app_id="default", ttl_ms=DEFAULT_TTL_MS,
                  schema="gatehouse", now_ms=None) -> str:
    """Insert a token row through a psycopg2 connection; returns the token (shown once)."""
    if not SCHEMA_NAME.match(schema):
        raise ValueError("schema must match ^[A-Za-z_][A-Za-z0-9_]{0,47}$")
    token, r = _record(user_id, session_id, app_id, ttl_ms, now_ms)
    with conn.cursor() as cur:
        cur.execute(f'SELECT coalesce(max(version), 0) FROM "{schema}".gatehouse_schema')
        (version,) = cur.fetchone()
        if version < MIN_POSTGRES_SCHEMA_VERSION:
            raise RuntimeError(f"schema {schema} is at version {version}; "
                               f"contract {CONTRACT_VERSION} needs {MIN_POSTGRES_SCHEMA_VERSION}+")
        # A plain INSERT: a duplicate hash fails instead of rebinding someone's token.
        cur.execute(
            f'INSERT INTO "{schema}".tokens '
            "(hash, user_id, session_hash, app_id, created_at, expires_at, used_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, NULL)",
            (r["hash"], r["user_id"], r["session_hash"], r["app_id"],
             r["created_at"], r["expires_at"]),
        )
    conn.commit()
    return token


def mint_redis(client, user_id, session_id, app_id="default", ttl_ms=DEFAULT_TTL_MS,
               prefix="gatehouse:", now_ms=None) -> str:
    """Write a token record through a redis-py client; returns the token (shown once)."""
    if not 1 <= len(prefix) <= 128:
        raise ValueError("prefix must be 1-128 characters")
    token, r = _record(user_id, session_id, app_id, ttl_ms, now_ms)
    done = client.eval(REDIS_INSERT, 1, prefix, r["hash"], r["user_id"], r["session_hash"],
                       r["app_id"], r["created_at"], r["expires_at"],
                       max(1, r["expires_at"] - r["created_at"]) + TOKEN_GRACE_MS)
    if int(done) != 1:
        raise RuntimeError("duplicate token hash")
    return token


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Mint a Gatehouse WebSocket token.")
    parser.add_argument("store", choices=["postgres", "redis"])
    parser.add_argument("--user", required=True)
    parser.add_argument("--session", required=True, help="the HTTP session id (not hashed)")
    parser.add_argument("--app", default="default", help="the Gatehouse app's appId")
    parser.add_argument("--ttl-ms", type=int, default=DEFAULT_TTL_MS)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--schema", default="gatehouse")
    parser.add_argument("--url", default="redis://127.0.0.1:6379")
    parser.add_argument("--prefix", default="gatehouse:")
    a = parser.parse_args(argv)
    if a.store == "postgres":
        import psycopg2

        conn = psycopg2.connect(a.dsn)
        try:
            token = mint_postgres(conn, a.user, a.session, a.app, a.ttl_ms, a.schema)
        finally:
            conn.close()
    else:
        import redis

        client = redis.Redis.from_url(a.url)
        try:
            token = mint_redis(client, a.user, a.session, a.app, a.ttl_ms, a.prefix)
        finally:
            client.close()
    json.dump({"token": token, "expires_in": a.ttl_ms // 1000}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
