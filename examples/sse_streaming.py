# mypy: allow-untyped-defs
# (marimo writes its cells as untyped functions; their bodies are still type-checked)
"""A marimo notebook: a bot's answer streamed as Server-Sent Events, step by step.

Run it with ``uv run marimo run examples/sse_streaming.py`` (or ``marimo edit``
to change it). It needs no network and no key: the bot answers with ssekit's
offline ``ssekit/echo`` model.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import logging

    import marimo as mo

    from ssekit import AsyncSimpleBot, ServerSentEvent, encode, sse_stream

    return AsyncSimpleBot, ServerSentEvent, encode, logging, mo, sse_stream


@app.cell
def _(mo):
    mo.md(
        """
        # Streaming an LLM's answer as Server-Sent Events

        `AsyncSimpleBot` streams a model's reply token by token; `sse_stream` turns that
        stream into events; `encode` gives the exact bytes a browser receives. The model
        here is ssekit's offline `ssekit/echo`: it quotes your message, one token at a time.
        """
    )


@app.cell
def _(AsyncSimpleBot):
    bot = AsyncSimpleBot("You are a helpful assistant.", stream_target="none", echo_delay=0.01)
    return (bot,)


@app.cell
async def _(bot, mo):
    # The reply, shown as it streams in.
    tokens = []
    async for _token in bot.stream_async("Hello from a marimo notebook!"):
        tokens.append(_token)
        mo.output.replace(mo.md("**Streaming:** " + "".join(tokens)))
    mo.output.replace(mo.md(f"**Streamed in {len(tokens)} tokens:** " + "".join(tokens)))


@app.cell
async def _(bot, encode, mo, sse_stream):
    # `sse_stream`: one "message" event per token, then "done".
    events = [event async for event in sse_stream(bot, ["What is an event stream?"])]
    wire = b"".join(encode(event) for event in events[:3] + events[-1:])
    mo.vstack(
        [
            mo.md(f"**{len(events)} events**; the first three and the last:"),
            mo.ui.table(events[:3] + events[-1:], selection=None),
            mo.md("On the wire:"),
            mo.plain_text(wire.decode("utf-8")),
        ]
    )


@app.cell
async def _(ServerSentEvent, bot, encode, mo, sse_stream):
    # Custom event names, and an event of your own (JSON data, an id).
    custom = [
        event
        async for event in sse_stream(
            bot, ["Rename the events"], event_type="token", done_event="end"
        )
    ]
    usage = ServerSentEvent.json({"tokens": len(custom) - 1}, event="usage", id="1")
    mo.vstack(
        [
            mo.md(f"Event names: `{sorted({event['event'] for event in custom})}`"),
            mo.plain_text(encode(custom[-1]).decode() + encode(usage).decode()),
        ]
    )


@app.cell
async def _(bot, logging, mo, sse_stream):
    # The error case: "[fail 429]" makes the echo model fail half-way, as a rate limit would.
    # The provider's error carries a fake API key and an internal URL; the event does not.
    # (The whole error goes to the `ssekit` logger, for the server's logs: quiet here.)
    _log = logging.getLogger("ssekit")
    _level = _log.level
    _log.setLevel(logging.CRITICAL)
    try:
        failed = [event async for event in sse_stream(bot, ["Now fail, please [fail 429]"])]
    finally:
        _log.setLevel(_level)
    error = failed[-1]
    assert error["event"] == "error" and "sk-echo" not in error["data"]
    mo.md(
        f"{len(failed) - 1} tokens arrived, then the stream ended with "
        f"`{error['event']}`: **{error['data']}** (no `done` event follows an error)."
    )


if __name__ == "__main__":
    app.run()
