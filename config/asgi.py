"""ASGI entry point: HTTP through Django, WebSockets through Channels.

The app's own sockets pass the origin validator and session auth. The Realtime stand-in's
``/standin/v1/realtime`` socket, when ``REALTIME_STANDIN`` mounts it, is routed before them: an
API client sends no Origin and no cookie, and authenticates with a bearer key.
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from config.access_log import access_log_install  # noqa: E402
from config.checks import unsafe_settings_refuse  # noqa: E402

unsafe_settings_refuse()
access_log_install()  # before daphne builds its access logger (after loading this module)

# Imported after Django is set up: routing pulls in models.
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from config.origins import websocket_origin_validator  # noqa: E402
from voice.routing import websocket_urlpatterns  # noqa: E402
from voice.sideband import sideband_loop_start  # noqa: E402

websockets = websocket_origin_validator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
if settings.REALTIME_STANDIN:
    from standin.realtime_ws import standin_websockets  # noqa: E402

    websockets = standin_websockets(websockets)

router = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websockets})


async def application(scope, receive, send):
    """The router, with this process's sideband loop started on its first connection (it
    claims live calls, renews them and takes over those whose holder died)."""
    if scope["type"] != "lifespan":
        sideband_loop_start()
    return await router(scope, receive, send)


# Everything loaded so far (Django, the apps, the routing) lives as long as the process: kept
# out of the collector's full passes, which otherwise walk all of it and pause every socket
# of the process while they do (the tail of bench/save.py's ack latency).
gc.freeze()
