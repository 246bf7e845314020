import re

import pytest
from django.core import mail

pytestmark = pytest.mark.django_db


def test_it_resets_a_password_through_the_emailed_link(client, alice):
    response = client.post("/accounts/password/reset/", {"email": alice.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", mail.outbox[0].body).group(1)

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    form_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    response = client.post(form_url, {"password1": "brand-new-phrase-42", "password2": "brand-new-phrase-42"})
    assert response.status_code == 302

    alice.refresh_from_db()
    assert alice.check_password("brand-new-phrase-42")


def test_it_sends_nothing_for_an_unknown_email(client):
    client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert not any("/accounts/password/reset/key/" in m.body for m in mail.outbox)
