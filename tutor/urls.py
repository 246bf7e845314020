from django.urls import path

from tutor import views

app_name = "tutor"

urlpatterns = [
    path("", views.home, name="home"),
    path("tutor/", views.tutor_page, name="tutor"),
    path("sessions/<int:session_id>/", views.session_detail, name="session-detail"),
    path("tutor/token/", views.realtime_token, name="realtime-token"),
]
