"""The tutor page itself (GET /tutor/): what it lists before a session starts."""

import pytest

pytestmark = pytest.mark.django_db


def test_it_lists_todays_focus_words_with_meanings_in_the_target_language(alice_client, alice_words):
    response = alice_client.get("/tutor/")

    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["focus_words"][:2] == [{"term": "gato", "meaning": "cat"}, {"term": "perro", "meaning": "dog"}]
    assert 'lang="es"' in html and ">gato<" in html and "cat" in html
    assert 'role="meter"' in html and 'aria-valuemin="0"' in html and 'aria-valuemax="100"' in html


def test_a_learner_without_words_is_told_there_is_nothing_to_focus_on(alice_client):
    response = alice_client.get("/tutor/")

    assert response.status_code == 200
    assert response.context["focus_words"] == []
    assert "No focus words yet" in response.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/tutor/")

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
