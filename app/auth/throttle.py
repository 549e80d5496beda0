"""Login throttling, and ``count_or_refuse``: the same kind of counter for any endpoint open to the public
(self-onboarding).

Failed logins are counted twice, per account and per client IP, and answered with a growing wait rather than
a hard lock:

* the account is the username, lower-cased, whatever ``tenant`` the request names or omits (a username may
  exist in several tenants; naming a tenant or not neither splits nor resets the count). ``LOGIN_MAX_FAILURES``
  failures are free; the one that reaches it makes the next attempt wait 1 s, and each further failure doubles
  the wait (2 s, 4 s, ...) up to ``LOGIN_LOCKOUT_SECONDS``. The failures are remembered until
  ``LOGIN_FAILURE_WINDOW_SECONDS`` pass without one; a successful login forgets them.
* the IP has a larger budget, ``LOGIN_IP_MAX_FAILURES`` failures per ``LOGIN_IP_WINDOW_SECONDS`` (a fixed
  window from its first failure, so an office behind one NAT recovers), then the same growing wait. A success
  does not reset it (anyone could sign in to an account of their own in between guesses).

While a wait runs every attempt is refused (429 ``LOGIN_LOCKED`` with ``Retry-After``) before the password is
looked at, so the right password gets in no sooner. Each attempt is counted as a failure *before* the password
is checked, in the same Redis script that checks the wait, so parallel requests cannot slip in more guesses than
the budget; ``succeeded`` takes the count back. A lockout is never longer than the wait of the last failure: a
stranger can only keep an account waiting by spending a guess each time the wait ends.

Counters live in Redis, timed by ``app.clock``. If Redis is down the throttle is skipped: logins keep working.
"""

from __future__ import annotations

import logging
import math

from flask import current_app
from redis.exceptions import RedisError

from app import clock, redis_conn
from app.errors import LoginLocked, RateLimited

log = logging.getLogger(__name__)

# the wait after the failure that uses up a budget; each further failure doubles it
FIRST_WAIT_SECONDS = 1

# KEYS: one hash per subject: n = failures counted, till = epoch milliseconds before which attempts wait.
# ARGV: now, the first wait, the longest wait (all in milliseconds: whole numbers, which Lua's tostring keeps
# exact), then per key: its free failures, its window in seconds, sliding (1) or fixed (0). Answers the wait left
# (milliseconds), or "0" after counting this attempt as a failure.
_ATTEMPT = """
local now, first, longest = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local wait = 0
for _, key in ipairs(KEYS) do
  local till = tonumber(redis.call('HGET', key, 'till') or '0')
  if till - now > wait then wait = till - now end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  local at = 3 + (i - 1) * 3
  local free, window, sliding = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]), ARGV[at + 3]
  local n = redis.call('HINCRBY', key, 'n', 1)
  if n >= free then
    redis.call('HSET', key, 'till', tostring(now + math.min(longest, first * 2 ^ (n - free))))
  end
  if sliding == '1' or redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, window) end
end
return '0'
"""

# KEYS[1]: the account, forgotten; KEYS[2]: the IP, whose count of this attempt is taken back (its wait
# too if the IP is back under its budget). ARGV[1]: the IP's free failures.
_SUCCEEDED = """
redis.call('DEL', KEYS[1])
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then
  if redis.call('HINCRBY', KEYS[2], 'n', -1) < tonumber(ARGV[1]) then redis.call('HDEL', KEYS[2], 'till') end
end
return 0
"""


def _account_key(username: str) -> str:
    return f"login-throttle:account:{username.lower()}"


def _ip_key(ip: str) -> str:
    return f"login-throttle:ip:{ip}"


def attempt(username: str, ip: str | None) -> None:
    """Refuse (``LoginLocked``) while the account or the IP must wait; otherwise count this attempt as a failure,
    which ``succeeded`` takes back."""
    config = current_app.config
    keys = [_account_key(username)]
    limits = [config["LOGIN_MAX_FAILURES"], config["LOGIN_FAILURE_WINDOW_SECONDS"], 1]
    if ip:
        keys.append(_ip_key(ip))
        limits += [config["LOGIN_IP_MAX_FAILURES"], config["LOGIN_IP_WINDOW_SECONDS"], 0]
    now_ms = int(clock.now().timestamp() * 1000)
    waits_ms = [FIRST_WAIT_SECONDS * 1000, config["LOGIN_LOCKOUT_SECONDS"] * 1000]
    try:
        wait_ms = float(redis_conn.client().register_script(_ATTEMPT)(keys, [now_ms, *waits_ms, *limits]))
    except RedisError as exc:
        log.warning("login throttle skipped, redis unavailable: %s", exc)
        return
    if wait_ms > 0:
        raise LoginLocked(math.ceil(wait_ms / 1000))


def succeeded(username: str, ip: str | None) -> None:
    """The password was right: the account's failures are forgotten, and this attempt no longer counts."""
    keys = [_account_key(username)] + ([_ip_key(ip)] if ip else [])
    try:
        redis_conn.client().register_script(_SUCCEEDED)(keys, [current_app.config["LOGIN_IP_MAX_FAILURES"]])
    except RedisError as exc:
        log.warning("login success not recorded, redis unavailable: %s", exc)


def count_or_refuse(limits: list[tuple[str, int, int]], *, message: str) -> None:
    """Count one attempt under each ``(key, limit, window_seconds)``; refuse (429) once any key has seen more
    than its limit within its window. Fixed windows that start at the first attempt. Skipped without Redis."""
    try:
        client = redis_conn.client()
        pipe = client.pipeline()
        for key, _limit, window in limits:
            pipe.set(key, 0, ex=window, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
        results = pipe.execute()
    except RedisError as exc:
        log.warning("rate limit %s skipped, redis unavailable: %s", limits[0][0], exc)
        return
    for index, (_key, limit, window) in enumerate(limits):
        count, ttl = results[index * 3 + 1], results[index * 3 + 2]
        if count > limit:
            raise RateLimited(ttl if ttl > 0 else window, message)
