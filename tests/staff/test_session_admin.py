"""Tutor sessions in the admin: minutes, item and flagged counts, the transcript, flagged items."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tutor.models import ConversationItem, TutorSession

pytestmark = pytest.mark.django_db

SESSIONS = "/admin/tutor/tutorsession/"
ITEMS = "/admin/tutor/conversationitem/"
START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def make_session(learner, *, minutes=None, **fields) -> TutorSession:
    if minutes is not None:
        fields.update(
            connected_at=START, ended_at=START + dt.timedelta(minutes=minutes), status="ended"
        )
    return TutorSession.objects.create(
        learner=learner, model="gpt-realtime", voice="marin", instructions="Be kind.", **fields
    )


def add_item(session, order, text, *, role="assistant", flagged=False, reason=""):
    return ConversationItem.objects.create(
        session=session,
        item_id=f"item_{session.pk}_{order}",
        role=role,
        text=text,
        order=order,
        flagged=flagged,
        flag_reason=reason,
    )


@pytest.fixture
def flagged_session(alice):
    session = make_session(alice, minutes=12.5)
    add_item(session, 1, "Hola", role="user")
    add_item(session, 2, "Something unkind", flagged=True, reason="blocked term: unkind")
    add_item(session, 3, "¡Muy bien!")
    return session


@pytest.fixture
def calm_session(bob):
    session = make_session(bob)
    add_item(session, 1, "Buenos días", role="user")
    return session


def session_row(body: str, session: TutorSession) -> str:
    [row] = [
        r
        for r in re.findall(r"<tr>.*?</tr>", body, flags=re.S)
        if f"/admin/tutor/tutorsession/{session.pk}/change/" in r
    ]
    return row


def test_the_list_shows_learner_status_minutes_items_and_flags(
    staff_client, flagged_session, calm_session
):
    body = staff_client.get(SESSIONS).content.decode()

    row = session_row(body, flagged_session)
    assert "alice@example.com" in row and "ended" in row
    assert re.search(r'field-minutes">12\.5<', row)
    assert re.search(r'field-item_count"><a href="[^"]+/transcript/">3</a><', row)
    assert "⚑ 1" in row
    assert f"session__id__exact={flagged_session.pk}&amp;flagged__exact=1" in row

    calm = session_row(body, calm_session)
    assert re.search(r'field-minutes">—<', calm)
    assert re.search(r'field-item_count"><a href="[^"]+/transcript/">1</a><', calm)
    assert re.search(r'field-flagged_count">0<', calm)


def test_it_filters_sessions_with_flagged_items(staff_client, flagged_session, calm_session):
    flagged = staff_client.get(SESSIONS, {"flagged": "yes"}).context["cl"].result_list
    calm = staff_client.get(SESSIONS, {"flagged": "no"}).context["cl"].result_list

    assert list(flagged) == [flagged_session]
    assert list(calm) == [calm_session]


def test_it_filters_sessions_with_a_key_whose_call_was_never_reported(staff_client, alice, calm_session):
    owing = make_session(alice, keys_unreported=1)

    unreported = staff_client.get(SESSIONS, {"call_reported": "no"}).context["cl"].result_list
    reported = staff_client.get(SESSIONS, {"call_reported": "yes"}).context["cl"].result_list
    assert [session.pk for session in unreported] == [owing.pk]
    assert [session.pk for session in reported] == [calm_session.pk]


def test_the_list_takes_the_same_number_of_queries_for_many_sessions(
    staff_client, alice, django_assert_max_num_queries, flagged_session
):
    with CaptureQueriesContext(connection) as few:
        staff_client.get(SESSIONS)
    for n in range(25):
        session = make_session(alice, minutes=n)
        add_item(session, 1, "hola", flagged=n % 2 == 0)

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert staff_client.get(SESSIONS).status_code == 200


def transcript_url(session, page=None):
    url = reverse("admin:tutor_tutorsession_transcript", args=[session.pk])
    return f"{url}?page={page}" if page else url


def test_the_transcript_highlights_flagged_items_in_order(staff_client, flagged_session):
    body = staff_client.get(transcript_url(flagged_session)).content.decode()

    assert body.index("Hola") < body.index("Something unkind") < body.index("¡Muy bien!")
    assert '<mark class="flagged-item">Something unkind</mark>' in body
    assert "⚑ blocked term: unkind" in body
    assert body.count('class="flagged-item"') == 1
    assert body.count('class="bubble role-user"') == 1
    assert body.count('class="bubble role-assistant flagged"') == 1
    assert "<form" not in body.split('id="content-main"')[1]  # read-only


def test_the_change_page_links_the_transcript_instead_of_listing_it(staff_client, flagged_session):
    body = staff_client.get(
        reverse("admin:tutor_tutorsession_change", args=[flagged_session.pk])
    ).content.decode()

    assert transcript_url(flagged_session) in body and "Read the transcript (3 items)" in body
    assert "Something unkind" not in body and 'id="items-group"' not in body


def test_tool_activity_is_collapsed(staff_client, alice):
    session = make_session(alice)
    ConversationItem.objects.create(
        session=session, item_id="call_1", role="assistant", kind="function_call", order=1,
        text='record_word_practice({"word":"gato","outcome":"correct"})',
    )
    ConversationItem.objects.create(
        session=session, item_id="out_1", role="tool", kind="function_call_output", order=2,
        text='{"recorded": true}',
    )
    body = staff_client.get(transcript_url(session)).content.decode()

    assert body.count('<li class="tool"') == 2 and body.count("<details>") == 2
    assert "<summary>Tool call" in body and "<summary>Tool result" in body
    assert "record_word_practice(" in body


def many_items(session, count, text="línea"):
    ConversationItem.objects.bulk_create(
        ConversationItem(
            session=session, item_id=f"item_{n}", role="user" if n % 2 else "assistant",
            text=f"{text} {n}", order=n, size=len(text) + 6,
        )
        for n in range(count)
    )


def test_the_newest_page_comes_first_and_older_pages_follow(staff_client, alice):
    session = make_session(alice)
    many_items(session, 120)

    newest = staff_client.get(transcript_url(session)).content.decode()
    oldest = staff_client.get(transcript_url(session, 3)).content.decode()

    assert "línea 119" in newest and "línea 70" in newest and "línea 69" not in newest
    assert newest.index("línea 70") < newest.index("línea 119")  # in conversation order
    assert "Page 1 of 3" in newest and "?page=2" in newest
    assert "línea 0" in oldest and "línea 19" in oldest and "línea 20" not in oldest


@pytest.mark.parametrize("page", ["abc", "0", "999", "-1"])
def test_a_page_number_out_of_range_shows_a_page(staff_client, alice, page):
    session = make_session(alice)
    many_items(session, 60)
    assert staff_client.get(transcript_url(session, page)).status_code == 200


def test_a_long_item_is_cut_on_the_page(staff_client, alice):
    session = make_session(alice)
    add_item(session, 1, "x" * 20_000)
    body = staff_client.get(transcript_url(session)).content.decode()

    assert "x" * 2_000 in body and "x" * 2_001 not in body and "20000 characters in all" in body


def test_a_session_of_ten_thousand_items_makes_a_small_page_in_few_queries(
    staff_client, alice, django_assert_max_num_queries
):
    session = make_session(alice)
    change_url = reverse("admin:tutor_tutorsession_change", args=[session.pk])
    add_item(session, 1, "Hola", role="user")
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get(transcript_url(session)).status_code == 200
    with CaptureQueriesContext(connection) as few_change:
        assert staff_client.get(change_url).status_code == 200
    many_items(session, 10_000)

    with django_assert_max_num_queries(len(few.captured_queries)):
        page = staff_client.get(transcript_url(session))
    with django_assert_max_num_queries(len(few_change.captured_queries)):
        change = staff_client.get(change_url)
    assert page.status_code == 200 and change.status_code == 200
    assert len(page.content) < 60_000 and len(change.content) < 60_000
    assert page.content.decode().count("<li class=\"bubble") == 50
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert staff_client.get(transcript_url(session, 150)).status_code == 200


def test_the_list_links_each_sessions_transcript(staff_client, flagged_session):
    body = staff_client.get(SESSIONS).content.decode()
    assert f'href="{transcript_url(flagged_session)}"' in body


def test_the_item_list_filters_flagged_items(staff_client, flagged_session, calm_session):
    response = staff_client.get(ITEMS, {"flagged__exact": "1"})

    assert [item.text for item in response.context["cl"].result_list] == ["Something unkind"]
    body = response.content.decode()
    assert "⚑ blocked term: unkind" in body
    assert "alice@example.com" in body


def test_the_item_list_offers_the_flagged_filter(staff_client, flagged_session):
    body = staff_client.get(ITEMS).content.decode()

    assert "By flagged" in body and "?flagged__exact=1" in body


@pytest.mark.parametrize("who", ["alice", "anonymous"])
def test_learners_and_visitors_are_sent_to_the_admin_login(
    who, alice_client, client, flagged_session
):
    visitor = alice_client if who == "alice" else client
    urls = [
        SESSIONS,
        f"{SESSIONS}?flagged=yes",
        reverse("admin:tutor_tutorsession_change", args=[flagged_session.pk]),
        transcript_url(flagged_session),
        f"{ITEMS}?flagged__exact=1",
        reverse("admin:tutor_conversationitem_change", args=[flagged_session.items.first().pk]),
    ]
    for url in urls:
        response = visitor.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url


def test_items_the_server_never_saw_on_a_watched_call_are_marked_unverified(staff_client, alice):
    from django.utils import timezone

    session = TutorSession.objects.create(
        learner=alice, model="m", voice="v", instructions="", sideband_joined_at=timezone.now()
    )
    session.items.create(item_id="seen", role="assistant", text="Hola, seen", order=1, verified=True)
    session.items.create(item_id="claimed", role="user", text="Page only", order=2, verified=False)
    page = staff_client.get(f"/admin/tutor/tutorsession/{session.pk}/transcript/").content.decode()
    seen, claimed = page.index("Hola, seen"), page.index("Page only")
    marks = [i for i in range(len(page)) if page.startswith('<span class="unverified-mark" title', i)]
    assert len(marks) == 1 and seen < marks[0] < claimed


def test_a_call_the_server_did_not_watch_says_so_once(staff_client, alice):
    session = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")
    session.items.create(item_id="a", role="user", text="hola", order=1)
    page = staff_client.get(f"/admin/tutor/tutorsession/{session.pk}/transcript/").content.decode()
    assert "The server did not watch this call" in page
    assert '<span class="unverified-mark" title' not in page


def test_status_model_and_end_reason_are_read_only(staff_client, alice):
    session = TutorSession.objects.create(
        learner=alice, model="gpt-realtime", voice="v", instructions="", status="ended", end_reason="ended"
    )
    page = staff_client.get(f"/admin/tutor/tutorsession/{session.pk}/change/").content.decode()
    for name in ("status", "model", "end_reason", "learner"):
        assert f'name="{name}"' not in page
    staff_client.post(
        f"/admin/tutor/tutorsession/{session.pk}/change/",
        {"status": "live", "model": "forged", "end_reason": "forged", "instructions": "x"},
    )
    session.refresh_from_db()
    assert (session.status, session.model, session.end_reason) == ("ended", "gpt-realtime", "ended")
