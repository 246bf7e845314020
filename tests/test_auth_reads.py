"""The session store and the backends that read in plain SQL (config/auth.py) admit exactly
whom Django's own would."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.models import Session
from django.utils import timezone

from config.auth import ModelBackend, SessionStore

pytestmark = pytest.mark.django_db


def signed_in(client, user, backend="config.auth.ModelBackend"):
    client.force_login(user, backend=backend)
    return client


def test_a_signed_in_learner_is_let_in(client, alice):
    assert signed_in(client, alice).get("/tutor/").status_code == 200


def test_a_session_signed_in_through_the_original_backends_still_works(client, alice):
    for backend in ("django.contrib.auth.backends.ModelBackend", "allauth.account.auth_backends.AuthenticationBackend"):
        client.logout()
        assert signed_in(client, alice, backend).get("/tutor/").status_code == 200


def test_an_expired_session_is_nobodys(client, alice):
    signed_in(client, alice)
    Session.objects.update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    response = client.get("/tutor/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_deactivated_learner_is_let_in_no_more(client, alice):
    signed_in(client, alice)
    alice.is_active = False
    alice.save()
    assert client.get("/tutor/").status_code == 302


def test_a_malformed_or_missing_user_id_is_nobody(alice):
    backend = ModelBackend()
    assert backend.get_user(alice.pk) == alice
    assert backend.get_user("not a number") is None
    assert backend.get_user(alice.pk + 1000) is None


def test_the_store_reads_what_it_saved():
    store = SessionStore()
    store[SESSION_KEY], store[BACKEND_SESSION_KEY], store[HASH_SESSION_KEY] = "7", "x", "h"
    store.save()
    again = SessionStore(store.session_key)
    assert again[SESSION_KEY] == "7"
    assert SessionStore("no-such-session-key-0000000000000").load() == {}
