from django.urls import path

from voice.consumers import ConversationConsumer

websocket_urlpatterns = [
    path("ws/tutor/sessions/<int:session_id>/", ConversationConsumer.as_asgi()),
]
