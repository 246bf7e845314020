import pytest
from django.core import mail

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_it_signs_up_a_learner_by_email(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "Carol@Example.com", "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"},
    )
    assert response.status_code == 302
    user = User.objects.get(email__iexact="carol@example.com")
    assert not user.is_staff and not user.is_superuser
    assert response.wsgi_request.user.is_authenticated
    assert len(mail.outbox) == 1  # the optional verification email


def test_it_refuses_mismatched_passwords(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "carol@example.com", "password1": "a-long-pass-phrase-9", "password2": "different-9"},
    )
    assert response.status_code == 200
    assert not User.objects.filter(email="carol@example.com").exists()


def test_it_refuses_a_taken_email(client, alice):
    client.post(
        "/accounts/signup/",
        {"email": alice.email, "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"},
    )
    assert User.objects.filter(email=alice.email).count() == 1


def test_mandatory_verification_keeps_the_new_user_out(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    response = client.post(
        "/accounts/signup/",
        {"email": "dan@example.com", "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"},
    )
    assert response.status_code == 302
    assert "confirm-email" in response["Location"]
    assert not response.wsgi_request.user.is_authenticated


def test_the_signup_page_uses_the_site_layout(client):
    response = client.get("/accounts/signup/")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'class="brand"' in body and "css/base.css" in body and "auth-card" in body
