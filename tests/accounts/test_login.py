import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_it_logs_in_with_email_and_password(client, alice):
    response = client.post("/accounts/login/", {"login": alice.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").context["user"] == alice


def test_it_refuses_a_wrong_password(client, alice):
    response = client.post("/accounts/login/", {"login": alice.email, "password": "wrong"})
    assert response.status_code == 200
    assert not response.wsgi_request.user.is_authenticated
    assert "not correct" in response.content.decode()


def test_an_inactive_user_cannot_log_in(client, alice):
    alice.is_active = False
    alice.save()
    client.post("/accounts/login/", {"login": alice.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session


def test_the_login_page_is_styled_by_the_site(client):
    body = client.get("/accounts/login/").content.decode()
    assert 'class="brand"' in body and "css/base.css" in body and "auth-card" in body
