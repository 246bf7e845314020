"""Failed logins are counted once across processes: two daphnes on one PostgreSQL and Redis.

allauth keeps its counts in the cache; a per-process cache let 5 + 4 wrong passwords through
two processes. With ``REDIS_URL`` the cache is Redis, shared, and the admin's login counts too.
"""

from __future__ import annotations

import os
import re
import uuid

import httpx
import pytest

from accounts.models import User
from tests.conftest import PASSWORD
from tests.faults.helpers import is_postgresql
from tests.support.daphne import daphne_running

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (is_postgresql() and os.environ.get("REDIS_URL")),
        reason="several processes need a shared database and cache: "
        "set DATABASE_URL=postgres://… and REDIS_URL=redis://…",
    ),
]

TOO_MANY = "Too many failed login attempts"


def post_form(client: httpx.Client, path: str, fields: dict[str, str]) -> httpx.Response:
    page = client.get(path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return client.post(path, data={"csrfmiddlewaretoken": token, **fields})


def learner_login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return post_form(client, "/accounts/login/", {"login": email, "password": password})


def admin_login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return post_form(client, "/admin/login/?next=/admin/", {"username": email, "password": password})


def test_wrong_passwords_on_two_processes_count_together():
    email = f"staff-{uuid.uuid4().hex[:8]}@example.com"
    User.objects.create_user(email=email, password=PASSWORD, is_staff=True, is_superuser=True)
    env = {"CACHE_KEY_PREFIX": f"test-{uuid.uuid4().hex}", "ACCOUNT_RATE_LIMITS": "on"}
    with daphne_running(env=env, ready_path="/healthz") as a, daphne_running(env=env, ready_path="/healthz") as b:
        # One site name for both, as behind the proxy (allauth keys the count by site and address).
        site = {"Host": "localhost"}
        with (
            httpx.Client(base_url=a.base_url, headers=site, timeout=20) as on_a,
            httpx.Client(base_url=b.base_url, headers=site, timeout=20) as on_b,
        ):
            for attempt in range(5):  # 3 on A's learner page, 2 on B's admin page
                if attempt % 2 == 0:
                    assert TOO_MANY not in learner_login(on_a, email, "wrong").text
                else:
                    assert TOO_MANY not in admin_login(on_b, email, "wrong").text

            late_on_a = learner_login(on_a, email, PASSWORD)
            late_on_b = admin_login(on_b, email, PASSWORD)

            assert TOO_MANY in late_on_a.text and "sessionid" not in on_a.cookies
            assert TOO_MANY in late_on_b.text and "sessionid" not in on_b.cookies
