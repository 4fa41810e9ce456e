"""Resumable answers: a stream outlives its connection and can be resumed from any event.

```python
from ssekit.resume import MemoryStore, RedisStore, ResumableStreams

streams = ResumableStreams(MemoryStore())  # one process
streams = ResumableStreams(RedisStore.from_url("redis://localhost"))  # many workers
app = ssekit.chat_app(bot, resume=streams)
```

`import ssekit.resume` never imports `redis`; `RedisStore` needs
`pip install "ssekit[redis]"` and runs on asyncio only. docs/resumable.md has the
contract (ids, status codes, headers), the Redis layout and the costs.
"""

from ._answer import StreamAnswer, requested_id
from ._ids import parse_event_id
from ._memory import MemoryStore
from ._redis import RedisStore
from ._store import (
    ABANDONED,
    INTERRUPTED,
    SHUTDOWN,
    STOPPED,
    STORE_UNAVAILABLE,
    TOO_LONG,
)
from ._streams import ResumableStreams

__all__ = [
    "ABANDONED",
    "INTERRUPTED",
    "SHUTDOWN",
    "STOPPED",
    "STORE_UNAVAILABLE",
    "TOO_LONG",
    "MemoryStore",
    "RedisStore",
    "ResumableStreams",
    "StreamAnswer",
    "parse_event_id",
    "requested_id",
]
