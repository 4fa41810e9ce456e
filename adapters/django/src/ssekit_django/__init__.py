"""ssekit's Server-Sent Events as a native Django response, served under ASGI.

```python
# asgi.py
application = ssekit_django.get_asgi_application(on_startup=[ssekit.warm_up])

# views.py
async def chat(request):
    return ssekit_django.sse_response(ssekit.sse_stream(bot, messages))

# urls.py: ssekit's whole chat endpoint at a Django URL
urlpatterns = [path("chat", csrf_exempt(ssekit_django.asgi_view(ssekit.chat_app(bot))))]
```

A response is a `StreamingHttpResponse` while Django's middleware runs, and is
then written by ssekit's core response with the connection's `send`
(`_handler.py` says why and how); everything about streaming stays in the core.
"""

from ._handler import ASGIHandler, StartupHook, get_asgi_application
from ._responses import EventSourceResponse, ServedResponse, asgi_view, sse_response

__all__ = [
    "ASGIHandler",
    "EventSourceResponse",
    "ServedResponse",
    "StartupHook",
    "asgi_view",
    "get_asgi_application",
    "sse_response",
]
