"""URLs for in-process stand-in tests: the stand-in mounted whatever REALTIME_STANDIN says."""

from django.urls import include, path

urlpatterns = [path("standin/", include("standin.urls"))]
