"""Per text delta, build + encode in process: ssekit's protocol framings against a floor and peers.

For each protocol frame of one text delta (a `chat.completion.chunk`, a Responses
`response.output_text.delta` event with its sequence number, an AI SDK
`text-delta` chunk, an AG-UI `TEXT_MESSAGE_CONTENT` event), the ways to get the
bytes, interleaved round by round (A B C A B C ...):

- **floor**: hand-rolled, `"data: " + json.dumps(the event's dict) + "\\n\\n"`, the
  dict built per delta (what a `StreamingResponse` endpoint does);
- **ssekit**: the framing's `frame(text)` (a prefix and suffix made once per stream
  around the delta's escaped JSON string);
- the peers, each building its own model per delta and encoding it as it serves it:
  **openai pydantic** (the `openai` package's models, `model_dump_json()`), for
  OpenAI; **pydantic-ai VercelAIEventStream** (`TextDeltaChunk` and the adapter's
  own `encode_event`, `sdk_version=7`), for the AI SDK; **ag-ui-protocol
  EventEncoder** (`TextMessageContentEvent` and `EventEncoder().encode`), for
  AG-UI (pydantic-ai's AG-UI adapter encodes with that same `EventEncoder`).

Each figure is the median ns per delta over the rounds and its ratio to the floor
measured in the same round; the last table is ssekit's speed-up over each peer.
Every target's bytes are checked to hold the same JSON first.

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

from ag_ui.core import TextMessageContentEvent
from ag_ui.encoder import EventEncoder
from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import Choice, ChoiceDelta
from openai.types.responses import ResponseTextDeltaEvent
from pydantic_ai.ui.vercel_ai import VercelAIEventStream
from pydantic_ai.ui.vercel_ai.response_types import TextDeltaChunk

from ssekit.protocols import ChatLimits, OpenAIProtocol
from ssekit.protocols._ag_ui_stream import RunFraming
from ssekit.protocols._ai_sdk_stream import UIMessageFraming
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


def ai_sdk_targets() -> dict[str, Frame]:
    framing = UIMessageFraming()
    framing.opening()
    framing.frame("")  # opens the text part: later deltas are the hot path
    part_id = json.loads(framing.frame("")[len(b"data: ") :])["id"]
    adapter = VercelAIEventStream(sdk_version=7)

    def floor(text: str) -> bytes:
        chunk = {"type": "text-delta", "id": part_id, "delta": text}
        return ("data: " + json.dumps(chunk) + "\n\n").encode()

    def pydantic_ai(text: str) -> bytes:
        return adapter.encode_event(TextDeltaChunk(id=part_id, delta=text)).encode()

    return {
        "floor": floor,
        "ssekit UIMessageFraming.frame": framing.frame,
        "pydantic-ai VercelAIEventStream": pydantic_ai,
    }


def ag_ui_targets() -> dict[str, Frame]:
    framing = RunFraming("thread", "run")
    framing.opening()
    framing.frame("")  # opens the text message: later deltas are the hot path
    message_id = framing.message_id
    encoder = EventEncoder()

    def floor(text: str) -> bytes:
        event = {"type": "TEXT_MESSAGE_CONTENT", "messageId": message_id, "delta": text}
        return ("data: " + json.dumps(event) + "\n\n").encode()

    def ag_ui(text: str) -> bytes:
        return encoder.encode(TextMessageContentEvent(message_id=message_id, delta=text)).encode()

    return {
        "floor": floor,
        "ssekit RunFraming.frame": framing.frame,
        "ag-ui-protocol EventEncoder": ag_ui,
    }


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


def measure(
    targets: dict[str, Frame], text: str, rounds: int, calls: int
) -> dict[str, list[float]]:
    """ns per delta of each target, one sample per round, the targets interleaved."""
    samples: dict[str, list[float]] = {target: [] for target in targets}
    for _ in range(rounds):
        for target, frame in targets.items():
            samples[target].append(per_call(frame, text, calls))
    return samples


def ratio(values: list[float], base: list[float]) -> float:
    """The median of the per-round ratios (each round's figures share the machine's state)."""
    return statistics.median(v / b for v, b in zip(values, base, strict=True))


def run(rounds: int, calls: int) -> list[str]:
    """Print a table per frame and text; return the summary rows (targets checked)."""
    summary = []
    for name, targets in (
        ("Chat Completions chunk", chat_targets()),
        ("Responses delta", responses_targets()),
        ("AI SDK text-delta", ai_sdk_targets()),
        ("AG-UI TEXT_MESSAGE_CONTENT", ag_ui_targets()),
    ):
        same_json(targets)
        ours, peer = list(targets)[1:]
        for label, text in TEXTS.items():
            samples = measure(targets, text, rounds, calls)
            print(f"\n### {name}, {label} ({len(text)} chars)\n")
            print("| target | ns/delta (median) | min-max | x floor |\n|---|---:|---:|---:|")
            for target, values in samples.items():
                print(
                    f"| {target} | {statistics.median(values):,.0f} | "
                    f"{min(values):,.0f}-{max(values):,.0f} | "
                    f"{ratio(values, samples['floor']):.2f}x |"
                )
            floor_ratio = ratio(samples[ours], samples["floor"])
            speedup = ratio(samples[peer], samples[ours])
            floor_verdict = "met" if floor_ratio <= 1.0 else "MISSED"
            peer_verdict = "met" if speedup >= 5.0 else "MISSED"
            summary.append(
                f"| {name}, {label} | {floor_ratio:.2f}x {floor_verdict}"
                f" | {peer}: {speedup:.1f}x {peer_verdict} |"
            )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few rounds, to check it runs")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    rounds, calls = (3, 2_000) if args.quick else (args.rounds, args.calls)
    print(f"ns per text delta: {rounds} interleaved rounds x {calls:,} calls per target.")
    summary = run(rounds, calls)
    print("\n### Targets: ssekit <= 1.0x the floor, >= 5x faster than the peer\n")
    print("| frame, text | ssekit x floor | peer / ssekit |\n|---|---|---|")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
