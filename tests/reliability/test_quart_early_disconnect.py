"""Regression: on Quart, a client leaving right after its request must not leak the stream.

Quart's ``Request.get_data`` awaits the body with ``asyncio.wait_for``; on CPython
< 3.12 ``wait_for`` returns the result and *swallows* a cancellation that arrives as
the body completes (CPython gh-86296, fixed in 3.12). Quart cancels the handler
when the client disconnects, so if the client leaves just as its request is read,
the handler goes on, returns ssekit's response, and the body is iterated into a
dead connection forever: a bot that never ends is never closed, and the request's
tasks are never freed. The task is left with ``cancelling() > 0``; ssekit_quart
checks that before the first chunk and at every chunk or heartbeat, and ends the
stream.

On hypercorn that is the usual case, not a race: hypercorn hands Quart the body and
``http.disconnect`` together. Checked only at chunks, each such stream lived until
its first event or heartbeat (the chaos soak's early leavers, ``ping=0.5``: half a
second each, which raised the server's memory high-water by several MiB).
"""

from __future__ import annotations

import time

from tests.support.leavers import InFlight, bots_still_running, leave_at_once
from tests.support.server_app import STATS, Options, build_app
from tests.support.servers import serve

CLIENTS = 40


def test_client_leaving_as_its_request_is_read_closes_the_bot_on_quart() -> None:
    app = build_app("quart", Options(ping=0.2, send_timeout=1.0))
    rids = [f"quart-early-{index}" for index in range(CLIENTS)]
    with serve(app, "hypercorn-asyncio") as running:
        leave_at_once(running.port, rids)
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            if all(rid in STATS.records and STATS.records[rid].finally_at for rid in rids):
                break
            time.sleep(0.05)
        leaked = bots_still_running(rids)
        # Let the server's shutdown cancel what leaked, so the thread stops.
    assert not leaked, f"{len(leaked)} of {CLIENTS} bots still running 3 s after their client left"


def test_client_leaving_as_its_request_is_read_is_dropped_before_any_event_on_quart() -> None:
    """No heartbeat and a bot that waits: the request must end without waiting for output.

    Before the check at the body's start, each of these requests (its Quart request,
    hypercorn connection, tasks and bot) stayed until the server shut down.
    """
    app = InFlight(build_app("quart", Options(ping=None, send_timeout=1.0)))
    rids = [f"quart-before-first-{index}" for index in range(CLIENTS)]
    with serve(app, "hypercorn-asyncio") as running:
        left_at = time.monotonic()
        leave_at_once(running.port, rids)
        app.wait_all_served(CLIENTS, timeout=3.0)
        waited = time.monotonic() - left_at
        served, still_served = app.served, app.chat
        running_bots = bots_still_running(rids)
        # Let the server's shutdown cancel what leaked, so the thread stops.
    assert served + still_served == CLIENTS, f"{served + still_served} of {CLIENTS} requests seen"
    assert not still_served, (
        f"{still_served} of {CLIENTS} requests still served {waited:.1f} s after their client left"
    )
    assert not running_bots, f"{len(running_bots)} bots still running after their client left"
