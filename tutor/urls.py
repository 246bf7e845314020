from django.urls import path

from tutor import views

app_name = "tutor"

urlpatterns = [
    path("", views.home, name="home"),
    path("tutor/", views.tutor_page, name="tutor"),
]
