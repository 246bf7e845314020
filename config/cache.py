"""The cache on Redis, falling back to this process's memory while Redis cannot be reached.

allauth counts failed logins and other rate limits in the cache. On Redis the counts are
shared by every process; were Redis down, every login and sign-up would fail with a server
error. Instead each call that cannot reach Redis is answered from a local-memory cache, so
the limits still hold, per process, as they did before the cache moved to Redis; a warning
says so, at most once a minute.
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
WARN_EVERY_S = 60.0
METHODS = (
    "add", "get", "set", "touch", "delete", "get_many", "has_key", "incr", "set_many",
    "delete_many", "clear",
)


class FallbackRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._local = LocMemCache(f"parlance-fallback-{id(self)}", {"KEY_PREFIX": params.get("KEY_PREFIX", "")})
        self._warned_at = -WARN_EVERY_S

    def _unreachable(self, error: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            logger.warning(
                "The cache (Redis) is unavailable (%s): rate limits are counted in this process only.",
                type(error).__name__,
            )


def _with_fallback(name: str):
    redis_method = getattr(RedisCache, name)

    def method(self, *args, **kwargs):
        try:
            return redis_method(self, *args, **kwargs)
        except UNREACHABLE as error:
            self._unreachable(error)
            return getattr(self._local, name)(*args, **kwargs)

    method.__name__ = name
    return method


for _name in METHODS:
    setattr(FallbackRedisCache, _name, _with_fallback(_name))
