"""Minting the browser's short-lived ``ek_`` key: for a new tutor session, or a resume of one.

``key_mint`` is all of ``POST /tutor/token/`` but the HTTP: it builds the tutor's plan (or, for
a resume, the session's own instructions with a recap of what was said), reserves the mint
against the limits (``voice.sessions.mint_reserve``), asks the Realtime API for the key with
the server's key, and takes the reservation back if the upstream refuses. Every refusal is a
``KeyRefused`` with the status and JSON error the page shows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.urls import reverse

from tutor.models import TutorSession, Word
from voice import realtime
from voice.instructions import focus_words_shown, session_config_build, tutor_plan_build
from voice.limits import TIME_LIMIT, LimitReached, limit_message
from voice.metering import CLOSED_STATUSES
from voice.resume import resume_instructions_build
from voice.sessions import mint_release, mint_reserve


class KeyRefused(Exception):
    """No key: ``message`` is for the learner, ``status`` and ``code`` for the JSON answer."""

    def __init__(self, status: int, message: str, code: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.extra = extra


@dataclass(frozen=True)
class MintedKey:
    session: TutorSession
    # None with REALTIME_CALL_SETUP=server: the mint is a reservation the page spends by
    # POSTing its offer to ``calls_url`` (/tutor/calls/), within the same life as a key.
    secret: realtime.ClientSecret | None = field(repr=False)
    calls_url: str
    # The session's focus words with their meanings, for the page's list.
    focus_words: list[dict[str, str]] = field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        """The JSON the page gets: the key, its session and where to call."""
        session = self.session
        secret = self.secret
        expires_at = secret.expires_at if secret else int(time.time()) + settings.REALTIME_TOKEN_TTL_SECONDS
        return {
            "call_setup": "browser" if secret else "server",
            "client_secret": secret.value if secret else "",
            "expires_at": expires_at,
            # The key's life by the server's clock, so a page with a wrong clock can judge it.
            "expires_in": max(0, expires_at - int(time.time())),
            "session_id": session.pk,
            "calls_url": self.calls_url,
            "model": session.model,
            "voice": session.voice,
            "socket_url": f"/ws/tutor/sessions/{session.pk}/",
            # The server runs the tutor's tools itself, over the call's sideband: the page
            # only shows them.
            "server_tools": settings.REALTIME_SIDEBAND,
            "focus_words": self.focus_words,
        }


def _resumable(session: TutorSession | None) -> TutorSession:
    """The learner's own open session (read with its row locked), or ``KeyRefused``."""
    if session is None:
        raise KeyRefused(404, "That tutor session does not exist.", "not_found")
    if session.status in CLOSED_STATUSES:
        if session.end_reason == TIME_LIMIT:
            raise KeyRefused(403, limit_message(session=session), TIME_LIMIT)
        raise KeyRefused(409, "That tutor session has ended; start a new one.", "session_ended")
    return session


def _new_session_fields(learner) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, str]]]:
    """The tutor's plan for a new session: the session config, the session's own fields, and
    its focus words with their meanings (for the page's list)."""
    plan = tutor_plan_build(learner=learner)
    config = plan.session_config
    return config, {
        "model": config["model"],
        "voice": config["audio"]["output"]["voice"],
        "instructions": plan.instructions,
        "focus_words": plan.focus_words,
    }, focus_words_shown(plan.focus)


def _focus_words_of(*, learner, session: TutorSession) -> list[dict[str, str]]:
    """The session's focus words (its own terms, in order) with their meanings from the
    learner's assigned lists (one query)."""
    terms = [term for term in session.focus_words if isinstance(term, str)] if isinstance(session.focus_words, list) else []
    meanings: dict[str, str] = {}
    rows = Word.objects.filter(word_list__assignments__learner=learner, term__in=terms).order_by("word_list__name", "position", "pk")
    for term, meaning in rows.values_list("term", "meaning"):
        meanings.setdefault(term, meaning)
    return [{"term": term, "meaning": meanings.get(term, "")} for term in terms]


def resume_config(*, learner, session: TutorSession) -> dict[str, Any]:
    """A resume: the same tutor, told what was said before the call dropped."""
    return session_config_build(
        instructions=resume_instructions_build(session=session),
        language=learner.target_language,
        model=session.model,
        voice=session.voice,
        transcribe_model=settings.REALTIME_TRANSCRIBE_MODEL,
    )


def _new_session_reserve(*, learner, upstream) -> tuple[dict[str, Any], TutorSession, list[dict[str, str]]]:
    config, new_session, focus = _new_session_fields(learner)
    return config, _reserve(learner=learner, upstream=upstream, session=None, new_session=new_session), focus


def _reserve(*, learner, upstream, session, new_session) -> TutorSession:
    try:
        return mint_reserve(
            learner=learner,
            upstream_base_url=upstream.base_url,
            session=session,
            new_session=new_session,
            resumable=_resumable,
        )
    except LimitReached as limit:
        extra = {"session_id": limit.session_id} if limit.session_id is not None else {}
        raise KeyRefused(limit.status, limit.message, limit.code, **extra) from None


def _mint_prepare(*, learner, request_read) -> tuple[dict[str, Any], TutorSession, bool, realtime.Upstream, list]:
    """Everything a mint does before the upstream call, on one worker thread: who asks (401 for
    nobody), what (``request_read``: the session id and the upstream, or ValueError), then the
    plan or the resume's config, and the reservation. The config, the session, whether it is
    new, the upstream, and the session's focus words with their meanings."""
    if not learner.is_authenticated:
        raise KeyRefused(401, "Please sign in to talk with the tutor.", "not_authenticated")
    session_id, upstream = request_read()
    if session_id is None:
        config, minted_for, focus = _new_session_reserve(learner=learner, upstream=upstream)
        return config, minted_for, True, upstream, focus
    # Counts this mint: the session checked and all limits, at once, under the learner's lock.
    requested = TutorSession(pk=session_id)  # read again, locked, by mint_reserve
    minted_for = _reserve(learner=learner, upstream=upstream, session=requested, new_session=None)
    config = resume_config(learner=learner, session=minted_for)
    return config, minted_for, False, upstream, _focus_words_of(learner=learner, session=minted_for)


async def key_mint(*, learner, request_read) -> MintedKey:
    """A key for a new session or for the learner's open session. ``learner`` may be the
    request's lazy user: it is read on the worker thread, with everything else the mint reads.
    ``request_read()`` gives the requested session id (None: a new session) and the upstream."""
    config, minted_for, new, upstream, focus = await sync_to_async(_mint_prepare)(
        learner=learner, request_read=request_read
    )
    if settings.REALTIME_CALL_SETUP == "server":
        # No key leaves the server: the page sends its offer to us (voice/call_setup.py).
        return MintedKey(session=minted_for, secret=None, calls_url=reverse("voice:calls"), focus_words=focus)
    try:
        secret = await realtime.client_secret_create(
            session_config=config,
            base_url=upstream.base_url,
            api_key=upstream.api_key,
            ttl_seconds=settings.REALTIME_TOKEN_TTL_SECONDS,
        )
    except realtime.RealtimeError as error:
        # No key was issued: a new session goes, a resume owes no call for it.
        await sync_to_async(mint_release)(session=minted_for, new=new)
        raise KeyRefused(error.status, error.message, error.code) from None
    return MintedKey(session=minted_for, secret=secret, calls_url=upstream.calls_url, focus_words=focus)
