"""The demo's ``/turn`` form: a size limit that follows ``maxlength``, refusals that say why."""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator

import pytest

from ssekit.demo.page import MAX_FORM, MAX_MESSAGE, BadTurn, page, parse_turn, read_form


async def chunks(body: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("character", ["a", "é", "漢", "😀"], ids=["1", "2", "3", "4-bytes"])
async def test_maxlength_characters_of_any_script_fit_the_form_limit(character: str) -> None:
    form = urllib.parse.urlencode({"message": character * MAX_MESSAGE, "transport": "post"})
    turn = parse_turn(await read_form(chunks(form.encode())))
    assert turn.message == character * MAX_MESSAGE


async def test_a_form_over_the_limit_is_refused_as_soon_as_it_is_read() -> None:
    read: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            read.append(1000)
            yield b"m" * 1000

    with pytest.raises(BadTurn, match=f"^the form is larger than {MAX_FORM} bytes$"):
        await read_form(endless())
    assert sum(read) <= MAX_FORM + 1000  # stopped at the limit, not at the end of the body


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        (b"message=+++&transport=post", "the message is empty or only spaces"),
        (b"transport=post", "the message is empty or only spaces"),
        (b"message=" + b"a" * (MAX_MESSAGE + 1), f"longer than {MAX_MESSAGE} characters"),
        (b"message=hi&transport=ws", "transport must be post or get"),
        (b"message=\xff", "the form is not UTF-8"),
    ],
)
def test_a_bad_turn_says_why(form: bytes, reason: str) -> None:
    with pytest.raises(BadTurn, match=reason):
        parse_turn(form)


def test_the_page_sets_maxlength_from_the_limit() -> None:
    html = page("ssekit/echo", "asgi")
    assert f'maxlength="{MAX_MESSAGE}"' in html
    assert f"0 / {MAX_MESSAGE} characters" in html
