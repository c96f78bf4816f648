"""WebSocket routes."""

from django.urls import path

from generations.consumers import GenerationConsumer

websocket_urlpatterns = [
    path("ws/generations/", GenerationConsumer.as_asgi()),
]
