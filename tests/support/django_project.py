"""A Django project for tests, configured in code: no database, no installed apps.

Django's settings belong to the process, so they are configured once
([configure][tests.support.django_project.configure]); what differs between test
apps — their URLs and their middleware — is given per app to
[asgi_app][tests.support.django_project.asgi_app] and
[wsgi_app][tests.support.django_project.wsgi_app]. Each app routes with its own
URL patterns (the first middleware sets `request.urlconf`, as Django documents
for per-request URLconfs), so apps built by different tests can be served at
the same time.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import django
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.test.utils import override_settings

#: What a Django project typically lists in `settings.MIDDLEWARE` (the project template's,
#: without the ones that need installed apps and a database), and GZipMiddleware.
TYPICAL_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
)
#: A middleware that adds `X-Middleware: ran` to every response.
TAG_MIDDLEWARE = "tests.support.django_project.tag_response"
_APP_URLS = "tests.support.django_project.app_urls"
#: The URLconf of the app whose middleware is being built (read by `app_urls`).
_building: list[types.ModuleType] = []


def configure() -> None:
    """Configure Django for this process (once): DEBUG off, 127.0.0.1 only, no database."""
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["127.0.0.1"],
        SECRET_KEY="tests-only-not-a-secret-" + "x" * 32,
        ROOT_URLCONF=__name__,  # no patterns: every app routes with its own
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        DATABASES={},
        SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
        USE_TZ=True,
    )
    django.setup()


urlpatterns: list[Any] = []


def app_urls(
    get_response: Callable[[HttpRequest], Any],
) -> Callable[[HttpRequest], Any]:
    """Middleware: route every request of this app with the app's own URL patterns."""
    urlconf = _building[-1]
    if iscoroutinefunction(get_response):

        async def routed(request: HttpRequest) -> HttpResponseBase:
            request.urlconf = urlconf  # type: ignore[assignment]  # a module works as well
            response: HttpResponseBase = await get_response(request)
            return response

        return markcoroutinefunction(routed)

    def routed_sync(request: HttpRequest) -> HttpResponseBase:
        request.urlconf = urlconf  # type: ignore[assignment]
        response: HttpResponseBase = get_response(request)
        return response

    return routed_sync


app_urls.sync_capable = True  # type: ignore[attr-defined]
app_urls.async_capable = True  # type: ignore[attr-defined]


class tag_response:
    """Middleware (the classic, sync-only kind, run in a thread): `X-Middleware: ran`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response["X-Middleware"] = "ran"
        return response


def wrap_streaming_content(
    get_response: Callable[[HttpRequest], Any],
) -> Callable[[HttpRequest], Any]:
    """Middleware that wraps a streaming body, as a compressing or counting one would."""

    async def wrapping(request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = await get_response(request)
        if isinstance(response, StreamingHttpResponse):
            body = response.streaming_content

            async def passed_on() -> AsyncIterator[bytes]:
                async for chunk in body:  # type: ignore[union-attr]
                    yield chunk

            response.streaming_content = passed_on()
        return response

    return markcoroutinefunction(wrapping)


wrap_streaming_content.async_capable = True  # type: ignore[attr-defined]
wrap_streaming_content.sync_capable = False  # type: ignore[attr-defined]


@contextlib.contextmanager
def _building_app(urls: Sequence[Any], middleware: Sequence[str]) -> Iterator[None]:
    configure()
    urlconf = types.ModuleType("test_urls")
    urlconf.urlpatterns = list(urls)  # type: ignore[attr-defined]
    _building.append(urlconf)
    try:
        with override_settings(MIDDLEWARE=[_APP_URLS, *middleware]):
            yield
    finally:
        _building.pop()


def asgi_app(urls: Sequence[Any], middleware: Sequence[str] = (), **options: Any) -> Any:
    """`ssekit_django.get_asgi_application(**options)` routing `urls` through `middleware`."""
    with _building_app(urls, middleware):
        import ssekit_django

        return ssekit_django.get_asgi_application(**options)


def django_asgi_app(urls: Sequence[Any], middleware: Sequence[str] = ()) -> Any:
    """Django's own `get_asgi_application()` (for peers and for what it does not do)."""
    with _building_app(urls, middleware):
        from django.core.asgi import get_asgi_application

        return get_asgi_application()


def wsgi_app(urls: Sequence[Any], middleware: Sequence[str] = ()) -> Any:
    """Django's `get_wsgi_application()`: a sync deployment."""
    with _building_app(urls, middleware):
        from django.core.wsgi import get_wsgi_application

        return get_wsgi_application()
