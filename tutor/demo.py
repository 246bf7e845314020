"""Demo data: a staff user, two learners in a class, word lists, progress and grades.

Idempotent: running it again changes nothing that is already there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db import transaction

from accounts.models import User
from common import clock
from tutor.models import Assignment, Classroom, TestResult, Word, WordList, WordProgress
from tutor.practice import word_practice_record

STAFF_PASSWORD = "parlance-staff"
LEARNER_PASSWORD = "parlance-demo"

WORD_LISTS = {
    "Spanish basics": (
        "es",
        "Everyday words for a first conversation.",
        [
            ("gato", "cat", "El gato duerme en la silla.", "noun"),
            ("perro", "dog", "Mi perro se llama Toby.", "noun"),
            ("casa", "house", "Mi casa es pequeña.", "noun"),
            ("agua", "water", "Quiero un vaso de agua.", "noun"),
            ("libro", "book", "Estoy leyendo un libro.", "noun"),
            ("comer", "to eat", "Vamos a comer a las dos.", "verb"),
            ("hablar", "to speak", "Me gusta hablar español.", "verb"),
            ("grande", "big", "La ciudad es muy grande.", "adjective"),
            ("rojo", "red", "Tengo un coche rojo.", "adjective"),
            ("gracias", "thank you", "Muchas gracias por tu ayuda.", "phrase"),
        ],
    ),
    "Spanish travel": (
        "es",
        "Getting around: stations, hotels and the beach.",
        [
            ("tren", "train", "El tren sale a las ocho.", "noun"),
            ("billete", "ticket", "Necesito un billete de ida y vuelta.", "noun"),
            ("hotel", "hotel", "El hotel está cerca de la playa.", "noun"),
            ("playa", "beach", "Pasamos el día en la playa.", "noun"),
            ("maleta", "suitcase", "Mi maleta es azul.", "noun"),
            ("viajar", "to travel", "Me encanta viajar en verano.", "verb"),
        ],
    ),
}


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    role: str


# (learner email, display name, level, lists, per-word history, grades). A word's history is
# its flashcard reviews, oldest first: (days ago, rating 1-4 = again, hard, good, easy).
LEARNERS = [
    (
        "alice@parlance.test",
        "Alice",
        "A2",
        ["Spanish basics", "Spanish travel"],
        {
            "gato": [(90, 3), (89.99, 3), (87, 3), (77, 3), (47, 3)],
            "perro": [(40, 3), (39.99, 3), (37, 3), (27, 3)],
            "casa": [(20, 3), (19.99, 3), (16, 3)],
            "agua": [(1, 2), (0.99, 3)],
            "libro": [(3, 1), (2.99, 3), (2, 1)],
            "comer": [(2, 1)],
        },
        [(7, 10, "Spanish basics", 12), (8, 10, "Spanish basics", 5), (4, 6, "Spanish travel", 1)],
    ),
    (
        "bob@parlance.test",
        "Bob",
        "A1",
        ["Spanish basics"],
        {"gato": [(1, 3)], "perro": [(1, 1)]},
        [(5, 10, "Spanish basics", 3)],
    ),
]


def _user(email: str, *, password: str, **fields) -> User:
    user, created = User.objects.get_or_create(email=email, defaults=fields)
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


@transaction.atomic
def demo_seed(*, now: dt.datetime | None = None) -> list[DemoLogin]:
    now = now or clock.now()
    lists: dict[str, WordList] = {}
    for name, (language, description, words) in WORD_LISTS.items():
        word_list, _ = WordList.objects.get_or_create(
            name=name, defaults={"language": language, "description": description}
        )
        lists[name] = word_list
        for position, (term, meaning, example, pos) in enumerate(words):
            Word.objects.get_or_create(
                word_list=word_list,
                term=term,
                defaults={"meaning": meaning, "example": example, "part_of_speech": pos, "position": position},
            )

    logins = [DemoLogin("staff@parlance.test", STAFF_PASSWORD, "staff")]
    staff = _user(
        "staff@parlance.test",
        password=STAFF_PASSWORD,
        display_name="Sam (teacher)",
        is_staff=True,
        is_superuser=True,
    )
    classroom, _ = Classroom.objects.get_or_create(name="Demo class")
    classroom.teachers.add(staff)
    for email, name, level, list_names, plan, results in LEARNERS:
        learner = _user(
            email, password=LEARNER_PASSWORD, display_name=name, cefr_level=level, target_language="es"
        )
        logins.append(DemoLogin(email, LEARNER_PASSWORD, "learner"))
        classroom.learners.add(learner)
        for list_name in list_names:
            Assignment.objects.get_or_create(learner=learner, word_list=lists[list_name])
        for term, history in plan.items():
            word = Word.objects.get(word_list=lists["Spanish basics"], term=term)
            if WordProgress.objects.filter(learner=learner, word=word).exists():
                continue
            for days_ago, rating in history:
                word_practice_record(
                    learner=learner, word=word, rating=rating, now=now - dt.timedelta(days=days_ago)
                )
        for score, max_score, list_name, days_ago in results:
            TestResult.objects.get_or_create(
                learner=learner,
                word_list=lists[list_name],
                score=score,
                max_score=max_score,
                source=TestResult.Source.WRITTEN,
                defaults={"taken_at": now - dt.timedelta(days=days_ago)},
            )
    return logins
