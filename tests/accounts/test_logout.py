import pytest

pytestmark = pytest.mark.django_db


def test_it_logs_out_on_post(alice_client):
    response = alice_client.post("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in alice_client.session


def test_get_asks_for_confirmation_and_keeps_the_session(alice_client):
    response = alice_client.get("/accounts/logout/")
    assert response.status_code == 200
    assert "_auth_user_id" in alice_client.session
