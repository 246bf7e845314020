from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from accounts.forms import AdminLoginForm
from config.health import healthz

admin.site.site_header = "Parlance staff"
admin.site.site_title = "Parlance staff"
admin.site.index_title = "Learners, vocabulary and sessions"
# Failed staff logins count against the same limits as the learners' login page.
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("tutor.urls")),
    path("", include("voice.urls")),
]

if settings.REALTIME_STANDIN:
    urlpatterns.append(path("standin/", include("standin.urls")))
