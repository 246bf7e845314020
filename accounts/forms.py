"""The staff login form of the admin, counted by allauth's failed-login limits.

``/admin/login/`` is a second door to the same accounts as ``/accounts/login/``: it goes
through allauth's adapter (``authenticate``), so both share allauth's ``login_failed`` limit,
per address and per client IP, in the cache (Redis when ``REDIS_URL`` is set, so across
processes). A success rolls back its own count, the way allauth's login does.
"""

from __future__ import annotations

from allauth.account.adapter import get_adapter
from allauth.core.context import request_context
from django.contrib.admin.forms import AdminAuthenticationForm


class AdminLoginForm(AdminAuthenticationForm):
    def clean(self):
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email is not None and password:
            with request_context(self.request):
                # Raises "too many failed login attempts" before trying, once the limit is hit.
                self.user_cache = get_adapter(self.request).authenticate(
                    self.request, email=email.strip().lower(), password=password
                )
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
