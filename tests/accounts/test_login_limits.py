"""Failed logins are limited per address, and the admin's login counts with the learners'."""

import pytest
from django.test import Client

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

TOO_MANY = "Too many failed login attempts"


def admin_login(client: Client, email: str, password: str):
    return client.post("/admin/login/?next=/admin/", {"username": email, "password": password})


def learner_login(client: Client, email: str, password: str):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_the_admin_login_refuses_the_right_password_after_five_wrong_ones(staff):
    client = Client()
    for _ in range(5):
        assert admin_login(client, staff.email, "wrong").status_code == 200
    response = admin_login(client, staff.email, PASSWORD)
    assert response.status_code == 200
    assert TOO_MANY in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_admin_login_still_works_after_a_few_wrong_passwords(staff):
    client = Client()
    for _ in range(3):
        admin_login(client, staff.email, "wrong")
    response = admin_login(client, staff.email, PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_wrong_passwords_on_either_login_page_count_together(staff):
    client = Client()
    for _ in range(3):
        learner_login(client, staff.email, "wrong")
    for _ in range(2):
        admin_login(client, staff.email, "wrong")
    assert TOO_MANY in admin_login(client, staff.email, PASSWORD).content.decode()
    assert TOO_MANY in learner_login(client, staff.email, PASSWORD).content.decode()


def test_with_redis_down_logins_work_and_are_still_limited_in_this_process(staff, alice, settings, free_port_url):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.FallbackRedisCache",
            "LOCATION": free_port_url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    client = Client()
    assert learner_login(client, alice.email, PASSWORD).status_code == 302
    for _ in range(5):
        learner_login(Client(), staff.email, "wrong")
    assert TOO_MANY in admin_login(Client(), staff.email, PASSWORD).content.decode()


@pytest.fixture
def free_port_url() -> str:
    from tests.support.daphne import free_port

    return f"redis://127.0.0.1:{free_port()}/0"
