"""`RedisStore`: resumable streams in Redis Streams, for any number of workers (asyncio).

The worker that receives a chat request produces its stream; any worker can
serve its readers. `_redis_lua.py` draws the keys and the atomic steps,
`_redis_owner.py` the producing side (group commit, lease, degraded mode),
`_redis_tail.py` the reading side (one tailer per worker, catch-up reads),
`_redis_settings.py` its keyword arguments, their checks and its connections.
`redis` itself is imported only when a store opens, so `import ssekit.resume`
never loads it.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import socket
import sys
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, Unpack

import anyio

from .._exceptions import StoreUnavailable
from .._redact import log_error
from ._frames import Frames
from ._log import Log
from ._reader import frames_after
from ._redis_lua import COMMIT, CREATE, END, RENEW, Keys
from ._redis_owner import Committer, Op, Owned
from ._redis_settings import RedisOptions, RedisSettings
from ._redis_tail import Tailer
from ._store import STOPPED, Cancel, Probe

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

__all__ = ["RedisStore"]

_INSTALL_HINT = 'RedisStore needs the redis client: pip install "ssekit[redis]"'
_UNREACHABLE = "the stream store (Redis) cannot be reached"


class RedisStore:
    """Resumable streams in Redis Streams: a reconnect can land on any worker, on any machine.

    `RedisStore.from_url(url, ...)` builds one (so does `RedisStore(url, ...)`):

    - `lease` (`10.0`): a producing worker renews its streams' lease every
      `lease / 4` seconds; when it dies, readers get the error event
      `interrupted` within `lease` plus at most `min(lease / 4, 1)`; a stop sent
      to another worker reaches the producer within `lease / 4`.
    - `ttl` (`600.0`): seconds a running stream lives without its lease being
      renewed (it is renewed with the lease); `done_ttl` (`300.0`): seconds an
      ended stream can still be read (`404` after).
    - `max_events` (`50000`): events per stream, first and last included (then
      the error event `too_long`).
    - `prefix` (`"ssekit"`): of every key; `max_connections` (`64`): commands in
      flight at once (a request waits for a connection rather than fail);
      `socket_timeout` (`5.0`) bounds each command (not the tailer's blocking
      read, which has none).
    - `store_retry` (`10.0`): seconds Redis may be unreachable mid-stream
      before readers elsewhere end with `store_unavailable` and the producer
      stops writing to Redis; `block` (`4.0`): the tailer's `XREAD BLOCK`, at
      most 4 s.

    Connections are opened in the event loop that enters the streams. A bad
    argument is a `TypeError` or `ValueError` naming it; without the `redis`
    package, an `ImportError` saying what to install. It runs on asyncio only
    (`redis.asyncio`); under trio, entering the streams raises `RuntimeError`:
    use `MemoryStore` there.
    """

    def __init__(self, url: str, **options: Unpack[RedisOptions]) -> None:
        if importlib.util.find_spec("redis") is None:
            raise ImportError(_INSTALL_HINT)
        self._settings = settings = RedisSettings(url, **options)
        self._keys = Keys(settings.prefix)
        self.max_events = settings.max_events
        self.shared = True
        self._worker = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._opened = False
        #: The chat key of each stream linked here, renewed with its lease while it runs.
        self._chat_keys: dict[str, str] = {}

    @classmethod
    def from_url(cls, url: str, **options: Unpack[RedisOptions]) -> RedisStore:
        """A store on the Redis at `url` (`redis://`, `rediss://`, `unix://`); the
        arguments are the class's. Nothing connects until the streams are entered."""
        return cls(url, **options)

    # -- opening and closing (by ResumableStreams) ----------------------------------------

    async def _open(self, tasks: TaskGroup, frames: Frames) -> None:
        trio = sys.modules.get("trio")
        if trio is not None and trio.lowlevel.in_trio_run():
            raise RuntimeError("RedisStore runs on asyncio only (redis.asyncio); use MemoryStore")
        if self._opened:
            raise RuntimeError("this RedisStore is already open")
        self._opened, self._frames = True, frames
        self._main, self._tail = self._settings.clients()
        self._create = self._main.register_script(CREATE)
        self._end = self._main.register_script(END)
        self._commit_script = self._main.register_script(COMMIT)
        self._renew_script = self._main.register_script(RENEW)
        self._committer = Committer(self._commit, self._settings.store_retry)
        self._tailer = Tailer(
            self._main,
            self._tail,
            self._end,
            self._keys,
            frames,
            self._worker,
            block=self._settings.block,
            check=min(self._settings.lease / 4, 1.0),
            store_retry=self._settings.store_retry,
            done_ttl=self._settings.done_ttl,
        )
        self._scope = anyio.CancelScope()
        self._stopped = anyio.Event()
        tasks.start_soon(self._serve)

    async def _serve(self) -> None:
        with self._scope:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._committer.run)
                tasks.start_soon(self._renew)
                tasks.start_soon(self._tailer.run)
                tasks.start_soon(self._tailer.sweep)
        self._stopped.set()

    async def _close(self) -> None:
        self._scope.cancel()
        await self._stopped.wait()
        self._tailer.close()
        with anyio.CancelScope(shield=True):
            await self._main.aclose(close_connection_pool=True)
            await self._tail.aclose(close_connection_pool=True)
        self._opened = False

    # -- the store -------------------------------------------------------------------------

    async def create(self, sid: str, handshake: bytes, cancel: Cancel) -> Owned:
        stream, lease, _ = self._keys.of(sid)
        args: list[Any] = [handshake, self._worker, self._settings.lease_ms, self._settings.ttl_ms]
        try:
            created = await self._create(keys=[stream, lease], args=args)
        except Exception as exc:
            raise StoreUnavailable(_UNREACHABLE) from exc
        if not created:
            raise RuntimeError(f"stream id {sid[:6]}... exists already")
        owned = Owned(sid, self._keys.of(sid), handshake, cancel, self._committer)
        self._committer.register(owned)
        return owned

    async def probe(self, sid: str, frames: Frames, after: int) -> Probe | None:
        owned = self._committer.get(sid)
        if owned is not None:  # produced here: its log is what readers here were sent
            return Probe(owned.log.top, owned.log.final)
        try:
            state, seq, head = await self._tailer.resume(sid, after)
        except Exception as exc:
            raise StoreUnavailable(_UNREACHABLE) from exc
        if state == b"gone":
            return None
        return Probe(seq, None if state == b"running" else seq, head)

    def read(self, sid: str, after: int, probe: Probe) -> AsyncIterator[bytes]:
        owned = self._committer.get(sid)
        leave = None
        if owned is not None:
            log = owned.log
        elif probe.final is not None:
            log = Log(probe.final + 1)  # ended: everything is read from Redis
            log.final = probe.final
        else:
            log = self._tailer.follow(sid, probe.last)
            leave = lambda: self._tailer.release(sid, log)  # noqa: E731
        cold = lambda after: self._tailer.cold(sid, after)  # noqa: E731
        return frames_after(log, after, cold, leave, probe.head)

    async def stop(self, sid: str, frames: Frames) -> Literal["stopping", "finished"] | None:
        owned = self._committer.get(sid)
        if owned is not None:
            owned.cancel(STOPPED)
            return "stopping"
        try:
            [(state, _)] = await self._tailer.run_end("stop", [sid], STOPPED)
        except Exception as exc:
            raise StoreUnavailable(_UNREACHABLE) from exc
        return None if state == b"gone" else "finished" if state == b"finished" else "stopping"

    async def link(self, chat: str, sid: str) -> None:
        key = self._keys.chat(chat)
        try:
            await self._main.set(key, sid, px=self._settings.ttl_ms)
        except Exception as exc:
            raise StoreUnavailable(_UNREACHABLE) from exc
        self._chat_keys[sid] = key

    async def linked(self, chat: str) -> str | None:
        try:
            sid = await self._main.get(self._keys.chat(chat))
        except Exception as exc:
            raise StoreUnavailable(_UNREACHABLE) from exc
        if isinstance(sid, bytes):
            return sid.decode("ascii", "replace")
        return sid

    # -- inside ----------------------------------------------------------------------------

    async def _commit(self, ops: Sequence[tuple[Owned, Op]]) -> list[str]:
        keys: list[bytes] = []
        args: list[bytes] = [b"%d" % (self._settings.done_ttl * 1000)]
        for owned, op in ops:
            keys += owned.script_keys
            args += (owned.script_sid, op.kind.encode(), b"%d" % op.first, b"%d" % op.last)
            args.append(b"".join(op.frames))
        return [result.decode() for result in await self._commit_script(keys=keys, args=args)]

    async def _renew(self) -> None:
        """Every lease / 4: renew the lease of every stream this worker produces."""
        args: list[Any] = [self._worker, self._settings.lease_ms, self._settings.ttl_ms]
        while True:
            await anyio.sleep(self._settings.lease / 4)
            owned = self._committer.running()
            if not owned:
                self._chat_keys.clear()
                continue
            keys = [key for one in owned for key in self._keys.of(one.sid)]
            try:
                results = await self._renew_script(keys=keys, args=args)
            except Exception as exc:
                log_error(exc, "resumable streams: renewing leases in Redis failed")
                continue
            now = time.monotonic()
            for one, result in zip(owned, results, strict=True):
                one.renewed(result.decode(), now)
            await self._renew_chats({one.sid for one in owned})

    async def _renew_chats(self, running: set[str]) -> None:
        """Keep the chat keys of the running streams alive as long as the streams."""
        for sid in [sid for sid in self._chat_keys if sid not in running]:
            del self._chat_keys[sid]
        if not self._chat_keys:
            return
        try:
            async with self._main.pipeline(transaction=False) as pipe:
                for key in self._chat_keys.values():
                    pipe.pexpire(key, self._settings.ttl_ms)
                await pipe.execute()
        except Exception as exc:
            log_error(exc, "resumable streams: renewing chat keys in Redis failed")
