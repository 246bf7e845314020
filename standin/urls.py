from django.urls import path

from standin import views

app_name = "standin"

urlpatterns = [
    path("v1/realtime/client_secrets", views.client_secrets, name="client-secrets"),
    path("v1/realtime/calls", views.calls, name="calls"),
    path("v1/realtime/calls/<str:call_id>/hangup", views.hangup, name="hangup"),
]
