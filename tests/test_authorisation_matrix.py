"""Every URL of the project × anonymous / learner A / learner B / staff, with the expected status.

The URLs come from the resolver, so a new URL without a row here fails
``test_every_url_has_an_expectation``. Learner A owns the session, test result and the other
objects in the URLs; learner B is another learner; staff is a superuser who is not their owner.
A cell is the status of one request with redirects not followed: 302 to a login page is how
a page says "sign in first", 404 is how it hides someone else's object.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
import respx
from allauth.account.models import EmailAddress
from channels.testing import WebsocketCommunicator
from django.contrib.admin.sites import site as admin_site
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connections
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from config.asgi import application
from tests.support.sockets import socket_connect
from tutor.models import (
    Classroom,
    ClassroomList,
    ConversationItem,
    OralQuiz,
    Review,
    TestResult,
    TutorSession,
    WordProgress,
)

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "learner_a", "learner_b", "staff")
STANDIN_KEY = "sk-standin-matrix-test"


def row(anonymous: int, learner_a: int, learner_b: int, staff: int) -> dict[str, int]:
    return dict(zip(ROLES, (anonymous, learner_a, learner_b, staff)))


PUBLIC = row(200, 200, 200, 200)
SIGNED_IN = row(302, 200, 200, 200)  # anonymous visitors are sent to the login page
OWN_ONLY = row(302, 200, 404, 404)  # learner A's object: everyone else gets "not found"
STAFF_ONLY = row(302, 302, 302, 200)  # the admin sends non-staff to its login page
STAFF_REDIRECT = row(302, 302, 302, 302)
GUESTS_ONLY = row(200, 302, 302, 302)  # sign-in pages: signed-in users are sent on
NOT_ALLOWED = row(405, 405, 405, 405)
BEARER_ONLY = row(401, 401, 401, 401)  # the stand-in wants its bearer key, not a session
STRICT_CALLS = row(401, 201, 404, 404)  # POST /tutor/calls/ with REALTIME_CALL_SETUP=server
OFFER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


# --- The admin's model pages: every registered model must be listed ------------------------

# Staff may list, add, change, delete and see the history of each; nobody else sees any of it.
ADMIN_MODELS = [
    "auth/group",
    "account/emailaddress",
    "accounts/user",
    "tutor/wordlist",
    "tutor/word",
    "tutor/assignment",
    "tutor/wordprogress",
    "tutor/testresult",
    "tutor/tutorsession",
    "tutor/conversationitem",
    "tutor/review",
    "tutor/oralquiz",
    "tutor/classroom",
]


def _admin_model_rows() -> dict[str, dict]:
    rows = {}
    for model in ADMIN_MODELS:
        base = f"admin/{model}/"
        rows[base] = {"GET": STAFF_ONLY}
        rows[base + "add/"] = {
            "GET": STAFF_ONLY,
            "POST": STAFF_ONLY,
        }  # POST: the form again, with errors
        rows[base + "<path:object_id>/change/"] = {"GET": STAFF_ONLY, "POST": STAFF_ONLY}
        rows[base + "<path:object_id>/delete/"] = {"GET": STAFF_ONLY}
        rows[base + "<path:object_id>/history/"] = {"GET": STAFF_ONLY}
        rows[base + "<path:object_id>/"] = {"GET": STAFF_REDIRECT}  # to the change page
    return rows


# --- Every URL: route pattern -> {method: row} -----------------------------------------------

EXPECTED: dict[str, dict[str, dict[str, int]]] = {
    "healthz": {"GET": PUBLIC},
    # Learner pages
    "": {"GET": PUBLIC},  # the landing page, or the learner's dashboard
    "tutor/": {"GET": SIGNED_IN},
    "sessions/<int:session_id>/": {"GET": OWN_ONLY},
    "review/": {"GET": SIGNED_IN},
    "review/grade/": {"GET": row(302, 405, 405, 405), "POST": row(302, 400, 400, 400)},
    "test/": {"GET": SIGNED_IN},
    "test/submit/": {"GET": row(302, 405, 405, 405), "POST": row(302, 400, 400, 400)},
    "test/results/<int:result_id>/": {"GET": OWN_ONLY},
    # The learner's own set-up: everything is the signed-in user's, so no ids to forge; an
    # empty form is refused with its errors.
    "start/": {"GET": SIGNED_IN, "POST": row(302, 400, 400, 400)},
    "start/placement/": {"GET": SIGNED_IN, "POST": row(302, 400, 400, 400)},
    "lists/": {"GET": SIGNED_IN},
    "lists/starter/": {"GET": row(302, 405, 405, 405), "POST": row(302, 302, 302, 302)},
    "lists/import/": {"GET": row(302, 405, 405, 405), "POST": row(302, 400, 400, 400)},
    "account/learning/": {"GET": SIGNED_IN, "POST": row(302, 400, 400, 400)},
    # A fresh key for A's session: JSON 401 for visitors, "not found" for anyone else's.
    "tutor/token/": {"GET": NOT_ALLOWED, "POST": row(401, 200, 404, 404)},
    # A's offer for a call the server creates: there only with REALTIME_CALL_SETUP=server
    # (the default is browser); that mode's row is STRICT_CALLS below.
    "tutor/calls/": {"GET": NOT_ALLOWED, "POST": row(401, 404, 404, 404)},
    # The Realtime stand-in: an API with bearer keys, the same for every signed-in user.
    "standin/v1/realtime/client_secrets": {"GET": NOT_ALLOWED, "POST": BEARER_ONLY},
    "standin/v1/realtime/calls": {"GET": NOT_ALLOWED, "POST": BEARER_ONLY},
    "standin/v1/realtime/calls/<str:call_id>/hangup": {"GET": NOT_ALLOWED, "POST": BEARER_ONLY},
    # Accounts (allauth)
    "accounts/login/": {"GET": GUESTS_ONLY},
    "accounts/logout/": {"GET": row(302, 200, 200, 200), "POST": row(302, 302, 302, 302)},
    "accounts/inactive/": {"GET": PUBLIC},
    "accounts/signup/": {"GET": GUESTS_ONLY},
    "accounts/reauthenticate/": {"GET": SIGNED_IN},
    # Re-authentication by an emailed code (allauth 65.22): offered to a user with an address on
    # record (learner A's), the others are sent back to the password form; confirming a code
    # that was never sent goes back to asking for one.
    "accounts/reauthenticate/code/": {"GET": row(302, 200, 302, 302), "POST": row(302, 200, 302, 302)},
    "accounts/reauthenticate/code/confirm/": {"GET": STAFF_REDIRECT, "POST": STAFF_REDIRECT},
    "accounts/email/": {
        "GET": SIGNED_IN,
        "POST": row(302, 302, 302, 302),
    },  # no action: back to the page
    "accounts/confirm-email/": {"GET": PUBLIC},
    "accounts/password/change/": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "accounts/password/set/": {"GET": row(302, 302, 302, 302)},  # they all have a password
    "accounts/password/reset/": {"GET": PUBLIC},
    "accounts/login/code/confirm/": {"GET": row(302, 302, 302, 302)},
    "accounts/^confirm-email/(?P<key>[-:\\w]+)/$": {"GET": PUBLIC},  # a bogus key: "invalid link"
    "accounts/password/reset/key/done/": {"GET": PUBLIC},
    "accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": {
        "GET": PUBLIC
    },  # bad token page
    "accounts/password/reset/done/": {"GET": PUBLIC},
    # The admin
    "admin/": {"GET": STAFF_ONLY},
    "admin/login/": {"GET": row(200, 200, 200, 302)},  # non-staff see "not authorised" and the form
    "admin/logout/": {"GET": row(302, 302, 302, 405), "POST": row(302, 302, 302, 200)},
    "admin/password_change/": {"GET": STAFF_ONLY, "POST": STAFF_ONLY},
    "admin/password_change/done/": {"GET": STAFF_ONLY},
    "admin/autocomplete/": {"GET": row(302, 302, 302, 403)},  # no field named: refused
    "admin/jsi18n/": {"GET": STAFF_ONLY},
    "admin/r/<path:content_type_id>/<path:object_id>/": {
        "GET": row(302, 302, 302, 404)
    },  # users have no public page
    "admin/^(?P<app_label>account|accounts|auth|tutor)/$": {"GET": STAFF_ONLY},
    "admin/(?P<url>.*)$": {"GET": row(302, 302, 302, 404)},  # the admin's catch-all
    "admin/accounts/user/<id>/password/": {"GET": STAFF_ONLY, "POST": STAFF_ONLY},
    "admin/tutor/wordlist/import/": {"GET": STAFF_ONLY, "POST": STAFF_ONLY},
    "admin/tutor/wordlist/import/template.csv": {"GET": STAFF_ONLY},
    "admin/tutor/tutorsession/usage/": {"GET": STAFF_ONLY},
    "admin/tutor/tutorsession/<int:session_id>/transcript/": {"GET": STAFF_ONLY},
    "admin/tutor/classroom/<int:classroom_id>/overview/": {"GET": STAFF_ONLY},
    "admin/tutor/classroom/<int:classroom_id>/invite/": {"GET": STAFF_ONLY, "POST": STAFF_ONLY},
    "admin/tutor/classroom/invite-template.csv": {"GET": STAFF_ONLY},
    **_admin_model_rows(),
    # A session is the server's record: every field is read-only, so a POST saves nothing and
    # goes back to the list.
    "admin/tutor/tutorsession/<path:object_id>/change/": {"GET": STAFF_ONLY, "POST": STAFF_REDIRECT},
}


def url_patterns() -> list[str]:
    """Every route of the project, as one string per pattern (prefixes joined)."""

    def walk(patterns, prefix: str):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern)

    def canonical(pattern: str) -> str:  # the admin lists its apps in registration order
        return re.sub(
            r"\(\?P<app_label>([^)]*)\)",
            lambda m: "(?P<app_label>" + "|".join(sorted(m.group(1).split("|"))) + ")",
            pattern,
        )

    return list(dict.fromkeys(canonical(p) for p in walk(get_resolver().url_patterns, "")))


# --- The world the URLs point into --------------------------------------------------------


@pytest.fixture
def world(alice, bob, staff, alice_words):
    word = alice_words.words.first()
    session = TutorSession.objects.create(
        learner=alice,
        model="gpt-realtime",
        voice="marin",
        instructions="Focus words: gato",
        focus_words=["gato"],
    )
    result = TestResult.objects.create(learner=alice, word_list=alice_words, score=1, max_score=2)
    objects = {
        "auth/group": Group.objects.create(name="Teachers"),
        "account/emailaddress": EmailAddress.objects.create(
            user=alice, email=alice.email, verified=True, primary=True
        ),
        "accounts/user": alice,
        "tutor/wordlist": alice_words,
        "tutor/word": word,
        "tutor/assignment": alice.assignments.first(),
        "tutor/wordprogress": WordProgress.objects.create(learner=alice, word=word),
        "tutor/testresult": result,
        "tutor/tutorsession": session,
        "tutor/conversationitem": ConversationItem.objects.create(
            session=session, item_id="item_1", role="user", text="hola"
        ),
        "tutor/review": Review.objects.create(learner=alice, word=word, outcome="correct"),
        "tutor/oralquiz": OralQuiz.objects.create(session=session, words=["gato"]),
        "tutor/classroom": _class_of(alice, "Class A", alice_words),
    }
    return {"session": session, "result": result, "objects": objects, "users": (alice, bob, staff)}


def _class_of(learner, name: str, word_list) -> Classroom:
    classroom = Classroom.objects.create(name=name)
    classroom.learners.add(learner)
    ClassroomList.objects.create(classroom=classroom, word_list=word_list)
    return classroom


def concrete_path(pattern: str, world: dict) -> str:
    """A real path for ``pattern``, pointing at learner A's objects."""
    fixed = {
        "accounts/^confirm-email/(?P<key>[-:\\w]+)/$": "/accounts/confirm-email/not-a-real-key/",
        "accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": "/accounts/password/reset/key/1-set-password/",
        "admin/^(?P<app_label>account|accounts|auth|tutor)/$": "/admin/tutor/",
        "admin/(?P<url>.*)$": "/admin/no-such-page/",
        "admin/r/<path:content_type_id>/<path:object_id>/": (
            f"/admin/r/{ContentType.objects.get_for_model(world['users'][0]).pk}/{world['users'][0].pk}/"
        ),
    }
    if pattern in fixed:
        return fixed[pattern]
    path = "/" + pattern
    path = path.replace("<int:session_id>", str(world["session"].pk))
    path = path.replace("<int:result_id>", str(world["result"].pk))
    path = path.replace("<str:call_id>", "rtc_not_a_call")
    path = path.replace("<int:classroom_id>", str(world["objects"]["tutor/classroom"].pk))
    path = path.replace("admin/accounts/user/<id>/", f"admin/accounts/user/{world['users'][0].pk}/")
    if "<path:object_id>" in path:
        model = re.match(r"/admin/(\w+/\w+)/", path).group(1)
        path = path.replace("<path:object_id>", str(world["objects"][model].pk))
    assert "<" not in path and "^" not in path, f"no concrete path for {pattern!r}"
    return path


def client_for(role: str, world: dict) -> Client:
    client = Client()
    users = dict(zip(ROLES[1:], world["users"]))
    if role in users:
        client.force_login(users[role])
    return client


def status_of(role: str, method: str, pattern: str, world: dict) -> int:
    client = client_for(role, world)
    path = concrete_path(pattern, world)
    if method == "GET":
        return client.get(path).status_code
    if pattern == "tutor/token/":
        return client.post(
            path,
            data=json.dumps({"session_id": world["session"].pk}),
            content_type="application/json",
        ).status_code
    if pattern == "tutor/calls/":
        return client.post(
            path,
            data=json.dumps({"session_id": world["session"].pk, "sdp": OFFER}),
            content_type="application/json",
        ).status_code
    return client.post(path, data={}).status_code


@pytest.fixture
def upstream(settings):
    """The stand-in's key endpoint faked at the HTTP layer; limits out of the way."""
    settings.REALTIME_BASE_URL = ""
    settings.STANDIN_API_KEY = STANDIN_KEY
    settings.OPENAI_API_KEY = ""
    settings.TUTOR_MINTS_PER_MINUTE = 1000
    with respx.mock(assert_all_called=False) as router:
        router.post("http://testserver/standin/v1/realtime/client_secrets").mock(
            return_value=httpx.Response(
                200, json={"value": "ek_matrix", "expires_at": 1767225600, "session": {}}
            )
        )
        yield router


# --- The tests ----------------------------------------------------------------------------


def test_every_url_has_an_expectation():
    missing = [pattern for pattern in url_patterns() if pattern not in EXPECTED]
    assert missing == [], "add a row to EXPECTED for each new URL: " + ", ".join(map(repr, missing))


def test_every_admin_model_is_listed():
    registered = {
        f"{model._meta.app_label}/{model._meta.model_name}" for model in admin_site._registry
    }
    assert registered == set(ADMIN_MODELS)


@pytest.mark.parametrize("pattern", [p for p in EXPECTED if p in set(url_patterns())])
def test_each_role_gets_the_expected_status(pattern, world, upstream):
    actual = {
        method: {role: status_of(role, method, pattern, world) for role in ROLES}
        for method in EXPECTED[pattern]
    }
    assert actual == EXPECTED[pattern]


def test_the_standin_opens_to_its_bearer_key_only(client, upstream):
    """The stand-in cells above are 401 for every session; its server key is what opens it."""
    respx.stop()  # talk to the real stand-in view, not the fake one
    response = client.post(
        "/standin/v1/realtime/client_secrets",
        data={},
        content_type="application/json",
        headers={"Authorization": f"Bearer {STANDIN_KEY}"},
    )
    assert response.status_code == 200 and response.json()["value"].startswith("ek_")
    hangup = client.post(
        "/standin/v1/realtime/calls/rtc_nope/hangup",
        headers={"Authorization": f"Bearer {STANDIN_KEY}"},
    )
    assert hangup.status_code == 404  # authorised; just no such call


# --- The conversation socket --------------------------------------------------------------

SOCKET_EXPECTED = {
    "anonymous": (False, 4401),
    "learner_a": (True, None),
    "learner_b": (False, 4404),
    "staff": (False, 4404),
}


@pytest.mark.django_db(transaction=True)
async def test_the_conversation_socket_opens_to_its_learner_only(alice, bob, staff):
    from asgiref.sync import sync_to_async

    session = await TutorSession.objects.acreate(
        learner=alice, model="m", voice="v", instructions=""
    )
    users = {"learner_a": alice, "learner_b": bob, "staff": staff}

    @sync_to_async
    def cookie_for(user) -> str:
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value

    actual = {}
    for role in ROLES:
        headers = [(b"origin", b"http://localhost:8000")]
        if role in users:
            headers.append((b"cookie", f"sessionid={await cookie_for(users[role])}".encode()))
        communicator = WebsocketCommunicator(
            application, f"/ws/tutor/sessions/{session.pk}/", headers=headers
        )
        actual[role] = await socket_connect(communicator)
        await communicator.disconnect()
    await sync_to_async(
        connections.close_all
    )()  # the async ORM's connection, before the test DB goes
    assert actual == SOCKET_EXPECTED


# --- CSRF: every state-changing request needs the form's token ----------------------------

# Not protected by the session's CSRF token, on purpose: the stand-in is an API with bearer
# keys (no cookies), refused here for want of one.
CSRF_EXEMPT = {pattern: 401 for pattern in EXPECTED if pattern.startswith("standin/")}


@pytest.mark.parametrize("pattern", [p for p in EXPECTED if "POST" in EXPECTED[p] and p in set(url_patterns())])
def test_a_post_without_the_csrf_token_is_refused(pattern, world, upstream):
    users = dict(zip(ROLES[1:], world["users"]))
    actual = {}
    for role in ROLES:
        client = Client(enforce_csrf_checks=True)
        if role in users:
            client.force_login(users[role])
        path = concrete_path(pattern, world)
        actual[role] = client.post(path, data={}).status_code
    expected = CSRF_EXEMPT.get(pattern, 403)
    assert actual == dict.fromkeys(ROLES, expected)


def test_the_csrf_pass_covers_every_post():
    posts = [p for p in EXPECTED if "POST" in EXPECTED[p]]
    assert len(posts) > 20 and set(CSRF_EXEMPT) <= set(posts)


# --- Staff with limited permissions --------------------------------------------------------

# A member of staff who may only view users: the user pages open read-only; everything else in
# the admin is refused (403) or hidden (404), and so are the exports (tests/staff).
VIEW_USER_ONLY_ADMIN = {
    "admin/": {"GET": 200},
    "admin/accounts/user/": {"GET": 200},
    "admin/accounts/user/add/": {"GET": 403, "POST": 403},
    "admin/accounts/user/<path:object_id>/change/": {"GET": 200, "POST": 403},
    "admin/accounts/user/<path:object_id>/delete/": {"GET": 403},
    "admin/accounts/user/<path:object_id>/history/": {"GET": 200},
    "admin/accounts/user/<id>/password/": {"GET": 403, "POST": 403},
    "admin/^(?P<app_label>account|accounts|auth|tutor)/$": {"GET": 404},  # /admin/tutor/: nothing to see
    "admin/tutor/wordlist/import/": {"GET": 403, "POST": 403},
    "admin/tutor/wordlist/import/template.csv": {"GET": 403},
    "admin/tutor/tutorsession/usage/": {"GET": 403},
    "admin/tutor/tutorsession/<int:session_id>/transcript/": {"GET": 403},
    "admin/tutor/classroom/<int:classroom_id>/overview/": {"GET": 403},
    "admin/tutor/classroom/<int:classroom_id>/invite/": {"GET": 403, "POST": 403},
    "admin/tutor/classroom/invite-template.csv": {"GET": 403},
    **{
        pattern: {method: 403 for method in methods}
        for pattern, methods in _admin_model_rows().items()
        if not pattern.startswith("admin/accounts/user/") and not pattern.endswith("<path:object_id>/")
    },
}


@pytest.fixture
def user_viewer(world):
    """A teacher of learner A's class who may only view users."""
    from django.contrib.auth.models import Permission

    from tests.conftest import make_user

    member = make_user("viewer@example.com", is_staff=True)
    member.user_permissions.set(Permission.objects.filter(codename="view_user"))
    world["objects"]["tutor/classroom"].teachers.add(member)
    return member


@pytest.mark.parametrize("pattern", list(VIEW_USER_ONLY_ADMIN))
def test_staff_who_may_only_view_users_get_no_further(pattern, world, upstream, user_viewer):
    client = Client()
    client.force_login(user_viewer)
    path = concrete_path(pattern, world)
    actual = {
        method: (client.get(path) if method == "GET" else client.post(path, data={})).status_code
        for method in VIEW_USER_ONLY_ADMIN[pattern]
    }
    assert actual == VIEW_USER_ONLY_ADMIN[pattern]


@pytest.mark.django_db(transaction=True)
def test_with_server_calls_only_the_owner_gets_a_call_for_her_session(world, upstream, settings):
    """The row of POST /tutor/calls/ when it is there: A's session has a mint to spend; B and
    staff get "not found" and spend nothing of it."""
    from django.utils import timezone

    from tutor.models import MintEvent

    settings.REALTIME_CALL_SETUP = "server"
    session = world["session"]
    TutorSession.objects.filter(pk=session.pk).update(keys_unreported=1)
    MintEvent.objects.create(learner=session.learner, session=session, created_at=timezone.now())
    upstream.post("http://testserver/standin/v1/realtime/calls").mock(
        return_value=httpx.Response(201, text=OFFER, headers={"Location": "/v1/realtime/calls/rtc_matrix"})
    )
    # Learner A last, so the others meet the session with its mint unspent.
    order = ("anonymous", "learner_b", "staff", "learner_a")
    actual = {role: status_of(role, "POST", "tutor/calls/", world) for role in order}
    assert actual == STRICT_CALLS
    assert TutorSession.objects.get(pk=session.pk).call_id == "rtc_matrix"


# --- Teachers: a teacher of class A against learner A's and learner B's rows ---------------

# Learner A is in class A, taught by teacher A; learner B is in class B, taught by teacher B.
# Teacher A has every permission on learners and learning data but is not a superuser: each
# cell is (status on learner A's object, status on learner B's). A hidden object is what the
# admin does for a missing one: 302 back to the index from its own pages, 404 from ours.
SHARED_MODELS = {"tutor/wordlist", "tutor/word"}  # the school's material: every teacher's
NO_ACCESS_MODELS = {"auth/group", "account/emailaddress"}  # teachers get no permission on them
BOTH = (200, 200)
OWN_CLASS = (200, 302)


def _teacher_model_rows() -> dict[str, dict[str, tuple[int, int]]]:
    rows = {}
    for model in ADMIN_MODELS:
        base = f"admin/{model}/"
        obj = base + "<path:object_id>/"
        if model in NO_ACCESS_MODELS:
            refused = (403, 403)
            rows.update({
                base: {"GET": refused},
                base + "add/": {"GET": refused, "POST": refused},
                obj + "change/": {"GET": refused, "POST": refused},
                obj + "delete/": {"GET": refused},
                obj + "history/": {"GET": refused},
            })
        else:
            own = BOTH if model in SHARED_MODELS else OWN_CLASS
            rows.update({
                base: {"GET": BOTH},
                base + "add/": {"GET": BOTH, "POST": BOTH},
                obj + "change/": {"GET": own, "POST": own},
                obj + "delete/": {"GET": own},
                obj + "history/": {"GET": own},
            })
        rows[obj] = {"GET": (302, 302)}
    return rows


TEACHER_EXPECTED = {
    "admin/": {"GET": BOTH},
    "admin/^(?P<app_label>account|accounts|auth|tutor)/$": {"GET": BOTH},
    "admin/accounts/user/<id>/password/": {"GET": (200, 404), "POST": (200, 404)},
    "admin/tutor/wordlist/import/": {"GET": BOTH, "POST": BOTH},
    "admin/tutor/wordlist/import/template.csv": {"GET": BOTH},
    "admin/tutor/tutorsession/usage/": {"GET": BOTH},  # B's rows left out: see below
    "admin/tutor/tutorsession/<int:session_id>/transcript/": {"GET": (200, 404)},
    "admin/tutor/classroom/<int:classroom_id>/overview/": {"GET": (200, 404)},
    "admin/tutor/classroom/<int:classroom_id>/invite/": {"GET": (200, 404), "POST": (200, 404)},
    "admin/tutor/classroom/invite-template.csv": {"GET": BOTH},
    **_teacher_model_rows(),
    "admin/tutor/tutorsession/<path:object_id>/change/": {"GET": OWN_CLASS, "POST": (302, 302)},
}
# The admin's pages that are the same for every member of staff (sign-in, password, the
# catch-all, the autocomplete's refusal without a field): nothing of a learner's in them.
NOT_A_LEARNERS_PAGE = {
    "admin/login/", "admin/logout/", "admin/password_change/", "admin/password_change/done/",
    "admin/autocomplete/", "admin/jsi18n/", "admin/r/<path:content_type_id>/<path:object_id>/",
    "admin/(?P<url>.*)$",
}


@pytest.fixture
def classes(world, bob, staff):
    from tests.conftest import make_teacher

    alice = world["users"][0]
    teacher_a = make_teacher("teacher.a@example.com")
    teacher_b = make_teacher("teacher.b@example.com")
    world["objects"]["tutor/classroom"].teachers.add(teacher_a)
    word_list = world["objects"]["tutor/wordlist"]
    from tutor.models import Assignment

    Assignment.objects.create(learner=bob, word_list=word_list)
    word = world["objects"]["tutor/word"]
    session = TutorSession.objects.create(
        learner=bob, model="gpt-realtime", voice="marin", instructions="", focus_words=[]
    )
    result = TestResult.objects.create(learner=bob, word_list=word_list, score=2, max_score=2)
    classroom_b = _class_of(bob, "Class B", word_list)
    classroom_b.teachers.add(teacher_b)
    other = {
        "session": session,
        "result": result,
        "users": (bob, alice, staff),
        "objects": {
            **world["objects"],
            "auth/group": Group.objects.create(name="Class B helpers"),
            "account/emailaddress": EmailAddress.objects.create(
                user=bob, email=bob.email, verified=True, primary=True
            ),
            "accounts/user": bob,
            "tutor/assignment": bob.assignments.first(),
            "tutor/wordprogress": WordProgress.objects.create(learner=bob, word=word),
            "tutor/testresult": result,
            "tutor/tutorsession": session,
            "tutor/conversationitem": ConversationItem.objects.create(
                session=session, item_id="item_b", role="user", text="hola"
            ),
            "tutor/review": Review.objects.create(learner=bob, word=word, outcome="correct"),
            "tutor/oralquiz": OralQuiz.objects.create(session=session, words=["gato"]),
            "tutor/classroom": classroom_b,
        },
    }
    return {"teacher_a": teacher_a, "teacher_b": teacher_b, "own": world, "other": other}


def test_every_staff_url_has_a_teacher_expectation():
    staff_urls = [p for p in url_patterns() if p.startswith("admin/") and p not in NOT_A_LEARNERS_PAGE]
    assert [p for p in staff_urls if p not in TEACHER_EXPECTED] == []


def _teacher_status(client: Client, method: str, pattern: str, world: dict) -> int:
    path = concrete_path(pattern, world)
    return (client.get(path) if method == "GET" else client.post(path, data={})).status_code


@pytest.mark.parametrize("pattern", list(TEACHER_EXPECTED))
def test_a_teacher_reaches_their_class_and_not_another(pattern, classes, upstream):
    client = Client()
    client.force_login(classes["teacher_a"])
    actual = {
        method: tuple(_teacher_status(client, method, pattern, classes[side]) for side in ("own", "other"))
        for method in TEACHER_EXPECTED[pattern]
    }
    assert actual == TEACHER_EXPECTED[pattern]


SCOPED_LISTS = [m for m in ADMIN_MODELS if m not in SHARED_MODELS | NO_ACCESS_MODELS]


@pytest.mark.parametrize("model", SCOPED_LISTS)
def test_a_teachers_lists_hold_only_their_learners_rows(model, classes):
    client = Client()
    client.force_login(classes["teacher_a"])
    shown = set(client.get(f"/admin/{model}/").context["cl"].result_list)
    assert classes["own"]["objects"][model] in shown
    assert classes["other"]["objects"][model] not in shown


EXPORTS = [
    ("accounts/user", "export_grades", "accounts/user"),
    ("accounts/user", "export_progress", "accounts/user"),
    ("tutor/testresult", "export_grades", "tutor/testresult"),
    ("tutor/wordprogress", "export_progress", "tutor/wordprogress"),
]


@pytest.mark.parametrize(("model", "action", "selected"), EXPORTS)
def test_a_teachers_exports_hold_only_their_learners_rows(model, action, selected, classes):
    client = Client()
    client.force_login(classes["teacher_a"])
    ids = [classes[side]["objects"][selected].pk for side in ("own", "other")]
    response = client.post(f"/admin/{model}/", {"action": action, "_selected_action": ids})
    text = b"".join(response.streaming_content).decode()
    assert "alice@example.com" in text and "bob@example.com" not in text


def test_a_teacher_exporting_only_anothers_learner_gets_nothing(classes):
    client = Client()
    client.force_login(classes["teacher_a"])
    bob = classes["other"]["users"][0]
    response = client.post(
        "/admin/accounts/user/", {"action": "export_grades", "_selected_action": [bob.pk]}
    )
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"bob@example.com" not in body


def test_a_teachers_usage_page_leaves_out_other_classes(classes):
    from django.utils import timezone

    for side in ("own", "other"):
        session = classes[side]["session"]
        session.connected_at = session.minted_at
        session.ended_at = session.minted_at + timezone.timedelta(minutes=3)
        session.status = TutorSession.Status.ENDED
        session.save()
    client = Client()
    client.force_login(classes["teacher_a"])
    emails = {row.learner_email for row in client.get("/admin/tutor/tutorsession/usage/").context["rows"]}
    assert emails == {"alice@example.com"}


def test_the_second_teacher_sees_only_their_class(classes):
    client = Client()
    client.force_login(classes["teacher_b"])
    names = [c.name for c in client.get("/admin/tutor/classroom/").context["cl"].result_list]
    assert names == ["Class B"]
