"""1,000 random cuts: every answer still arrives exactly once, resuming on the other worker.

Two uvicorn workers share one redis-server; each sits behind a proxy the test
controls that cuts every answer after a random number of body bytes (inside an
event, a line, or an HTTP chunk header). A client resumes each time through the
*other* proxy, hence on the other worker, with the `Last-Event-ID` its parser
(httpx-sse: it drops the event a cut left unfinished) last dispatched. Many short
answers run in parallel so the thousand cuts take seconds.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
import httpx_sse
import pytest

from tests.resume.workers import Worker, workers
from tests.support.cutting_proxy import CuttingProxy, cutting_proxy
from tests.support.redis import RedisServer
from tests.support.resume_apps import expected_text

CUTS = 1000
COUNT = 30  # tokens per answer: events 1 (handshake) .. COUNT + 2 (done)
PARALLEL = 25
MAX_ANSWERS = 400
#: A POST is cut only once its first event (the stream id) went through: before it,
#: a client cannot know which stream to resume.
FIRST_EVENT_BYTES = 140
MOST_BYTES = 420


@dataclass
class Answer:
    tag: str
    seqs: list[int] = field(default_factory=list)
    text: str = ""
    connections: int = 0


@pytest.fixture
def pair(tmp_path: Path, redis: RedisServer) -> Iterator[list[Worker]]:
    with workers(tmp_path, redis.url, 2) as both:
        yield both


def test_a_thousand_random_cuts_lose_and_repeat_nothing(
    pair: list[Worker], redis: RedisServer
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)

    def cut(request: bytes) -> int:
        low = FIRST_EVENT_BYTES if request.startswith(b"POST") else 1
        return rng.randint(low, MOST_BYTES)

    with cutting_proxy(pair[0].port, cut) as to_a, cutting_proxy(pair[1].port, cut) as to_b:
        answers = anyio.run(_answer_until_cut, (to_a, to_b))
        cuts = to_a.cuts + to_b.cuts
    assert cuts >= CUTS, f"only {cuts} cuts (seed {seed})"
    for answer in answers:
        assert answer.seqs == list(range(1, COUNT + 3)), f"{answer.tag}: {answer.seqs} ({seed})"
        assert answer.text == expected_text(COUNT), f"{answer.tag} (seed {seed})"
    calls = redis.command("MGET", *(f"test:calls:{answer.tag}" for answer in answers))
    assert calls.count(b"\r\n1\r\n") == len(answers), f"a model ran twice (seed {seed})"


async def _answer_until_cut(proxies: tuple[CuttingProxy, CuttingProxy]) -> list[Answer]:
    answers: list[Answer] = []
    limits = httpx.Limits(max_keepalive_connections=0)  # a new connection for each resume
    async with httpx.AsyncClient(timeout=20, limits=limits) as client:
        while sum(proxy.cuts for proxy in proxies) < CUTS and len(answers) < MAX_ANSWERS:
            wave = [Answer(f"cut{len(answers) + index}") for index in range(PARALLEL)]
            async with anyio.create_task_group() as tasks:
                for index, answer in enumerate(wave):
                    tasks.start_soon(_read_answer, client, proxies, answer, index)
            answers += wave
    return answers


async def _read_answer(
    client: httpx.AsyncClient,
    proxies: tuple[CuttingProxy, CuttingProxy],
    answer: Answer,
    index: int,
) -> None:
    """Read one answer to its end, through proxies A and B in turn, cut after cut."""
    sid: str | None = None
    last: str | None = None
    for attempt in range(200):
        base = f"http://127.0.0.1:{proxies[(index + attempt) % 2].port}/chat"
        answer.connections += 1
        message = {"messages": [f"count={COUNT} delay=0.003 tag={answer.tag}"]}
        headers = {} if last is None else {"last-event-id": last}
        if sid is None:
            request = client.stream("POST", base, json=message)
        else:
            request = client.stream("GET", f"{base}/streams/{sid}", headers=headers)
        try:
            async with request as response:
                assert response.status_code == 200, response.status_code
                sid = response.headers["ssekit-stream-id"]
                async for sse in httpx_sse.EventSource(response).aiter_sse():
                    answer.seqs.append(int(sse.id.rsplit(":", 1)[1]))
                    last = sse.id
                    if sse.event == "message":
                        answer.text += sse.data
                    if sse.event == "done":
                        return
        except httpx.TransportError:
            continue  # cut: resume through the other proxy
    raise AssertionError(f"{answer.tag} never ended")
