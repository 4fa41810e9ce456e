"""What a `RedisStore` is built with: its keyword arguments, their checks, its connections.

`RedisStore(url, ...)` and `RedisStore.from_url(url, ...)` take the same keyword
arguments: `RedisOptions` types them once for both (mypy and IDEs read it as
their signature), and `RedisSettings` holds them checked, defaults filled in.
The two connection pools a store opens are built from the settings here, so
`redis` is imported only when a store opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from .._options import check_count, check_seconds
from ._store import check_events_cap

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisOptions", "RedisSettings"]


class RedisOptions(TypedDict, total=False):
    """The keyword arguments of `RedisStore` and `RedisStore.from_url` (documented there)."""

    lease: float
    ttl: float
    done_ttl: float
    max_events: int
    prefix: str
    max_connections: int
    socket_timeout: float
    store_retry: float
    block: float


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """A `RedisStore`'s settings, checked: a bad one is a `TypeError` or `ValueError` naming it."""

    url: str
    lease: float = 10.0
    ttl: float = 600.0
    done_ttl: float = 300.0
    max_events: int = 50_000
    prefix: str = "ssekit"
    max_connections: int = 64
    socket_timeout: float = 5.0
    store_retry: float = 10.0
    block: float = 4.0

    def __post_init__(self) -> None:
        url, prefix, lease, ttl, block = self.url, self.prefix, self.lease, self.ttl, self.block
        if not isinstance(url, str) or not url:
            raise TypeError(f"url must be a non-empty str, not {url!r}")
        if not isinstance(prefix, str) or not prefix or "{" in prefix or "}" in prefix:
            raise ValueError(f"prefix must be a non-empty str without braces, not {prefix!r}")
        self._as_seconds("lease", "ttl", "done_ttl")
        if self.ttl <= self.lease:
            raise ValueError(f"ttl ({ttl}) must be longer than lease ({lease})")
        check_events_cap(self.max_events)
        check_count("max_connections", self.max_connections)
        self._as_seconds("socket_timeout", "store_retry", "block")
        if self.block > 4.0:
            raise ValueError(f"block must be at most 4 seconds, not {block}")

    def _as_seconds(self, *names: str) -> None:
        """Check settings in seconds, and keep them as `float`s (set once, here: it is frozen)."""
        for name in names:
            object.__setattr__(self, name, check_seconds(name, getattr(self, name)))

    @property
    def lease_ms(self) -> int:
        """`lease` in milliseconds, as Redis takes it (`PX`)."""
        return int(self.lease * 1000)

    @property
    def ttl_ms(self) -> int:
        """`ttl` in milliseconds, as Redis takes it (`PX`, `PEXPIRE`)."""
        return int(self.ttl * 1000)

    def clients(self) -> tuple[Redis, Redis]:
        """A client for commands, and one for the tailer's blocking read alone."""
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff, NoBackoff

        pool = redis.asyncio.BlockingConnectionPool.from_url(
            self.url,
            max_connections=self.max_connections,
            timeout=self.socket_timeout,
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=self.socket_timeout,
            retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
        )
        # The tailer's blocking read has no socket timeout: redis-py 8 would otherwise
        # cut (and retry) any block longer than its 5 s default.
        tail_pool = redis.asyncio.BlockingConnectionPool.from_url(
            self.url,
            max_connections=1,
            socket_timeout=None,
            socket_connect_timeout=self.socket_timeout,
            retry=Retry(NoBackoff(), 0),
        )
        return redis.asyncio.Redis(connection_pool=pool), redis.asyncio.Redis(
            connection_pool=tail_pool
        )
