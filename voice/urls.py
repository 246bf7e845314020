from django.urls import path

from voice import views

app_name = "voice"

urlpatterns = [
    path("tutor/", views.tutor_page, name="tutor"),
    path("tutor/token/", views.realtime_token, name="realtime-token"),
    path("tutor/calls/", views.realtime_call, name="calls"),
]
