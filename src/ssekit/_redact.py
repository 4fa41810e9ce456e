"""Turn an exception into text that is safe to send to a browser.

Provider errors carry API keys, bearer tokens, internal URLs and whole
tracebacks in ``str(exc)``. The client gets one short line with those masked;
the full exception goes to the ``ssekit`` logger.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

__all__ = [
    "ErrorFormatter",
    "error_text",
    "format_error",
    "log_error",
    "one_line",
    "redact",
    "safe_error_text",
]

logger = logging.getLogger("ssekit")

#: Turns an exception into the ``data`` of an error event.
ErrorFormatter = Callable[[BaseException], str]

_MAX_LENGTH = 200

_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Anything with a scheme: the URL may carry credentials or name an internal host.
    (re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://\S+"), "<url>"),
    # Authorization values.
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 <redacted>"),
    # key=value / key: value pairs whose name says secret.
    (
        re.compile(
            r"(?i)\b([\w-]*(?:api[_-]?key|secret|token|password|passwd|credential)[\w-]*)"
            r"(['\"]?\s*[:=]\s*['\"]?)[^\s'\",;}]+"
        ),
        r"\1\2<redacted>",
    ),
    # Vendor key formats: OpenAI/Anthropic sk-..., Google AIza..., AWS AKIA..., GitHub, Slack, HF.
    (
        re.compile(
            r"\b(?:sk-[A-Za-z0-9_-]{8,}|AIza[0-9A-Za-z_-]{20,}|(?:AKIA|ASIA)[0-9A-Z]{12,}"
            r"|gh[pousr]_[A-Za-z0-9]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|hf_[A-Za-z0-9]{20,})"
        ),
        "<redacted>",
    ),
    # Long opaque tokens mixing letters and digits (JWTs, hex keys, unknown vendors).
    (
        re.compile(r"\b(?=[A-Za-z0-9._-]*\d)(?=[A-Za-z0-9._-]*[A-Za-z])[A-Za-z0-9._-]{32,}"),
        "<redacted>",
    ),
    # IPv4 / IPv6-ish addresses and host:port pairs.
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<host>"),
    (re.compile(r"\[[0-9a-fA-F:]+\](?::\d+)?"), "<host>"),
    (re.compile(r"\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*:\d{2,5}\b"), "<host>"),
    # Dotted lower-case host names (internal.corp, api.example.com).
    (re.compile(r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b"), "<host>"),
    # Absolute file paths (from tracebacks or OS errors).
    (re.compile(r"(?<![\w<])(?:/[\w.@-]+){2,}/?"), "<path>"),
    (re.compile(r"\b[A-Za-z]:\\[^\s'\"]+"), "<path>"),
)


def redact(text: str) -> str:
    """Mask secrets, URLs, hosts and paths in ``text``."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def one_line(text: str) -> str:
    """The first meaningful line of ``text``, without any traceback after it."""
    head = text.split("Traceback (most recent call last)", 1)[0]
    for line in head.splitlines():
        line = " ".join(line.split())
        if line:
            return line
    return ""


def safe_error_text(text: str, fallback: str) -> str:
    """One short, redacted, non-empty line: what an error event may carry."""
    line = one_line(redact(one_line(text)))
    if len(line) > _MAX_LENGTH:
        line = line[: _MAX_LENGTH - 1] + "…"
    return line or fallback


def format_error(exc: BaseException) -> str:
    """The default formatter: the exception's message, one line, secrets masked.

    Falls back to the exception's class name when the message is empty
    (``TimeoutError()`` has none), so an error event never carries empty data.
    """
    return safe_error_text(str(exc), type(exc).__name__)


def log_error(exc: BaseException, context: str) -> None:
    """Log the whole exception server-side, where its details belong."""
    logger.error("%s: %s: %s", context, type(exc).__name__, exc, exc_info=exc)


def error_text(exc: BaseException, formatter: ErrorFormatter, context: str) -> str:
    """The one line an error event carries for `exc`; the whole error goes to the log.

    Whatever a custom `formatter` returns (or raises), the result is one
    non-empty line: the exception's class name stands in for nothing usable.
    """
    log_error(exc, context)
    fallback = type(exc).__name__
    try:
        text = formatter(exc)
    except Exception as formatter_exc:
        log_error(formatter_exc, "the error formatter failed")
        return fallback
    return (one_line(text) if isinstance(text, str) else "") or fallback
