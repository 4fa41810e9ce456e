"""Django: ``POST /chat`` with ``{"messages": [...]}`` streams the bot's answer as SSE.

A whole Django project in one file: settings, view, URL and ASGI application. Run it with
``uv run uvicorn examples.django_chat:app`` (or ``uv run daphne examples.django_chat:app``),
then::

    curl -N 127.0.0.1:8000/chat -H 'content-type: application/json' -d '{"messages": ["Hi!"]}'

In a project made by ``django-admin startproject``, ``chat`` goes in ``views.py``, the
``path`` in ``urls.py``, and ``application = get_asgi_application(on_startup=[warm_up])`` in
``asgi.py``, imported from ``ssekit_django`` instead of ``django.core.asgi``.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.utils import get_random_secret_key
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from ssekit_django import get_asgi_application, sse_response

from ssekit import AsyncSimpleBot, sse_stream, warm_up

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    SECRET_KEY=get_random_secret_key(),  # a real project reads its own from the environment
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.gzip.GZipMiddleware",  # it leaves event streams alone
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ],
)

bot = AsyncSimpleBot("You are a helpful assistant.", stream_target="none")


@csrf_exempt  # safe: only a JSON body is accepted, which a form on another site cannot send
@require_POST
async def chat(request: HttpRequest) -> HttpResponseBase:
    if request.content_type != "application/json":
        return JsonResponse({"detail": "send application/json"}, status=415)
    try:
        messages = json.loads(request.body)["messages"]
    except (ValueError, TypeError, KeyError):
        messages = None
    if not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
        return JsonResponse({"detail": 'send {"messages": ["..."]}'}, status=400)
    if not messages:
        return JsonResponse({"detail": "messages must not be empty"}, status=400)
    return sse_response(sse_stream(bot, messages))


urlpatterns = [path("chat", chat)]

# litellm's import takes seconds: warm_up pays it at server start, not on the first request.
app = get_asgi_application(on_startup=[warm_up])
