"""Users that sign in through a daphne subprocess, and learners with a word list."""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher

from accounts.models import User
from tutor.models import Assignment, Word, WordList


def server_hashed_password(user: User, password: str) -> User:
    """Hash with the server's default hasher: daphne doesn't use the tests' fast one."""
    user.password = PBKDF2PasswordHasher().encode(password, PBKDF2PasswordHasher().salt())
    user.save(update_fields=["password"])
    return user


def learner_with_words(
    *, email: str, name: str, password: str, list_name: str, words: list[tuple[str, str]]
) -> User:
    """A Spanish A2 learner who can sign in through daphne, with one list of (term, meaning)."""
    learner = User.objects.create_user(email=email, display_name=name, target_language="es", cefr_level="A2")
    server_hashed_password(learner, password)
    word_list = WordList.objects.create(name=list_name, language="es")
    for position, (term, meaning) in enumerate(words):
        Word.objects.create(word_list=word_list, term=term, meaning=meaning, position=position)
    Assignment.objects.create(learner=learner, word_list=word_list)
    return learner
