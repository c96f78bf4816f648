"""ASGI entry point: HTTP goes to Django, WebSockets to the Channels router."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clonegen.settings")
# Django must be set up before anything imports models, so this comes first.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from generations import lifecycle  # noqa: E402
from generations.origins import OwnOriginValidator  # noqa: E402
from generations.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Not channels' AllowedHostsOriginValidator: it lets any port of an allowed host in.
        "websocket": OwnOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

lifecycle.install()
