"""The Django targets of the benchmark server (``_targets.py``), in one Django project.

- ``/ssekit-django``: ``ssekit_django.sse_response`` in an async view, served by
  ``ssekit_django.get_asgi_application()`` (the core response writes with the
  connection's ``send``: the producer's task writes, push mode);
- ``/django``: the peer, what Django users write today: a ``StreamingHttpResponse`` of an
  async generator of encoded events, ``text/event-stream``, served by Django's own
  ``get_asgi_application()``;
- ``/ssekit-django-pull`` (not in the default target lists: the design not taken): the core
  response in pull mode (``EventStreamResponse.pull``) as the body of a
  ``StreamingHttpResponse`` that Django's own handler iterates, one chunk per hand-off
  from the producer's task to the request's.

Every view streams ``_targets._items`` as the other targets do. No middleware (the same
for all three): what is measured is the stream, not Django's per-request cost. Django's
settings belong to the process; they are configured here, once.
"""

from typing import Any

DESCRIPTIONS = {
    "ssekit-django": "`ssekit_django.sse_response` in an async Django view",
    "django": "Django pattern: `StreamingHttpResponse` of an async generator of bytes",
    "ssekit-django-pull": "core `EventStreamResponse.pull()` body iterated by Django's handler",
}


def build_django_apps(items: Any, as_dict: Any, encoded: Any) -> dict[str, Any]:
    """``{path: ASGI app}`` for the Django targets; ``items(wrap, query)`` is the stream."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            ALLOWED_HOSTS=["*"],  # the benchmark clients send `Host: b`; loopback only
            SECRET_KEY="benchmark-only-" + "x" * 40,
            ROOT_URLCONF=__name__,
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
            DATABASES={},
        )
        django.setup()
    global urlpatterns
    urlpatterns = _urls(items, as_dict, encoded)

    import ssekit_django
    from django.core.asgi import get_asgi_application

    ours, djangos = ssekit_django.get_asgi_application(), get_asgi_application()
    return {"/ssekit-django": ours, "/django": djangos, "/ssekit-django-pull": djangos}


def _urls(items: Any, as_dict: Any, encoded: Any) -> list[Any]:
    import ssekit_django
    from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
    from django.urls import path

    from ssekit import EventStreamResponse

    async def ssekit_view(request: HttpRequest) -> HttpResponseBase:
        return ssekit_django.sse_response(items(as_dict, dict(request.GET.items())))

    async def django_view(request: HttpRequest) -> HttpResponseBase:
        response = StreamingHttpResponse(
            items(encoded, dict(request.GET.items())), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response

    async def pull_view(request: HttpRequest) -> HttpResponseBase:
        core = EventStreamResponse(items(as_dict, dict(request.GET.items())))
        status, headers, body = core.pull(request.scope)  # type: ignore[attr-defined]
        response = StreamingHttpResponse(body, status=status)
        for name, value in headers:
            response[name.decode("latin-1")] = value.decode("latin-1")
        return response

    return [
        path("ssekit-django", ssekit_view),
        path("django", django_view),
        path("ssekit-django-pull", pull_view),
    ]


urlpatterns: list[Any] = []
