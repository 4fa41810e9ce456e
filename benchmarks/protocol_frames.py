"""Per text delta, build + encode in process: ssekit's OpenAI framings against a floor and a peer.

For each protocol frame of one text delta (a `chat.completion.chunk`, a Responses
`response.output_text.delta` event with its sequence number), three ways to get
the bytes, interleaved round by round (A B C A B C ...):

- **floor**: hand-rolled, `"data: " + json.dumps(the event's dict) + "\\n\\n"`, the
  dict built per delta (what a `StreamingResponse` endpoint does);
- **ssekit**: the framing's `frame(text)` (a prefix and suffix made once per stream
  around the delta's escaped JSON string);
- **openai pydantic**: the `openai` package's own model, built and
  `model_dump_json()`-ed per delta (how servers built on the `openai` types do it).

Each figure is the median ns per delta over the rounds and its ratio to the floor
measured in the same round. Every target's bytes are checked to hold the same
JSON first. The AI SDK and AG-UI framings can be added as more rows.

    uv run python benchmarks/protocol_frames.py            # full run
    uv run python benchmarks/protocol_frames.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import Choice, ChoiceDelta
from openai.types.responses import ResponseTextDeltaEvent

from ssekit.protocols import ChatLimits, OpenAIProtocol
from ssekit.protocols._openai_chat import ChatFraming
from ssekit.protocols._openai_responses import ResponsesFraming

Frame = Callable[[str], bytes]
TEXTS = {"token": " hello", "sentence": " The quick brown fox jumps over the lazy dog, again."}
OPENAI = OpenAIProtocol()


def chat_targets() -> dict[str, Frame]:
    turn = OPENAI.turn(OPENAI.CHAT, {"messages": [{"role": "user", "content": "x"}]}, ChatLimits())
    framing = ChatFraming(turn)
    head = json.loads(framing.opening()[len(b"data: ") :])
    chunk_id, created, model = head["id"], head["created"], head["model"]

    def floor(text: str) -> bytes:
        chunk = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [
                {"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}
            ],
        }
        return ("data: " + json.dumps(chunk) + "\n\n").encode()

    def pydantic(text: str) -> bytes:
        choice = Choice(index=0, delta=ChoiceDelta(content=text), logprobs=None, finish_reason=None)
        chunk = ChatCompletionChunk(
            id=chunk_id,
            object="chat.completion.chunk",
            created=created,
            model=model,
            choices=[choice],
        )
        return b"data: " + chunk.model_dump_json(exclude_unset=True).encode() + b"\n\n"

    return {"floor": floor, "ssekit ChatFraming.frame": framing.frame, "openai pydantic": pydantic}


def responses_targets() -> dict[str, Frame]:
    turn = OPENAI.turn(OPENAI.RESPONSES, {"input": "x"}, ChatLimits())
    framing = ResponsesFraming(turn)
    framing.opening()
    framing.frame("")  # opens the message item: later deltas are the hot path
    item = framing.final_document()["output"][0]["id"]
    counter = [framing._seq]

    def event(text: str) -> dict[str, Any]:
        seq = counter[0]
        counter[0] += 1
        return {
            "type": "response.output_text.delta",
            "item_id": item,
            "output_index": 0,
            "content_index": 0,
            "logprobs": [],
            "delta": text,
            "sequence_number": seq,
        }

    def floor(text: str) -> bytes:
        data = event(text)
        head = f"event: {data['type']}\nid: {data['sequence_number']}\ndata: "
        return (head + json.dumps(data) + "\n\n").encode()

    def pydantic(text: str) -> bytes:
        data = ResponseTextDeltaEvent(**event(text))
        head = f"event: {data.type}\nid: {data.sequence_number}\ndata: "
        return head.encode() + data.model_dump_json().encode() + b"\n\n"

    def ssekit(text: str) -> bytes:
        counter[0] += 1
        return framing.frame(text)

    return {"floor": floor, "ssekit ResponsesFraming.frame": ssekit, "openai pydantic": pydantic}


def same_json(targets: dict[str, Frame]) -> None:
    """Every target's frame holds the same JSON (sequence numbers aside), or the run is void."""
    documents = []
    for frame in targets.values():
        data = json.loads(frame(" hé\n").split(b"data: ", 1)[1])
        data.pop("sequence_number", None)
        documents.append(data)
    assert all(document == documents[0] for document in documents), documents


def per_call(frame: Frame, text: str, calls: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(calls):
        frame(text)
    return (time.perf_counter_ns() - start) / calls


def run(rounds: int, calls: int) -> None:
    for name, targets in (
        ("Chat Completions chunk", chat_targets()),
        ("Responses delta", responses_targets()),
    ):
        same_json(targets)
        for label, text in TEXTS.items():
            samples: dict[str, list[float]] = {target: [] for target in targets}
            for _ in range(rounds):
                for target, frame in targets.items():
                    samples[target].append(per_call(frame, text, calls))
            print(f"\n### {name}, {label} ({len(text)} chars)\n")
            print("| target | ns/delta (median) | min-max | x floor |\n|---|---:|---:|---:|")
            floor = samples["floor"]
            for target, values in samples.items():
                ratio = statistics.median(v / f for v, f in zip(values, floor, strict=True))
                print(
                    f"| {target} | {statistics.median(values):,.0f} | "
                    f"{min(values):,.0f}-{max(values):,.0f} | {ratio:.2f}x |"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few rounds, to check it runs")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    rounds, calls = (3, 2_000) if args.quick else (args.rounds, args.calls)
    print(f"# Protocol frames: ns per text delta ({rounds} interleaved rounds x {calls:,} calls)")
    run(rounds, calls)


if __name__ == "__main__":
    main()
