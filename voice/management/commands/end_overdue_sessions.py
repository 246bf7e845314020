from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand

from common import clock
from voice.hangups import overdue_sessions_end


class Command(BaseCommand):
    help = (
        "End every tutor session that is still open although its hang-up time (its time limit) "
        "has passed, as after a server restart: mark it ended with reason time_limit at its "
        "hang-up time, tell its page if one is connected, and hang up its call at the Realtime "
        "API with the server key (a call already gone is only logged). Sessions without a "
        "hang-up time and sessions already ended are left alone. Safe to run at any time, e.g. "
        "from cron every minute."
    )

    def handle(self, *args, **options) -> None:
        ended = async_to_sync(overdue_sessions_end)(now=clock.now())
        if not ended:
            self.stdout.write("No overdue sessions.")
            return
        self.stdout.write(
            f"Ended {len(ended)} overdue session{'s' if len(ended) != 1 else ''}: "
            + ", ".join(str(session_id) for session_id in ended)
        )
