"""A failed model call, as a sentence safe to show: the provider's own error stays in the logs.

litellm's exceptions carry API keys, organisation ids, internal URLs and whole
tracebacks in ``str(exc)``; the client gets one of the fixed sentences below,
chosen by the HTTP status and the exception classes found anywhere in the chain.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

from ._exceptions import ModelProviderError

__all__ = [
    "CONTEXT_TOO_LONG",
    "CREDENTIALS_REJECTED",
    "FAILED",
    "RATE_LIMITED",
    "REQUEST_REJECTED",
    "TIMED_OUT",
    "UNREACHABLE",
    "provider_error",
]

CREDENTIALS_REJECTED = "The model provider rejected the credentials."
RATE_LIMITED = "The model provider is rate-limiting requests; try again shortly."
TIMED_OUT = "The model provider timed out."
CONTEXT_TOO_LONG = "The conversation is too long for the model."
REQUEST_REJECTED = "The model provider rejected the request."
UNREACHABLE = "The model provider could not be reached."
FAILED = "The model provider failed."


def provider_error(exc: BaseException) -> ModelProviderError:
    """The user-facing error for a failed litellm call (chain ``exc`` as its cause).

    Looks through the whole chain (``__cause__``, ``__context__``, litellm's
    ``original_exception``): litellm reports a refused connection as a 500 and
    a timeout mid-stream under several wrappers.
    """
    import httpx
    import openai
    from litellm.exceptions import ContextWindowExceededError

    chain = list(_exception_chain(exc))
    statuses = [status for error in chain if (status := _status_code(error)) is not None]
    timeouts = (TimeoutError, asyncio.TimeoutError, httpx.TimeoutException, openai.APITimeoutError)
    if 408 in statuses or any(isinstance(error, timeouts) for error in chain):
        return ModelProviderError(TIMED_OUT, 408)
    if any(isinstance(error, ContextWindowExceededError) for error in chain):
        return ModelProviderError(CONTEXT_TOO_LONG, 400)
    status = statuses[0] if statuses else None
    if status in (401, 403):
        return ModelProviderError(CREDENTIALS_REJECTED, status)
    if status == 429:
        return ModelProviderError(RATE_LIMITED, status)
    if status is not None and 400 <= status < 500:
        return ModelProviderError(REQUEST_REJECTED, status)
    unreachable = (httpx.ConnectError, ConnectionRefusedError, socket.gaierror)
    if any(isinstance(error, unreachable) for error in chain):
        return ModelProviderError(UNREACHABLE)
    return ModelProviderError(FAILED, status)


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending = [exc]
    while pending and len(seen) < 64:
        error = pending.pop(0)
        if id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        for linked in (
            error.__cause__,
            error.__context__,
            getattr(error, "original_exception", None),
        ):
            if isinstance(linked, BaseException):
                pending.append(linked)


def _status_code(error: BaseException) -> int | None:
    status = getattr(error, "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool) and 100 <= status < 600:
        return status
    return None
