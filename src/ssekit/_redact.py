"""Turn an exception into text that is safe to send to a browser.

Provider errors carry API keys, bearer tokens, internal URLs and whole
tracebacks in ``str(exc)``. The client gets one short line with those masked;
the full exception goes to the ``ssekit`` logger.

Every rule below is linear in the text it reads (no nested or overlapping
quantifiers; a rule that scans a run of characters starts only where the run
starts), and the default formatter reads at most `_SCAN_LIMIT` characters of a
message, so formatting a megabyte-long message costs what formatting a short
one does.
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
#: Characters of a message the formatter ever reads: ten times what it may send,
#: so that masking long URLs and keys still leaves a full line to show.
_SCAN_LIMIT = 2000

_Replacement = str | Callable[[re.Match[str]], str]

#: Characters of keys and tokens: base64 (``+/=``), base64url (``-_``), JWT dots,
#: percent-encoding, ``~``, and backslashes (JSON may write ``/`` as ``\/``).
_KEY_CHARS = r"A-Za-z0-9+/=_.~%\\-"
_PIECE = re.compile(r"[A-Za-z0-9]+")
_DIGIT_THEN_LETTER = re.compile(r"\d[A-Za-z]")
_LONE_LOWER_BETWEEN_CAPITALS = re.compile(r"[A-Z][a-z][A-Z]")
_CLASS_CHANGE = re.compile(r"[a-z](?=[A-Z0-9])|[A-Z](?=[a-z0-9])|[0-9](?=[A-Za-z])")
_LOWER_THEN_CAPITAL = re.compile(r"[a-z][A-Z]")


def _looks_generated(run: str) -> bool:
    """Whether a long run of key characters is a machine-made secret, not written text.

    Written names keep digits apart or at the end (``claude-3-5-sonnet-20241022``,
    ``Qwen2``) and capitalise whole words (``ContextWindowExceededError``). Random
    keys put digits among letters (``K7MDENG``), a lone lower-case letter between
    capitals (``TWqP``), and change character class at ~60% of adjacent pairs
    (names: under 35%). Random 40-character base64 keys pass all three tests
    about 3 times in 100,000 (tests/unit/test_redact.py bounds it).
    """
    pieces = _PIECE.findall(run)
    for piece in pieces:
        if len(piece) >= 7 and (
            _DIGIT_THEN_LETTER.search(piece) or _LONE_LOWER_BETWEEN_CAPITALS.search(piece)
        ):
            return True
    pairs = sum(len(piece) - 1 for piece in pieces)
    return pairs >= 16 and len(_CLASS_CHANGE.findall(run)) >= 0.4 * pairs


def _mask_generated(match: re.Match[str]) -> str:
    return "<redacted>" if _looks_generated(match[0]) else match[0]


def _mask_host_name(match: re.Match[str]) -> str:
    """``<host>`` for a dotted name that ends in a top-level-domain-like label.

    That label is letters only (``corp``, ``COM``): version numbers
    (``gpt-3.5-turbo``) and Python names ending in a class (``litellm.RateLimitError``:
    a lower-case letter before a capital) stay.
    """
    last = match["name"].rsplit(".", 1)[1]
    if len(last) < 2 or not last.isalpha() or _LOWER_THEN_CAPITAL.search(last):
        return match[0]
    return "<host>"


def _any_case(*words: str) -> str:
    """A group matching any of ``words`` (lower-case, each starting with a letter) in any case.

    The first-letter test in front lets `re` skip ahead: it would otherwise try a
    case-insensitive alternation at every position, about 20 times slower.
    """
    first_letters = "".join(sorted({word[0] for word in words} | {w[0].upper() for w in words}))
    return f"(?=[{first_letters}])(?i:{'|'.join(words)})"


#: Labels whose value is a secret: words found anywhere in a label
#: (``AWS_SECRET_ACCESS_KEY``, ``x-api-key``, ``db_password``, ``AccountKey``, ``JSESSIONID``;
#: not ``max_tokens``, a count, nor ``KeyError:``, an exception), and words that are
#: secret only as a whole label (``&sig=`` of an Azure SAS, ``X-Amz-Signature=``; not
#: ``SignatureDoesNotMatch:``).
_SECRET_WORDS = ("key", "secret", "token(?!s)", "passw", "pwd", "passphrase", "credential")
_SECRET_LABEL = (
    _any_case(*_SECRET_WORDS, "session(?!s)")
    + r"(?![\w-]{0,30}(?i:error|exception))[\w-]{0,30}+"
    + r"|(?<!\w)"
    + _any_case("sig", "sas", "pass", "pw", "signature")
    + r"(?![\w-])"
)
#: A quoted value (to its closing quote, escapes included; ``b'...'`` too) or a bare one
#: (to a separator).
_VALUE = r"""(?:[bB]?"(?:[^"\\]|\\.)*+"?|[bB]?'(?:[^'\\]|\\.)*+'?|[^\s'",;}&]+)"""

_REDACTIONS: tuple[tuple[re.Pattern[str], _Replacement], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        # A PEM private key (GCP service-account JSON carries one): everything from its
        # header to its footer, or to the end of the line when the footer is not there
        # (the scan limit may have cut the header after ``PRIVATE``).
        (
            r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE(?:(?!-----END).)*+(?:-----END[^-]*+-*+)?",
            "<private key>",
        ),
        # Anything with a scheme: the URL may carry credentials or name an internal host.
        (r"(?<![A-Za-z0-9+.-])[A-Za-z0-9+.-]*+://\S*", "<url>"),
        # Credentials before a host without a scheme: ``user:password@host``.
        (r"""(?<![^\s'"])[^\s:@'"<>/]{1,64}+:[^\s@'"<>]{0,128}+@""", "<credentials>@"),
        # Header values that are credentials whole, scheme included: ``Authorization: Bearer x``.
        (
            rf"""\b({_any_case("authorization", "proxy-authorization", "cookie", "set-cookie")}"""
            r"""['"]?\s*[:=]\s*)(?:'[^']*+'?|"[^"]*+"?|[^'"]*+)""",
            r"\1<redacted>",
        ),
        # Authorization schemes without their header: ``Bearer eyJ...``, ``Basic dXNlcjpw``.
        (
            rf"\b({_any_case('bearer', 'basic', 'digest')})\s+[A-Za-z0-9._~+/=-]{{8,}}",
            r"\1 <redacted>",
        ),
        # ``token <value>``, unless the value is a plain word or number (``token limit``).
        (
            rf"\b({_any_case('token')})\s+(?![A-Za-z][a-z]*+\b|[A-Z]++\b|\d++\b)"
            r"[A-Za-z0-9._~+/=-]{6,}",
            r"\1 <redacted>",
        ),
        # ``label=value``, ``"label": "value"``, ``'label' => 'value'`` whose label says secret
        # (also in query strings).
        (rf"""((?:{_SECRET_LABEL})['"]?\s*[:=]>?\s*){_VALUE}""", r"\1<redacted>"),
        # Vendor key formats: OpenAI/Anthropic/OpenRouter sk-..., Stripe sk_live_/rk_live_,
        # Google AIza... and OAuth ya29., AWS AKIA/ASIA, GitHub, GitLab, Slack, Hugging Face,
        # Groq, Replicate, Perplexity, xAI.
        (
            r"\b(?:sk-[A-Za-z0-9_-]{8,}|[spr]k_(?:live|test)_[0-9A-Za-z]{8,}"
            r"|AIza[0-9A-Za-z_-]{20,}|ya29\.[0-9A-Za-z._-]{8,}|(?:AKIA|ASIA)[0-9A-Z]{12,}"
            r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|glpat-[\w-]{20,}"
            r"|xox[abprs]-[A-Za-z0-9-]{10,}|hf_[A-Za-z0-9]{20,}|gsk_[A-Za-z0-9]{20,}"
            r"|r8_[A-Za-z0-9]{20,}|pplx-[A-Za-z0-9]{20,}|xai-[A-Za-z0-9]{20,})",
            "<redacted>",
        ),
        # JSON Web Tokens: base64url JSON header (``eyJ``), payload, signature.
        (r"(?<![\w-])eyJ[\w-]*+\.[\w-]++(?:\.[\w-]*+)?", "<redacted>"),
        # Long opaque runs: unknown vendors' keys, AWS secret keys (base64, so ``/`` and ``+``
        # are part of them), Azure's 32 hex digits, base64 pieces of PEM bodies, signatures.
        (rf"(?<![{_KEY_CHARS}])[{_KEY_CHARS}]{{20,}}", _mask_generated),
        # IPv4 addresses, with their port.
        (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "<host>"),
        # IPv6 addresses: in brackets (``[fe80::1]:8080``), or bare with a ``::`` (``fd00::1``).
        (r"\[[0-9a-fA-F.]*+:[0-9a-fA-F:.]*+\](?::\d+)?", "<host>"),
        (
            r"(?<![\w:.])(?=[0-9a-fA-F:]*::)[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}(?![\w:])",
            "<host>",
        ),
        # ``host:port``, single-label internal hosts too (``llm-gateway:8080``), with any
        # path; a host starts with a letter, so times (``12:30``) stay.
        (r"""(?<![\w.-])[A-Za-z][\w-]*+(?:\.[\w-]++)*+:\d{2,5}(?!\w)(?:/[^\s'"]*)?""", "<host>"),
        # A host named as one: ``host='llm-gateway'``, ``Failed to resolve 'db-1'``.
        (
            rf"""\b({_any_case("hostname", "host", "resolve")}['"]?\s*[:=]?\s*['"]?)"""
            r"(?=[\w.]*[-.\d])[A-Za-z0-9][\w.-]*+",
            r"\1<host>",
        ),
        # Dotted host names in any case (``internal.corp``, ``API.EXAMPLE.COM``), with any path.
        (r"""(?<![\w./-])(?P<name>[\w-]++(?:\.[\w-]++)++)(?:/[^\s'"]*)?""", _mask_host_name),
        # Absolute file paths (from tracebacks or OS errors): POSIX, Windows, UNC.
        (r"(?<![\w<])(?:/[\w.@-]++){2,}/?", "<path>"),
        (r"""\b[A-Za-z]:\\[^\s'"]+""", "<path>"),
        (r"""\\\\[^\s'"\\]++\\[^\s'"]*""", "<path>"),
    )
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


def _scanned_part(text: str) -> str:
    """At most `_SCAN_LIMIT` characters of ``text``, cut between words.

    A word the limit falls in may be half a secret that no rule recognises, so it
    is dropped whole, and `` …`` marks the cut.
    """
    if len(text) <= _SCAN_LIMIT:
        return text
    head = text[:_SCAN_LIMIT]
    if not (head[-1].isspace() or text[_SCAN_LIMIT].isspace()):
        words = head.rsplit(maxsplit=1)
        head = words[0] if len(words) == 2 else ""
    return head + " …" if head.strip() else ""


def safe_error_text(text: str, fallback: str) -> str:
    """One short, redacted, non-empty line: what an error event may carry."""
    line = one_line(redact(one_line(_scanned_part(text))))
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
