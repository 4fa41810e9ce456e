"""``AsyncSimpleBot``: llamabot's streaming bot on litellm, better behaved.

- litellm is imported on first use (in a worker thread, so the event loop keeps
  serving), offline-safe; ``import ssekit`` never imports it. ``warm_up``
  pays that cost at server start instead.
- The default model is ``ssekit/echo`` (``ssekit._echo``): offline, no key.
- ``stream_async`` yields text only (llamabot's contract: its users print the
  chunks); ``stream_parts`` yields the typed parts too (reasoning, tool calls,
  finish reason, usage: ``ssekit._parts``), and is what the protocols use.
- Whenever the consumer stops (``aclose()``, cancellation, an error), the
  litellm stream is closed at once, which closes the upstream HTTP request.
- Provider failures become ``ModelProviderError``, whose message is one of
  a few fixed sentences: safe in an error event even with the default
  formatter, while the provider's own exception (API keys, internal URLs,
  tracebacks) stays attached as ``__cause__`` for the server's logs.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
from collections.abc import AsyncGenerator, Mapping
from types import ModuleType
from typing import Any

import anyio.to_thread

from ._deltas import chunk_parts, chunk_text
from ._exceptions import ModelProviderError
from ._parts import Part
from ._producer import aclose_quietly
from ._provider_errors import (
    CONTEXT_TOO_LONG,
    CREDENTIALS_REJECTED,
    FAILED,
    RATE_LIMITED,
    REQUEST_REJECTED,
    TIMED_OUT,
    UNREACHABLE,
    provider_error,
)

__all__ = [
    "CONTEXT_TOO_LONG",
    "CREDENTIALS_REJECTED",
    "DEFAULT_MODEL",
    "FAILED",
    "MODEL_VARIABLE",
    "RATE_LIMITED",
    "REQUEST_REJECTED",
    "STREAM_TARGETS",
    "TIMED_OUT",
    "UNREACHABLE",
    "AsyncSimpleBot",
    "ModelProviderError",
    "load_litellm",
    "provider_error",
    "warm_up",
]

#: The offline model used when neither ``model_name`` nor ``$SSEKIT_MODEL`` names one.
DEFAULT_MODEL = "ssekit/echo"
#: Environment variable naming the default model.
MODEL_VARIABLE = "SSEKIT_MODEL"
#: Accepted ``stream_target`` values (llamabot's). Only ``stdout`` changes behaviour here.
STREAM_TARGETS = ("stdout", "panel", "api", "none")

#: litellm's own loggers; its per-completion INFO lines go through the first.
LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")

_litellm: ModuleType | None = None
_litellm_lock = threading.Lock()


def load_litellm() -> ModuleType:
    """Import litellm, configured for servers, with ``ssekit/echo`` registered.

    Blocks for litellm's import (seconds; see ``docs/bot.md``); idempotent and
    thread-safe. ``LITELLM_LOCAL_MODEL_COST_MAP`` and ``LITELLM_OFFLINE_MODE``
    are set first unless already set, so the import reaches for no network.
    litellm's loggers are set to WARNING unless the user configured them.
    """
    global _litellm
    with _litellm_lock:
        if _litellm is None:
            from . import _echo  # sets the offline environment, then imports litellm

            _echo.register_echo_provider()
            import litellm

            litellm.suppress_debug_info = True  # no "Give Feedback" banner on stdout per error
            litellm.disable_hf_tokenizer_download = True
            _quiet_litellm_loggers()
            _litellm = litellm
        return _litellm


def _quiet_litellm_loggers() -> None:
    """Keep litellm's per-completion INFO line out of a server's logs.

    litellm's loggers have no level of their own, so they follow the root
    logger, which some frameworks set to INFO (Litestar's default logging
    config does): every completion then logged an INFO line twice, through
    litellm's own handler and, propagated, through the root's. Set them to
    WARNING, unless the user chose: ``LITELLM_LOG`` is set, or a logger
    already has a level.
    """
    if os.environ.get("LITELLM_LOG"):
        return
    for name in LITELLM_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


async def _litellm_module() -> ModuleType:
    if _litellm is not None:
        return _litellm
    return await anyio.to_thread.run_sync(load_litellm)


async def warm_up(*, complete: bool = True) -> None:
    """Pay litellm's start-up costs now, at server start, not on the first request.

    Imports litellm (in a worker thread) and registers ``ssekit/echo``; with
    ``complete``, also streams one tiny offline completion through it, which
    loads the rest of litellm's first-call machinery.
    """
    await _litellm_module()
    if complete:
        bot = AsyncSimpleBot("", model_name=DEFAULT_MODEL, stream_target="none", echo_delay=0)
        await bot("warm-up")


class AsyncSimpleBot:
    """A streaming chat bot on ``litellm.acompletion``, constructed as llamabot's.

    ``model_name=None`` means ``$SSEKIT_MODEL``, else ``ssekit/echo``.
    ``completion_kwargs`` go to every ``litellm.acompletion`` call
    (``api_base``, ``timeout``, ``echo_delay``...); ``num_retries`` defaults to
    0 so that one request is one upstream call. ``stream_target="stdout"``
    prints the reply while ``await bot(...)`` streams it; ``stream_async``
    never prints.
    """

    def __init__(
        self,
        system_prompt: str,
        temperature: float = 0.0,
        model_name: str | None = None,
        stream_target: str = "stdout",
        api_key: str | None = None,
        mock_response: str | None = None,
        **completion_kwargs: Any,
    ) -> None:
        if stream_target not in STREAM_TARGETS:
            raise ValueError(
                f"stream_target must be one of {', '.join(STREAM_TARGETS)}, not {stream_target!r}"
            )
        if model_name is None:
            model_name = os.environ.get(MODEL_VARIABLE) or DEFAULT_MODEL
        if not isinstance(model_name, str) or not model_name:
            raise ValueError(f"model_name must be a non-empty str, not {model_name!r}")
        if "litellm" not in sys.modules and importlib.util.find_spec("litellm") is None:
            raise ImportError("AsyncSimpleBot needs litellm: pip install 'ssekit[bot]'")
        self.system_prompt = system_prompt
        self.temperature = temperature
        self.model_name = model_name
        self.stream_target = stream_target
        self.api_key = api_key
        self.mock_response = mock_response
        self.completion_kwargs: dict[str, Any] = {"num_retries": 0, **completion_kwargs}

    def compose_messages(self, *messages: str | Mapping[str, Any]) -> list[dict[str, Any]]:
        """``[system] + one user message per string``; role/content dicts are kept as they are."""
        conversation: list[dict[str, Any]] = [{"role": "system", "content": self.system_prompt}]
        for message in messages:
            if isinstance(message, str):
                conversation.append({"role": "user", "content": message})
            elif isinstance(message, Mapping) and "role" in message and "content" in message:
                conversation.append(dict(message))
            else:
                raise TypeError(
                    "a message is a str or a dict with 'role' and 'content',"
                    f" not {type(message).__name__}"
                )
        return conversation

    def stream_async(self, *messages: str | Mapping[str, Any]) -> AsyncGenerator[str, None]:
        """The reply's text deltas, never ``None`` or ``""``.

        Bad messages raise here rather than at the first ``anext``. Closing the
        iterator, or cancelling the task iterating it, closes the litellm stream
        (and with it the upstream request) before the close returns.
        """
        return self._text(self._request(messages))

    def stream_parts(self, *messages: str | Mapping[str, Any]) -> AsyncGenerator[Part, None]:
        """The reply as parts: text (``str``) and the typed parts the model streams.

        [ReasoningDelta][ssekit.ReasoningDelta], [ToolCallDelta][ssekit.ToolCallDelta],
        [Finish][ssekit.Finish] and [Usage][ssekit.Usage], when the model sends them;
        the protocols of [chat_app][ssekit.chat_app] use this. Usage is asked for
        (``stream_options={"include_usage": True}``, which litellm never refuses for
        a provider) unless ``stream_options`` is among the completion kwargs. Closing
        it closes the litellm stream, as with ``stream_async``.
        """
        request = self._request(messages)
        request.setdefault("stream_options", {"include_usage": True})
        return self._parts(request)

    def _request(self, messages: tuple[str | Mapping[str, Any], ...]) -> dict[str, Any]:
        request: dict[str, Any] = {
            **self.completion_kwargs,
            "model": self.model_name,
            "messages": self.compose_messages(*messages),
            "temperature": self.temperature,
            "stream": True,
        }
        if self.api_key is not None:
            request["api_key"] = self.api_key
        if self.mock_response is not None:
            request["mock_response"] = self.mock_response
        return request

    async def _text(self, request: dict[str, Any]) -> AsyncGenerator[str, None]:
        chunks = self._chunks(request)
        try:
            async for chunk in chunks:
                text = chunk_text(chunk)
                if text:
                    yield text
        finally:
            await aclose_quietly(chunks)

    async def _parts(self, request: dict[str, Any]) -> AsyncGenerator[Part, None]:
        chunks = self._chunks(request)
        try:
            async for chunk in chunks:
                for part in chunk_parts(chunk):
                    yield part
        finally:
            await aclose_quietly(chunks)

    async def _chunks(self, request: dict[str, Any]) -> AsyncGenerator[Any, None]:
        """litellm's chunks; its failures become ``ModelProviderError``; always closed."""
        litellm = await _litellm_module()
        try:
            stream = await litellm.acompletion(**request)
        except Exception as exc:
            raise provider_error(exc) from exc
        try:
            while True:
                try:
                    chunk = await anext(stream)
                except StopAsyncIteration:
                    return
                except Exception as exc:
                    raise provider_error(exc) from exc
                yield chunk
        finally:
            # Shielded: runs to completion even when this task is being cancelled.
            await aclose_quietly(stream)

    async def __call__(self, *messages: str | Mapping[str, Any]) -> str:
        """The whole reply (printed as it streams when ``stream_target="stdout"``)."""
        show = self.stream_target == "stdout"
        parts: list[str] = []
        chunks = self.stream_async(*messages)
        try:
            async for text in chunks:
                parts.append(text)
                if show:
                    print(text, end="", flush=True)
        finally:
            await aclose_quietly(chunks)
        if show:
            print(flush=True)
        return "".join(parts)
