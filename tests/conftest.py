"""Shared fixtures: alice and bob (learners), staff, logged-in clients."""


from __future__ import annotations

import uuid

import pytest
from django.test import Client

from accounts.models import User
from tutor.models import Assignment, Word, WordList

pytest_plugins = ["tests.support.fixtures"]

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_sideband_loop_in_the_test_process(settings):
    """The test process is not a server: it never runs the sideband's claiming loop, which would
    outlive the test that started it and claim later tests' calls. The daphne subprocesses
    the end-to-end tests start run it as a server does; tests/voice/test_sideband.py drives
    the loop's parts directly."""
    settings.SIDEBAND_IN_PROCESS = False


@pytest.fixture(autouse=True)
def own_cache(settings):
    """A cache of its own for each test (a fresh key prefix), so rate limits that one test
    (or an earlier run on the same Redis) used up do not refuse the next one."""
    settings.CACHES = {
        name: {**conf, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"} for name, conf in settings.CACHES.items()
    }


def make_user(email: str, **fields) -> User:
    return User.objects.create_user(email=email, password=PASSWORD, **fields)


TEACHER_APPS = ("accounts", "tutor")


def make_teacher(email: str, **fields) -> User:
    """Staff who are not superusers, with every permission on learners and learning data:
    what they see is cut to their own classes' learners (staff/scope.py)."""
    from django.contrib.auth.models import Permission

    teacher = make_user(email, is_staff=True, **fields)
    teacher.user_permissions.set(Permission.objects.filter(content_type__app_label__in=TEACHER_APPS))
    return teacher


@pytest.fixture
def alice(db) -> User:
    return make_user("alice@example.com", display_name="Alice", cefr_level="A2", target_language="es")


@pytest.fixture
def bob(db) -> User:
    return make_user("bob@example.com", display_name="Bob")


@pytest.fixture
def staff(db) -> User:
    return make_user("staff@example.com", display_name="Sam", is_staff=True, is_superuser=True)


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob) -> Client:
    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def spanish(db) -> WordList:
    word_list = WordList.objects.create(name="Spanish basics", language="es")
    for position, (term, meaning) in enumerate(
        [("gato", "cat"), ("perro", "dog"), ("casa", "house"), ("agua", "water")]
    ):
        Word.objects.create(word_list=word_list, term=term, meaning=meaning, position=position)
    return word_list


@pytest.fixture
def alice_words(alice, spanish) -> WordList:
    Assignment.objects.create(learner=alice, word_list=spanish)
    return spanish


@pytest.fixture(scope="session", autouse=True)
def drop_stray_connections(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end connections that daphne processes or async
    ORM threads left open, so PostgreSQL can drop it instead of leaving it behind."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql" or connection.settings_dict["NAME"] != connection.settings_dict["TEST"]["NAME"]:
        return  # not PostgreSQL, or no test database was made in this run
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
