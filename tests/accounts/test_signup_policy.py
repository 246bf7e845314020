"""Who may sign up, what a new learner gets, and what sign-up tells about other addresses."""

import httpx
import pytest
import respx
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from accounts.models import User

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-pass-phrase-9"
STANDIN_SECRETS = "http://testserver/standin/v1/realtime/client_secrets"
GOOD = {"value": "ek_browser_key", "expires_at": 1767225600, "session": {"type": "realtime"}}


def sign_up(client: Client, email: str):
    return client.post(
        "/accounts/signup/", {"email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )


@pytest.fixture
def upstream(settings):
    settings.REALTIME_BASE_URL = ""
    settings.STANDIN_API_KEY = "sk-standin-test-key-42"
    settings.OPENAI_API_KEY = ""
    with respx.mock(assert_all_called=False) as router:
        yield router.post(STANDIN_SECRETS).mock(return_value=httpx.Response(200, json=GOOD))


def mint(client: Client):
    return client.post("/tutor/token/", data=b"", content_type="application/json")


# --- voice minutes ---------------------------------------------------------------------------


def test_a_self_signed_up_learner_gets_the_signup_voice_minutes(client, settings):
    settings.SIGNUP_VOICE_MINUTES = 0
    sign_up(client, "carol@example.com")
    assert User.objects.get(email="carol@example.com").daily_voice_minutes == 0


def test_the_signup_voice_minutes_are_configurable(client, settings):
    settings.SIGNUP_VOICE_MINUTES = 7
    sign_up(client, "carol@example.com")
    assert User.objects.get(email="carol@example.com").daily_voice_minutes == 7


def test_an_unverified_learner_cannot_mint_a_key_and_is_told_why(client, settings, upstream):
    settings.SIGNUP_VOICE_MINUTES = 20
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    sign_up(client, "carol@example.com")
    assert client.session.get("_auth_user_id")  # optional: logged in straight away

    response = mint(client)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "email_unverified"
    assert "Confirm your email address" in response.json()["error"]["message"]
    assert not upstream.called
    User.objects.filter(email="carol@example.com").update(needs_onboarding=False)  # past the first run
    for page in ("/tutor/", "/"):
        body = client.get(page).content.decode()
        assert "data-voice-notice" in body and "Confirm your email address" in body
        assert 'href="/accounts/email/"' in body


def test_a_verified_learner_may_mint(client, settings, upstream):
    settings.SIGNUP_VOICE_MINUTES = 20
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    sign_up(client, "carol@example.com")
    EmailAddress.objects.filter(email="carol@example.com").update(verified=True)

    response = mint(client)

    assert response.status_code == 200, response.content
    assert "data-voice-notice" not in client.get("/tutor/").content.decode()


def test_without_verification_a_new_learner_may_mint_at_once(client, settings, upstream):
    settings.SIGNUP_VOICE_MINUTES = 20
    settings.ACCOUNT_EMAIL_VERIFICATION = "none"
    sign_up(client, "carol@example.com")
    assert mint(client).status_code == 200


def test_a_learner_without_minutes_sees_why_on_the_tutor_page(client, settings):
    settings.SIGNUP_VOICE_MINUTES = 0
    settings.ACCOUNT_EMAIL_VERIFICATION = "none"
    sign_up(client, "carol@example.com")
    body = client.get("/tutor/").content.decode()
    assert "Voice practice is not turned on for your account" in body


def test_a_learner_staff_created_with_a_password_may_mint(alice_client, alice, upstream, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    assert not EmailAddress.objects.filter(user=alice).exists()
    assert mint(alice_client).status_code == 200


def test_setting_a_password_from_an_emailed_link_verifies_the_address(client, alice):
    EmailAddress.objects.create(user=alice, email=alice.email, primary=True, verified=False)
    client.post("/accounts/password/reset/", {"email": alice.email})
    link = next(line for line in mail.outbox[-1].body.splitlines() if "/password/reset/key/" in line)
    form_url = client.get(link.strip()).url
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=alice).verified


# --- invitation only -------------------------------------------------------------------------


def test_invitation_mode_closes_the_signup_page(client, settings):
    settings.SIGNUP_MODE = "invitation"
    page = client.get("/accounts/signup/").content.decode()
    assert "invitation-only" in page and 'name="password1"' not in page

    sign_up(client, "carol@example.com")

    assert not User.objects.filter(email="carol@example.com").exists()
    assert mail.outbox == []
    assert 'href="/accounts/signup/"' not in client.get("/").content.decode()


def test_open_mode_offers_the_signup_page(client, settings):
    settings.SIGNUP_MODE = "open"
    assert 'href="/accounts/signup/"' in client.get("/").content.decode()


# --- enumeration -----------------------------------------------------------------------------


def answer(response) -> tuple:
    return response.status_code, response.get("Location"), response.wsgi_request.user.is_authenticated


def test_signing_up_with_a_known_or_an_unknown_address_looks_the_same(settings, alice):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    settings.ACCOUNT_PREVENT_ENUMERATION = True

    known = sign_up(Client(), alice.email)
    unknown = sign_up(Client(), "carol@example.com")

    assert answer(known) == answer(unknown) == (302, "/accounts/confirm-email/", False)
    assert "already registered" not in Client().get(known["Location"]).content.decode()
    # Each address got one email: the owner of the known one learns someone tried.
    assert sorted(m.to[0] for m in mail.outbox) == sorted([alice.email, "carol@example.com"])
    assert User.objects.filter(email=alice.email).count() == 1


def test_a_password_reset_for_a_known_or_an_unknown_address_looks_the_same(alice):
    known = Client().post("/accounts/password/reset/", {"email": alice.email})
    unknown = Client().post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert len(mail.outbox) == 2  # a link for alice, a "no account here" note for the other
