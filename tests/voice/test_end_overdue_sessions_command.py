import datetime as dt
from io import StringIO
from unittest.mock import Mock

import httpx
import pytest
import respx
from django.core.management import call_command
from django.utils import timezone

from voice.management.commands.end_overdue_sessions import Command
from tutor.models import MintEvent, TutorSession

pytestmark = pytest.mark.django_db(transaction=True)

STANDIN = "http://127.0.0.1:8000/standin/v1"


@pytest.fixture
def standin(settings):
    settings.REALTIME_BASE_URL = ""
    settings.REALTIME_STANDIN = True
    settings.STANDIN_API_KEY = "sk-standin-test"


def make(learner, *, call_id, hangup_in, status="live"):
    now = timezone.now()
    return TutorSession.objects.create(
        learner=learner, status=status, model="m", voice="v", instructions="", call_id=call_id,
        connected_at=now - dt.timedelta(minutes=30), hangup_at=now + dt.timedelta(minutes=hangup_in),
        upstream_base_url=STANDIN,
    )


def test_it_ends_overdue_sessions_and_hangs_up_their_calls(alice, bob, standin):
    overdue = make(alice, call_id="rtc_old", hangup_in=-5)
    running = make(bob, call_id="rtc_now", hangup_in=5)
    stdout = StringIO()
    with respx.mock(assert_all_called=False) as router:
        route = router.post(f"{STANDIN}/realtime/calls/rtc_old/hangup").mock(return_value=httpx.Response(200))
        other = router.post(f"{STANDIN}/realtime/calls/rtc_now/hangup").mock(return_value=httpx.Response(200))
        call_command("end_overdue_sessions", stdout=stdout)

    assert stdout.getvalue().strip() == f"Ended 1 overdue session: {overdue.pk}"
    assert route.call_count == 1 and route.calls.last.request.headers["authorization"] == "Bearer sk-standin-test"
    assert not other.called
    overdue.refresh_from_db()
    running.refresh_from_db()
    assert (overdue.status, overdue.end_reason, overdue.ended_at) == ("ended", "time_limit", overdue.hangup_at)
    assert running.status == "live"


def test_it_says_when_there_is_nothing_to_do(alice, standin):
    make(alice, call_id="rtc_x", hangup_in=-5, status="ended")
    stdout = Mock()
    Command(stdout=stdout).handle()
    stdout.write.assert_called_once_with("No overdue sessions.\n")


def test_its_help_says_what_it_does():
    assert "hang-up time" in Command.help and "time_limit" in Command.help


def test_it_prunes_mint_records_older_than_a_day(alice, standin):
    now = timezone.now()
    MintEvent.objects.create(learner=alice, created_at=now - dt.timedelta(days=2))
    kept = MintEvent.objects.create(learner=alice, created_at=now - dt.timedelta(minutes=1))
    call_command("end_overdue_sessions", stdout=StringIO())
    assert list(MintEvent.objects.all()) == [kept]
