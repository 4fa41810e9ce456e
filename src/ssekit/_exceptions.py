"""Every exception ssekit raises on purpose, in one tree.

```
Exception
 └── SsekitError                  something ssekit decided at run time
      ├── ClientGone              the client left: the stream ends quietly
      │    └── WriteTimeout       ...by not reading: one write stayed blocked past send_timeout
      ├── RequestRefused          a request answered with a 4xx JSON error (status, message)
      │    └── RequestTooLarge    ...413: its body went over the limit while being read
      ├── ModelProviderError      a model provider failed; str() is a sentence safe to show
      └── StoreUnavailable        a resumable stream's store cannot take it now (answered 503)
```

Programming mistakes are not in the tree: a bad argument or option is a
`TypeError` or `ValueError` naming it, raised when the call is made, before
anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ClientGone",
    "ModelProviderError",
    "RequestRefused",
    "RequestTooLarge",
    "SsekitError",
    "StoreUnavailable",
    "WriteTimeout",
]


class SsekitError(Exception):
    """Base class of the exceptions ssekit raises at run time."""


class ClientGone(SsekitError):
    """The client disconnected, or a send to it failed: nobody is left to write to."""


class WriteTimeout(ClientGone):
    """A write stayed blocked longer than the send timeout: the client stopped reading."""

    def __init__(self, timeout: float | None) -> None:
        super().__init__(f"the client read nothing for {timeout} seconds")
        self.timeout = timeout


class RequestRefused(SsekitError):
    """A request ssekit answers with an HTTP error before any stream starts.

    `status` is the HTTP status (4xx); `message` is safe to send to the client
    (it says what is wrong with the request, never what is inside the server);
    `headers` are what the answer needs besides the JSON ones (`Allow` on a 405).
    """

    def __init__(
        self, status: int, message: str, headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers)


class RequestTooLarge(RequestRefused):
    """The request body went over the limit while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class ModelProviderError(SsekitError):
    """A model provider's failure, worded for end users.

    `str()` is one of a few fixed sentences; `status_code` is the provider's
    HTTP status when it gave one; `__cause__` is the provider's own exception,
    which may carry secrets and belongs in logs only.
    """

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class StoreUnavailable(SsekitError):
    """The store of resumable streams cannot start or read a stream now.

    Redis cannot be reached, a `MemoryStore` is full, or the streams are shutting
    down. A stream that cannot be resumed is not started: the request is answered
    `503` with `Retry-After: retry_after` before any byte. `str()` is safe to send.
    """

    def __init__(self, message: str, retry_after: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
